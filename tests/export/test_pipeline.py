"""One full export of the tiny checkpoint to every CPU format (fp32, fp16, int8), then what it wrote."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from seefood.export import read_embedded_metadata
from seefood.export.config import ExportConfig
from seefood.export.pipeline import run_export
from seefood.export.report import ExportReport
from seefood.io import OUTPUTS_RECORD, sha256_file
from seefood.runtimes import ARTIFACT_META, load_runtime, read_artifact_meta
from tests.export.conftest import row_named

from .conftest import QUICK

pytestmark = pytest.mark.slow  # one ~20 s export shared by the module

# ExecuTorch is the `mobile` extra: its artifacts are expected only where it is installed
MOBILE = ("executorch-fp32", "executorch-int8") if importlib.util.find_spec("executorch") else ()
PASSING = ("torchscript-fp32", "onnx-fp32", "openvino-fp32", "openvino-fp16", "onnx-int8", "openvino-int8", *MOBILE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, sample_data: Path) -> ExportReport:
    """Every installed format, --fp16 and --int8; parity photos from the checkpoint's own dataset."""
    out = tmp_path_factory.mktemp("exported") / "export"
    # int8 of a random model is judged loosely here: this module checks the wiring, not quantisation quality
    config = ExportConfig(checkpoint=checkpoint, out=out, fp16=True, int8=True, calib_size=30,
                          min_agreement_int8=0.8, max_drop=25.0, **QUICK)
    return run_export(config)


def test_every_cpu_artifact_passes_and_the_rest_say_why(exported: ExportReport) -> None:
    for name in PASSING:
        assert row_named(exported, name).status == "passed", row_named(exported, name)
    assert row_named(exported, "torchscript-fp16").status == "skipped"
    assert "--device cuda" in (row_named(exported, "torchscript-fp16").reason or "")
    for precision in ("fp32", "fp16", "int8"):  # TensorRT is never installed here: skipped with the install line
        trt = row_named(exported, f"tensorrt-{precision}")
        assert trt.status == "skipped" and "pip install 'seefood[tensorrt]'" in (trt.reason or "")
    assert exported.ok


def test_layout_matches_what_bench_discovers(exported: ExportReport, checkpoint: Path, sample_data: Path) -> None:
    out = exported.out
    found = sorted(p.parent.name for p in out.glob(f"*/{ARTIFACT_META}"))
    assert found == sorted(PASSING)
    assert not (out / "failed").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [OUTPUTS_RECORD], "staging folders left behind"
    data = json.loads((out / "export.json").read_text())
    assert data["checkpoint"] == str(checkpoint.resolve())
    assert data["parity_data"] == str(sample_data.resolve())  # the checkpoint's dataset (its test split is used)
    assert [r["name"] for r in data["rows"]] == [r.name for r in exported.rows]
    assert data["config"]["threads"] == 1


@pytest.mark.parametrize("name", PASSING)
def test_metadata_is_embedded_and_in_the_sidecar(exported: ExportReport, checkpoint: Path, name: str) -> None:
    folder = exported.out / name
    sidecar = read_artifact_meta(folder)
    embedded = read_embedded_metadata(folder)
    if sidecar.format == "executorch":  # a .pte keeps no extra data: the sidecar is the metadata
        assert embedded is None
    else:
        assert embedded is not None and embedded.to_dict() == sidecar.to_dict()
    source = read_artifact_meta(checkpoint)
    assert sidecar.class_names == source.class_names
    assert sidecar.preprocessing == source.preprocessing
    assert (sidecar.format, sidecar.precision) == tuple(name.split("-"))
    assert sidecar.parent_sha256 == sha256_file(checkpoint / "model.safetensors")
    assert sidecar.parity is not None and sidecar.parity["passed"] is True
    assert sidecar.parity["n_images"] == 32
    assert "torch" in sidecar.versions and sidecar.extra["batch"] == "dynamic"


def test_int8_records_the_recipe_and_compares_speed_with_fp32(exported: ExportReport) -> None:
    for fmt in ("onnx", "openvino"):
        row = row_named(exported, f"{fmt}-int8")
        assert row.recipe and row.attempts[-1]["recipe"] == row.recipe and row.attempts[-1]["status"] == "passed"
        meta = read_artifact_meta(exported.out / row.name)
        assert meta.extra["int8"]["recipe"] == row.recipe
        assert any("fp32" in note for note in row.notes)  # says plainly whether int8 beats its fp32 sibling


def test_quick_latency_and_precision_ran_are_recorded(exported: ExportReport) -> None:
    for name in PASSING:
        row = row_named(exported, name)
        assert row.latency_ms is not None and row.latency_ms > 0 and row.precision_ran
        assert row.size_bytes is not None and row.size_bytes > 0
    fp32, fp16 = row_named(exported, "openvino-fp32"), row_named(exported, "openvino-fp16")
    assert fp16.size_bytes is not None and fp32.size_bytes is not None
    assert fp16.size_bytes < 0.7 * fp32.size_bytes  # fp16 weights really are stored in half


@pytest.mark.parametrize("name", PASSING)
def test_round_trip_predicts_like_pytorch(exported: ExportReport, checkpoint: Path, name: str) -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, size=(70 + 5 * i, 90, 3), dtype=np.uint8) for i in range(5)]
    reference = load_runtime(checkpoint, threads=1)
    artifact = load_runtime(exported.out / name, threads=1, exact=True)
    batch = reference.meta.preprocessing.batch(images)
    want, got = reference.run(batch), artifact.run(batch)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got.argmax(1), want.argmax(1))
    if name.endswith("fp32"):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_onnx_file_declares_opset_18_and_a_dynamic_batch(exported: ExportReport) -> None:
    import onnx

    from seefood.export.formats.onnx import onnx_opset

    path = exported.out / "onnx-fp32" / "model.onnx"
    assert onnx_opset(path) == 18
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, free batch axis


@pytest.mark.parametrize("architecture", ["effnet_lite2", "timm/mobilenetv3_small_050"])
def test_timm_models_export_to_every_cpu_format_with_parity(
    architecture: str, tmp_path: Path, sample_data: Path
) -> None:
    """timm-built models (TF 'same' padding, hard-swish, their own heads) export and pass the gate (64 px)."""
    import torch

    from seefood.checkpoint import save_checkpoint
    from seefood.metadata import ModelMeta
    from seefood.models import create_model, get_spec
    from tests.conftest import SAMPLE_CLASSES

    torch.manual_seed(0)
    model = create_model(architecture, len(SAMPLE_CLASSES), image_size=64).eval()
    with torch.no_grad():  # wide logit margins: bf16 rounding (OpenVINO on AVX-512 BF16 CPUs) must not flip them
        model.get_classifier().weight.mul_(20.0)
    meta = ModelMeta(architecture, SAMPLE_CLASSES, get_spec(architecture).preprocessing.with_size(64),
                     config={"data": str(sample_data)})
    checkpoint = save_checkpoint(tmp_path / "best", model, meta)
    report = run_export(ExportConfig(checkpoint=checkpoint, out=tmp_path / "export", **QUICK))
    rows = {r.name: r for r in report.rows}
    for name in ("torchscript-fp32", "onnx-fp32", "openvino-fp32", *MOBILE[:1]):
        assert rows[name].status == "passed", (name, rows[name].reason)
        assert rows[name].parity is not None and rows[name].parity["top1_agreement"] >= 0.99
    assert read_artifact_meta(tmp_path / "export" / "onnx-fp32").architecture == architecture
