"""Runtimes: thread counts, precision_ran, batching, device errors, and no torch for ONNX/OpenVINO."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seefood.errors import BackendMissingError, ConfigError, ModelError
from seefood.runtimes import Runtime, load_runtime, resolve_threads, top_k
from seefood.runtimes.base import run_in_chunks

from .conftest import expected_logits, write_meta, write_onnx


def _batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, 8, 8), dtype=np.float32)


@pytest.mark.parametrize("fixture", ["onnx_artifact", "openvino_artifact"])
def test_runs_the_graph_with_the_threads_it_was_given(fixture: str, request: pytest.FixtureRequest) -> None:
    folder = request.getfixturevalue(fixture)
    runtime = load_runtime(folder, threads=1, exact=True)
    assert isinstance(runtime, Runtime)
    assert (runtime.threads, runtime.device, runtime.precision_ran) == (1, "cpu", "fp32")
    x = _batch(5)
    np.testing.assert_allclose(runtime.run(x), expected_logits(x), rtol=1e-5, atol=1e-5)
    runtime.sync()
    assert load_runtime(folder).threads == (os.cpu_count() or 1)  # default: every core


def test_openvino_records_the_precision_it_chose(openvino_artifact: Path) -> None:
    runtime = load_runtime(openvino_artifact, threads=1)  # no f32 hint: bf16 on CPUs that have it
    assert runtime.precision_ran in ("fp32", "bf16", "fp16")


def test_a_static_batch_model_takes_any_batch(tmp_path: Path) -> None:
    folder = write_onnx(tmp_path / "static", batch=1)
    x = _batch(3)
    np.testing.assert_allclose(load_runtime(folder, threads=1).run(x), expected_logits(x), rtol=1e-5, atol=1e-5)
    calls: list[int] = []
    run_in_chunks(lambda b: calls.append(len(b)) or b, x, 2)
    assert calls == [2, 1]


def test_top_k_uses_the_artifact_preprocessing(onnx_artifact: Path) -> None:
    red = np.zeros((20, 30, 3), np.uint8)
    red[..., 0] = 250
    blue = np.zeros((9, 9, 3), np.uint8)
    blue[..., 2] = 250
    ranked = top_k(load_runtime(onnx_artifact, threads=1), [red, blue], k=2)
    assert [r[0][0] for r in ranked] == ["red", "blue"] and len(ranked[0]) == 2
    assert 0.5 < ranked[0][0][1] <= 1.0


def test_device_errors_say_what_to_do(onnx_artifact: Path, openvino_artifact: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(BackendMissingError, match="onnxruntime-gpu"):
            load_runtime(onnx_artifact, device="cuda")
    with pytest.raises(ConfigError, match="cpu or cuda"):
        load_runtime(onnx_artifact, device="tpu")
    with pytest.raises(ConfigError, match="--device cpu"):
        load_runtime(openvino_artifact, device="cuda")
    with pytest.raises(ConfigError, match="threads must be >= 1"):
        resolve_threads(0)


def test_broken_or_unknown_folders_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="seefood export"):
        load_runtime(tmp_path)
    (tmp_path / "onnx").mkdir()
    write_meta(tmp_path / "onnx", "onnx")
    with pytest.raises(ModelError, match="export it again"):
        load_runtime(tmp_path / "onnx")
    (tmp_path / "x").mkdir()
    write_meta(tmp_path / "x", "coreml")
    with pytest.raises(ModelError, match="known are pytorch"):
        load_runtime(tmp_path / "x")


def test_tensorrt_runtime_is_gated(tmp_path: Path) -> None:
    try:
        import torch_tensorrt  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torch_tensorrt is installed")
    write_meta(tmp_path, "tensorrt", "fp16")
    with pytest.raises(BackendMissingError, match=r"pip install 'seefood\[tensorrt\]'"):
        load_runtime(tmp_path, device="cuda")


NO_TORCH = """
import json, sys
import numpy as np
from seefood.runtimes import load_runtime, top_k
for folder in json.loads(sys.argv[1]):
    rt = load_runtime(folder, threads=1)
    rt.run(np.zeros((2, 3, 8, 8), np.float32))
    top_k(rt, [np.zeros((8, 8, 3), np.uint8)], k=1)
leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps(leaked))
"""


def test_onnx_and_openvino_runtimes_never_import_torch(onnx_artifact: Path, openvino_artifact: Path) -> None:
    folders = json.dumps([str(onnx_artifact), str(openvino_artifact)])
    done = subprocess.run([sys.executable, "-c", NO_TORCH, folders], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
