"""Format modules on their own: the registry, TorchScript's reload check, and the CUDA-only paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seefood.errors import ExportError
from seefood.export.formats import EXPORTERS, ExportSpec, get_exporter
from seefood.export.formats import torchscript as ts_format
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec

META = ModelMeta("tiny", ("a", "b", "c"), get_spec("tiny").preprocessing)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("tiny", 3).eval()


def test_registry_keys_are_the_cli_values_and_formats() -> None:
    assert list(EXPORTERS) == ["torchscript", "onnx", "openvino", "tensorrt", "executorch"]
    for name, exporter in EXPORTERS.items():
        assert exporter.name == name and exporter.files and exporter.runtime_devices
    with pytest.raises(Exception, match="use one of torchscript, onnx, openvino, tensorrt, executorch"):
        get_exporter("coreml")


def test_torchscript_export_proves_the_written_file_reloads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = ExportSpec("fp32", "cpu", dynamic_batch=True)
    path = ts_format.export_torchscript(_model(), META, torch.randn(2, 3, 64, 64), tmp_path / "ok", spec)
    assert path.name == "model.pt" and ts_format.read_metadata(tmp_path / "ok") == META

    def cannot_load(*args: object) -> object:
        raise RuntimeError("PytorchStreamReader failed locating file constants.pkl")

    monkeypatch.setattr(ts_format, "load_torchscript", cannot_load)
    with pytest.raises(ExportError, match="does not reload"):
        ts_format.export_torchscript(_model(), META, torch.randn(2, 3, 64, 64), tmp_path / "bad", spec)


def test_unsupported_precisions_say_what_to_use() -> None:
    assert "--device cuda" in (EXPORTERS["torchscript"].unsupported("fp16", "cpu") or "")
    assert EXPORTERS["torchscript"].unsupported("fp16", "cuda") is None
    assert "openvino" in (EXPORTERS["onnx"].unsupported("fp16", "cpu") or "")
    assert EXPORTERS["openvino"].unsupported("fp16", "cpu") is None
    assert "--device cuda" in (EXPORTERS["tensorrt"].unsupported("fp32", "cpu") or "")


@pytest.mark.gpu
@cuda
def test_fp16_torchscript_on_cuda_takes_float32(tmp_path: Path) -> None:
    from seefood.export.metadata import write_sidecar
    from seefood.runtimes import load_runtime

    model = _model()
    spec = ExportSpec("fp16", "cuda", dynamic_batch=True)
    ts_format.export_torchscript(model, META, torch.randn(2, 3, 64, 64), tmp_path, spec)
    write_sidecar(tmp_path, META.evolve(format="torchscript", precision="fp16"))
    x = np.random.default_rng(0).standard_normal((3, 3, 64, 64)).astype(np.float32)
    got = load_runtime(tmp_path, device="cuda").run(x)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2 * np.abs(want).max())


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_tensorrt_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("torch_tensorrt", reason="torch_tensorrt is not installed")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from seefood.export.metadata import write_sidecar
    from seefood.runtimes import load_runtime

    model = _model()
    EXPORTERS["tensorrt"].export(model, META, torch.randn(2, 3, 64, 64), tmp_path, ExportSpec("fp16", "cuda", True))
    write_sidecar(tmp_path, META.evolve(format="tensorrt", precision="fp16"))
    x = np.random.default_rng(0).standard_normal((4, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(load_runtime(tmp_path, device="cuda").run(x).argmax(1), want.argmax(1))
