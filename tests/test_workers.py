"""The worker-process policy: no DataLoader workers where OpenVINO / ONNX Runtime / AMX make them unsafe."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from seefood import workers
from seefood.workers import THREAD_POOL_BACKENDS, amx_permitted, loader_workers

SRC = Path(__file__).resolve().parents[1] / "src" / "seefood"


@pytest.fixture
def clean_process(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """This process as seen by the policy: no thread-pool backend imported, no AMX permitted."""
    for name in THREAD_POOL_BACKENDS:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(workers, "amx_permitted", lambda: False)
    return monkeypatch


def test_workers_are_kept_in_a_clean_process(clean_process: pytest.MonkeyPatch) -> None:
    assert loader_workers(3) == 3
    assert loader_workers(0) == 0


@pytest.mark.parametrize("backend", THREAD_POOL_BACKENDS)
def test_no_workers_once_a_thread_pool_backend_is_loaded(clean_process: pytest.MonkeyPatch, backend: str) -> None:
    clean_process.setitem(sys.modules, backend, types.ModuleType(backend))
    assert loader_workers(2) == 0
    assert backend in (workers.unsafe_for_workers() or "")


def test_no_workers_once_amx_is_permitted(clean_process: pytest.MonkeyPatch) -> None:
    clean_process.setattr(workers, "amx_permitted", lambda: True)
    assert loader_workers(4) == 0
    assert "AMX" in (workers.unsafe_for_workers() or "")


def test_amx_probe_agrees_with_the_cpu() -> None:
    """On a CPU without AMX (this project's AMD EPYC CI) the kernel can never permit it."""
    permitted = amx_permitted()
    assert isinstance(permitted, bool)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "amx_tile" not in cpuinfo.read_text():
        assert permitted is False


def test_training_loaders_follow_the_policy(clean_process: pytest.MonkeyPatch) -> None:
    import torch

    from seefood.train.distributed import DistEnv
    from seefood.train.loaders import eval_loader, train_loader

    dataset = torch.utils.data.TensorDataset(torch.zeros(4, 1))
    assert train_loader(dataset, 2, 2, False, 0, DistEnv())[0].num_workers == 2
    clean_process.setitem(sys.modules, "openvino", types.ModuleType("openvino"))
    assert train_loader(dataset, 2, 2, False, 0, DistEnv())[0].num_workers == 0
    assert eval_loader(dataset, 2, 2, False, DistEnv()).num_workers == 0


def test_every_dataloader_in_the_product_asks_the_policy() -> None:
    """A DataLoader built anywhere in src/ takes its worker count from loader_workers (one policy)."""
    calls = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        calls += [(path.name, m.group(0)) for m in re.finditer(r"DataLoader\((?:[^()]|\([^()]*\))*\)", text)]
    assert calls, "no DataLoader call found: update this test"
    unguarded = [(name, call) for name, call in calls if "num_workers=loader_workers(" not in call]
    assert not unguarded, unguarded
