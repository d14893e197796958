"""LiteRT (.tflite through litert-torch, run by ai_edge_litert): round trips through the parity gate, int8, the
operator record, predict, bench, and the error where the `litert` extra is not installed.

The `litert` extra is not in `all` (it downgrades pydantic / typing-extensions under gradio), so `make test`
runs only the gating tests here; the round trips run where `pip install 'seefood[litert]'` was done.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seefood.checkpoint import Checkpoint, load_checkpoint
from seefood.errors import BackendMissingError
from seefood.export.formats import EXPORTERS
from seefood.export.quantize import INT8_RECIPES
from seefood.export.report import ExportReport
from seefood.formats import get_format, resolve
from seefood.metadata import ModelMeta
from seefood.runtimes import load_runtime, read_artifact_meta
from tests.export.conftest import make_checkpoint, quick_int8_export, row_named

INSTALL = r"pip install 'seefood\[litert\]'"
_MISSING = [name for name in ("litert_torch", "ai_edge_litert") if importlib.util.find_spec(name) is None]
litert_missing = pytest.mark.skipif(
    bool(_MISSING), reason=f"{' and '.join(_MISSING)} not importable: pip install 'seefood[litert]' "
    "(not in seefood[all]: it downgrades pydantic and typing-extensions under gradio)",
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, sample_data: Path) -> ExportReport:
    """`seefood export --formats litert --int8` of the tiny checkpoint (read-only)."""
    return quick_int8_export(tmp_path_factory, checkpoint, sample_data, "litert")


@litert_missing
@pytest.mark.slow
def test_fp32_and_int8_programs_pass_the_gate_and_match_pytorch(
    exported: ExportReport, test_photos: tuple[np.ndarray, np.ndarray]
) -> None:
    batch, reference = test_photos
    for name, min_agreement in (("litert-fp32", 1.0), ("litert-int8", 0.9)):
        row = row_named(exported, name)
        assert row.status == "passed", row.reason
        assert row.parity["passed"] and row.size_bytes > 0 and row.latency_ms is not None
        runtime = load_runtime(exported.out / str(row.path), threads=1)
        assert (runtime.meta.format, runtime.meta.precision, runtime.precision_ran) == ("litert",) + (
            row.precision,) * 2
        logits = runtime.run(batch)  # 32 photos through a batch-of-one program
        assert logits.shape == reference.shape and logits.dtype == np.float32
        assert np.mean(logits.argmax(1) == reference.argmax(1)) >= min_agreement
        if row.precision == "fp32":
            np.testing.assert_allclose(logits, reference, rtol=1e-3, atol=1e-3 * np.abs(reference).max())
    int8 = row_named(exported, "litert-int8")
    assert int8.recipe == INT8_RECIPES["litert"][0].name == "litert-pt2e"
    assert int8.size_bytes < 0.5 * row_named(exported, "litert-fp32").size_bytes  # int8 weights


@litert_missing
@pytest.mark.slow
def test_the_operator_record_says_xnnpack_took_the_program(exported: ExportReport) -> None:
    for name, dtype in (("litert-fp32", "float32"), ("litert-int8", "int8")):
        meta = read_artifact_meta(exported.out / name)
        record = meta.extra["litert"]
        assert record["input_shape"] == [1, 3, 64, 64] and record["input_dtype"] == dtype
        assert record["xnnpack_partitions"] >= 1 and record["xnnpack_share"] >= 0.9, record
        assert (record["int8_ops"] > 0) == (dtype == "int8"), record
        assert not {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} & set(record["outside_xnnpack"]), record
        assert meta.parity and meta.parity["passed"]


@litert_missing
@pytest.mark.slow
def test_threads_are_the_interpreters_own_and_any_batch_runs(exported: ExportReport) -> None:
    one = load_runtime(exported.out / "litert-int8", threads=1)
    two = load_runtime(exported.out / "litert-int8", threads=2)
    assert (one.threads, two.threads) == (1, 2)
    x = np.random.default_rng(0).standard_normal((5, 3, 64, 64)).astype(np.float32)
    np.testing.assert_array_equal(one.run(x), two.run(x))  # int8 kernels: the same integers on any pool
    np.testing.assert_array_equal(one.run(x[:1]), one.run(x)[:1])


@litert_missing
@pytest.mark.slow
def test_predict_and_bench_cover_both_programs(exported: ExportReport, sample_data: Path, tmp_path: Path) -> None:
    from seefood.bench import BenchConfig, run_bench
    from seefood.runtimes.classify import PredictConfig, classify_files

    photos = tuple(sorted((sample_data / "test").rglob("*.jpg"))[:3])
    results = classify_files(PredictConfig(exported.out / "litert-int8", photos, top=2, threads=1))
    assert [r.path for r in results] == list(photos) and all(len(r.top) == 2 for r in results)
    config = BenchConfig(export_dirs=(exported.out,), data=sample_data, out=tmp_path / "bench", threads=1,
                         batch_sizes=(1, 4), min_runs=3, min_time_s=0.0, warmup=1, progress=False)
    rows = {(r.name, r.batch_size): r for r in run_bench(config).rows}
    for name in ("litert-fp32", "litert-int8"):
        for batch in (1, 4):
            row = rows[name, batch]
            assert row.ok, row.reason
            assert row.threads_ran == 1 and row.latency is not None and row.latency.p50_ms > 0
        assert abs(rows[name, 1].top1 - rows["pytorch-fp32", 1].top1) <= 10.0  # 32 photos: at most 3 flips


@litert_missing
@pytest.mark.slow
@pytest.mark.parametrize("recipe", INT8_RECIPES["litert"][1:], ids=lambda r: r.name)
def test_remedy_recipes_write_an_int8_program(
    recipe: Any, exported: ExportReport, tiny: Checkpoint, sample_data: Path,
    test_photos: tuple[np.ndarray, np.ndarray], tmp_path: Path,
) -> None:
    from seefood.export.calibration import calibration_batches
    from seefood.runtimes.litert import LiteRTRuntime

    calib = calibration_batches(sample_data, tiny.meta.preprocessing, n=32, seed=0)
    out = tmp_path / "int8"
    path = recipe.quantize(exported.out / "litert-fp32", copy.deepcopy(tiny.model), tiny.meta, calib, out)
    assert path == out / "model.tflite" and sorted(p.name for p in out.iterdir()) == ["model.tflite", "ops.json"]
    record = json.loads((out / "ops.json").read_text())
    full = read_artifact_meta(exported.out / "litert-int8").extra["litert"]
    # the stem stays float: the program takes float input and has fewer int8 operators than the default's
    assert record["input_dtype"] == "float32" and 0 < record["int8_ops"] < full["int8_ops"], (record, full)
    runtime = LiteRTRuntime(out, tiny.meta.evolve(format="litert", precision="int8"), threads=1)
    batch, reference = test_photos
    assert np.mean(runtime.run(batch).argmax(1) == reference.argmax(1)) >= 0.9


def test_a_recipe_that_quantises_nothing_is_an_export_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if _MISSING:
        pytest.skip(f"{' and '.join(_MISSING)} not importable: pip install 'seefood[litert]'")
    from seefood.errors import ExportError
    from seefood.export.quantize import litert as lt_quantize

    tiny_ckpt = load_checkpoint(make_checkpoint(tmp_path / "ckpt"))
    (tmp_path / "fp32").mkdir()
    (tmp_path / "fp32" / "model.tflite").write_bytes(b"")
    calib = [np.zeros((1, 3, 64, 64), np.float32)]

    def nothing(model: Any, settings: Any) -> Any:
        from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
        from litert_torch.quantize.quant_config import QuantConfig

        static = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        return PT2EQuantizer(), QuantConfig(pt2e_quantizer=static)  # annotates no node

    monkeypatch.setattr(lt_quantize, "build_quantizer", nothing)
    with pytest.raises(ExportError, match="no int8 operator"):
        lt_quantize.quantize_litert(tmp_path / "fp32", tiny_ckpt.model, tiny_ckpt.meta, calib, tmp_path / "out")
    assert not (tmp_path / "out" / "model.tflite").exists()


NO_TORCH = """
import json, sys
import numpy as np
from seefood.runtimes import load_runtime
rt = load_runtime(sys.argv[1], threads=1)
rt.run(np.zeros((2, 3, 64, 64), np.float32))
print(json.dumps(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))))
"""


@litert_missing
@pytest.mark.slow
def test_the_runtime_never_imports_torch(exported: ExportReport) -> None:
    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(exported.out / "litert-int8")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_missing_litert_says_how_to_install_it_and_why_it_is_not_in_all(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any, sample_data: Path, tiny: Checkpoint, tmp_path: Path
) -> None:
    from seefood.export.metadata import write_sidecar
    from seefood.export.pipeline import plan

    for name in ("litert_torch", "ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import raise ImportError
    with pytest.raises(BackendMissingError, match=f"LiteRT is not available.*{INSTALL}.*not part of seefood\\[all\\]"):
        EXPORTERS["litert"].check_backend()
    _, rows = plan(quick_config(formats=("litert",), int8=True, calib_data=sample_data))
    assert [(r.name, r.status) for r in rows] == [("litert-fp32", "export-failed"), ("litert-int8", "export-failed")]
    assert all("seefood[litert]" in (r.reason or "") and "pydantic" in (r.reason or "") for r in rows)
    _, default = plan(quick_config(formats=None))  # not asked for: skipped, not failed
    assert [r.status for r in default if r.format == "litert"] == ["skipped"]
    (tmp_path / "art").mkdir()
    write_sidecar(tmp_path / "art", ModelMeta("tiny", ("a", "b"), tiny.meta.preprocessing, format="litert"))
    with pytest.raises(BackendMissingError, match=INSTALL):
        load_runtime(tmp_path / "art")
    with pytest.raises(BackendMissingError, match=INSTALL):
        INT8_RECIPES["litert"][0].quantize(tmp_path / "art", tiny.model, tiny.meta, [], tmp_path / "out")


def test_litert_exports_fp32_only_and_int8_through_its_recipes() -> None:
    exporter = EXPORTERS["litert"]
    spec = get_format("litert")
    assert spec.files == ("model.tflite",) and spec.runtime_devices == ("cpu",) and spec.space is None
    assert exporter.name == "litert" and resolve(spec.runtime).__name__ == "LiteRTRuntime"
    assert exporter.unsupported("fp32", "cpu") is None
    assert "--int8" in (exporter.unsupported("fp16", "cpu") or "")
    assert [r.name for r in INT8_RECIPES["litert"]] == [
        "litert-pt2e", "litert-pt2e-keep-ends", "litert-pt2e-conservative"]
