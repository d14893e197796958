"""Format modules on their own: the format registry, TorchScript's reload check, and the CUDA-only paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seefood.errors import ConfigError, ExportError
from seefood.export.formats import EXPORTERS, ExportSpec, get_exporter
from seefood.export.formats import torchscript as ts_format
from seefood.export.quantize import INT8_RECIPES
from seefood.formats import (
    FORMATS,
    FormatSpec,
    export_formats,
    get_format,
    int8_formats,
    resolve,
    space_formats,
)
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.runtimes import RUNTIMES
from seefood.space.card import SPACE_FORMATS

META = ModelMeta("tiny", ("a", "b", "c"), get_spec("tiny").preprocessing)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("tiny", 3).eval()


def test_every_format_is_one_registry_record_and_the_tables_are_its_views() -> None:
    assert {"pytorch", "torchscript", "onnx", "openvino", "tensorrt", "executorch"} <= set(FORMATS)
    for name, spec in FORMATS.items():
        assert spec.name == name and spec.files and spec.runtime_devices and ":" in spec.runtime
        if spec.exporter is not None:
            assert resolve(spec.exporter) is EXPORTERS[name] and EXPORTERS[name].name == name
    assert FORMATS["pytorch"].exporter is None  # the checkpoint is the source, not an export target
    # the tables other code reads are the registry's, in registry order
    assert tuple(EXPORTERS) == export_formats() == tuple(n for n in FORMATS if n != "pytorch")
    assert RUNTIMES == {name: spec.runtime for name, spec in FORMATS.items()}
    assert tuple(INT8_RECIPES) == int8_formats() and tuple(SPACE_FORMATS) == space_formats() == ("onnx", "openvino")
    assert all(INT8_RECIPES[name] is resolve(str(FORMATS[name].int8_recipes)) for name in int8_formats())
    with pytest.raises(ConfigError, match="use one of " + ", ".join(export_formats())):
        get_exporter("coreml")
    with pytest.raises(ConfigError, match="use one of " + ", ".join(FORMATS)):
        get_format("coreml")


def test_the_runtimes_read_their_file_names_from_the_registry() -> None:
    from seefood.export.formats import openvino as ov_format
    from seefood.runtimes import onnx as ort_runtime

    assert ort_runtime.MODEL_FILE == get_format("onnx").files[0]
    assert (ts_format.MODEL_FILE, ov_format.WEIGHTS_FILE) == (get_format("torchscript").files[0], "model.bin")


def test_the_registry_and_export_validation_import_no_torch() -> None:
    code = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from seefood.export.config import ExportConfig\n"
        "from seefood.errors import ConfigError\n"
        "import seefood.cli.export\n"
        "ExportConfig(Path(tempfile.mkdtemp()), Path('out'), formats=('onnx', 'executorch'), int8=True,\n"
        "             int8_recipes=('ort-static',))\n"
        "try:\n"
        "    ExportConfig(Path(tempfile.mkdtemp()), Path('out'), formats=('coreml',))\n"
        "except ConfigError as exc:\n"
        "    assert 'coreml' in str(exc)\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_format_added_to_the_registry_is_validated_and_planned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Validation and the default format list read the registry itself: no other table to extend."""
    from seefood.export.config import ExportConfig

    monkeypatch.setitem(FORMATS, "fake", FormatSpec("fake", ("model.fake",), "tests.bench.fakes:FakeRuntime",
                                                     exporter=FORMATS["onnx"].exporter))
    assert export_formats()[-1] == "fake" and ExportConfig(tmp_path, tmp_path / "out", formats=("fake",))


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
