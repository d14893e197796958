"""The one thread policy: what threads=None means, and torch's pool set for a block and restored."""

from __future__ import annotations

import os

import pytest
import torch

from seefood.errors import ConfigError
from seefood.threads import default_threads, resolve_threads
from seefood.torch_threads import torch_threads


def test_the_default_is_what_the_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert default_threads() == resolve_threads(None) == 3  # the affinity mask, not os.cpu_count()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # torchrun's per-process share
    assert default_threads() == 2
    assert resolve_threads(4) == 4
    with pytest.raises(ConfigError, match="threads must be >= 1"):
        resolve_threads(0)


def test_torch_threads_sets_for_the_block_and_restores() -> None:
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with torch_threads(other) as used:
        assert used == other == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(other):
        raise RuntimeError("the block failed")
    assert torch.get_num_threads() == before
