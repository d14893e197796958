"""ExecuTorch (.pte on XNNPACK): round trips through the parity gate, int8, delegation record and check, gating."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from seefood.checkpoint import Checkpoint
from seefood.errors import BackendMissingError, ExportError
from seefood.export.formats import EXPORTERS, ExportSpec
from seefood.export.formats import executorch as et_format
from seefood.export.quantize import INT8_RECIPES
from seefood.export.report import ExportReport
from seefood.formats import get_format, resolve
from seefood.metadata import ModelMeta
from seefood.runtimes import load_runtime, read_artifact_meta
from tests.export.conftest import quick_int8_export, row_named

INSTALL = r"pip install 'seefood\[mobile\]'"
executorch_missing = pytest.mark.skipif(
    importlib.util.find_spec("executorch") is None, reason="ExecuTorch is not installed: pip install 'seefood[mobile]'"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, sample_data: Path) -> ExportReport:
    """`seefood export --formats executorch --int8` of the tiny checkpoint (read-only)."""
    return quick_int8_export(tmp_path_factory, checkpoint, sample_data, "executorch")


@executorch_missing
@pytest.mark.slow
def test_fp32_and_int8_programs_pass_the_gate_and_match_pytorch(
    exported: ExportReport, test_photos: tuple[np.ndarray, np.ndarray]
) -> None:
    batch, reference = test_photos
    for name, min_agreement in (("executorch-fp32", 1.0), ("executorch-int8", 0.9)):
        row = row_named(exported, name)
        assert row.status == "passed", row.reason
        assert row.parity["passed"] and row.size_bytes > 0 and row.latency_ms is not None
        runtime = load_runtime(exported.out / str(row.path), threads=1)
        assert (runtime.meta.format, runtime.meta.precision, runtime.precision_ran) == ("executorch",) + (
            row.precision,) * 2
        logits = runtime.run(batch)
        assert logits.shape == reference.shape and logits.dtype == np.float32
        assert np.mean(logits.argmax(1) == reference.argmax(1)) >= min_agreement
        if row.precision == "fp32":
            np.testing.assert_allclose(logits, reference, rtol=1e-3, atol=1e-3 * np.abs(reference).max())
    int8 = row_named(exported, "executorch-int8")
    assert int8.recipe == INT8_RECIPES["executorch"][0].name == "xnnpack-pt2e"
    # int8 weights: the program is far smaller than its fp32 parent
    assert int8.size_bytes < 0.5 * row_named(exported, "executorch-fp32").size_bytes


@executorch_missing
@pytest.mark.slow
def test_the_delegated_share_is_recorded_in_the_metadata(exported: ExportReport) -> None:
    for name in ("executorch-fp32", "executorch-int8"):
        meta = read_artifact_meta(exported.out / name)
        delegation = meta.extra["delegation"]
        assert delegation["backend"] == "XnnpackBackend" and delegation["subgraphs"] >= 1
        assert delegation["delegated_share"] >= 0.9, delegation
        assert not [op for op in delegation["undelegated"] if et_format.COMPUTE_OPS.match(op)]
        # named as COMPUTE_OPS expects (the flatten's view_copy of a dynamic batch stays on portable kernels)
        assert set(delegation["undelegated"]) <= {"aten.view_copy.default"}, delegation
        assert meta.extra["batch"] == "dynamic" and meta.parity and meta.parity["passed"]


@executorch_missing
@pytest.mark.slow
def test_a_dynamic_program_takes_any_batch_and_its_own_threads(exported: ExportReport) -> None:
    from seefood.runtimes.executorch import import_executorch

    _, lib = import_executorch()
    one = load_runtime(exported.out / "executorch-fp32", threads=1)
    two = load_runtime(exported.out / "executorch-fp32", threads=2)
    x = np.random.default_rng(0).standard_normal((et_format.MAX_BATCH + 5, 3, 64, 64)).astype(np.float32)
    first = one.run(x)  # more images than the program was planned for: run in chunks
    assert first.shape == (len(x), 4) and lib._threadpool_get_thread_count() == 1
    np.testing.assert_allclose(two.run(x[:3]), first[:3], rtol=1e-4, atol=1e-4)
    assert lib._threadpool_get_thread_count() == 2 and (one.threads, two.threads) == (1, 2)


@executorch_missing
@pytest.mark.slow
def test_predict_classifies_photos_through_the_program(exported: ExportReport, sample_data: Path) -> None:
    from seefood.runtimes.classify import PredictConfig, classify_files

    photos = tuple(sorted((sample_data / "test").rglob("*.jpg"))[:3])
    results = classify_files(PredictConfig(exported.out / "executorch-int8", photos, top=2, threads=1))
    assert [r.path for r in results] == list(photos) and all(len(r.top) == 2 for r in results)


@executorch_missing
@pytest.mark.slow
def test_bench_measures_both_programs_against_the_checkpoint(
    exported: ExportReport, sample_data: Path, tmp_path: Path
) -> None:
    from seefood.bench import BenchConfig, run_bench

    config = BenchConfig(export_dirs=(exported.out,), data=sample_data, out=tmp_path / "bench", threads=1,
                         batch_sizes=(1, 4), min_runs=3, min_time_s=0.0, warmup=1, progress=False)
    rows = {(r.name, r.batch_size): r for r in run_bench(config).rows}
    reference = rows["pytorch-fp32", 1]
    for name in ("executorch-fp32", "executorch-int8"):
        for batch in (1, 4):
            row = rows[name, batch]
            assert row.ok, row.reason
            assert row.threads_ran == 1 and row.latency is not None and row.latency.p50_ms > 0
        assert abs(rows[name, 1].top1 - reference.top1) <= 10.0  # 32 photos: at most 3 flips


@executorch_missing
@pytest.mark.slow
@pytest.mark.parametrize("recipe", INT8_RECIPES["executorch"][1:], ids=lambda r: r.name)
def test_remedy_recipes_write_a_delegated_int8_program(
    recipe: Any, exported: ExportReport, tiny: Checkpoint, sample_data: Path,
    test_photos: tuple[np.ndarray, np.ndarray], tmp_path: Path,
) -> None:
    from seefood.export.calibration import calibration_batches
    from seefood.runtimes.executorch import ExecuTorchRuntime

    calib = calibration_batches(sample_data, tiny.meta.preprocessing, n=32, seed=0)
    out = tmp_path / "int8"
    path = recipe.quantize(exported.out / "executorch-fp32", copy.deepcopy(tiny.model), tiny.meta, calib, out)
    assert path == out / "model.pte" and sorted(p.name for p in out.iterdir()) == ["delegation.json", "model.pte"]
    assert et_format.delegation_facts(out)["delegation"]["subgraphs"] >= 1
    runtime = ExecuTorchRuntime(out, tiny.meta.evolve(format="executorch", precision="int8"), threads=1)
    batch, reference = test_photos
    assert np.mean(runtime.run(batch).argmax(1) == reference.argmax(1)) >= 0.9


@executorch_missing
def test_a_graph_left_to_portable_kernels_fails_the_export(
    monkeypatch: pytest.MonkeyPatch, tiny: Checkpoint, tmp_path: Path
) -> None:
    monkeypatch.setattr(et_format, "_partitioners", list)  # lower without XNNPACK
    spec = ExportSpec("fp32", "cpu", dynamic_batch=False)
    with pytest.raises(ExportError, match="not delegated to XNNPACK: nothing was delegated"):
        et_format.export_executorch(tiny.model, tiny.meta, torch.zeros(1, 3, 64, 64), tmp_path / "out", spec)
    assert not (tmp_path / "out" / "model.pte").exists()


def test_a_convolution_outside_xnnpack_is_a_delegation_problem() -> None:
    summary = {"subgraphs": 1, "delegated_ops": 40, "delegated_share": 0.98,
               "undelegated": {"aten.view_copy.default": 1}}
    assert et_format.delegation_problem(summary) is None  # a reshape on portable kernels costs nothing
    heavy = {**summary, "undelegated": {"aten.convolution.default": 1, "aten.view_copy.default": 1}}
    assert "aten.convolution.default stayed outside XnnpackBackend" in (et_format.delegation_problem(heavy) or "")
    assert "nothing was delegated" in (et_format.delegation_problem({**summary, "subgraphs": 0}) or "")


def test_missing_executorch_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any, sample_data: Path, tiny: Checkpoint, tmp_path: Path
) -> None:
    from seefood.export.metadata import write_sidecar
    from seefood.export.pipeline import plan

    monkeypatch.setitem(sys.modules, "executorch", None)  # makes `import executorch` raise ImportError
    with pytest.raises(BackendMissingError, match=f"ExecuTorch is not available.*{INSTALL}"):
        EXPORTERS["executorch"].check_backend()
    _, rows = plan(quick_config(formats=("executorch",), int8=True, calib_data=sample_data))
    assert [(r.name, r.status) for r in rows] == [("executorch-fp32", "export-failed"),
                                                  ("executorch-int8", "export-failed")]
    assert all("seefood[mobile]" in (r.reason or "") for r in rows)
    (tmp_path / "art").mkdir()
    write_sidecar(tmp_path / "art", ModelMeta("tiny", ("a", "b"), tiny.meta.preprocessing, format="executorch"))
    with pytest.raises(BackendMissingError, match=INSTALL):
        load_runtime(tmp_path / "art")
    with pytest.raises(BackendMissingError, match=INSTALL):
        INT8_RECIPES["executorch"][0].quantize(tmp_path / "art", tiny.model, tiny.meta, [], tmp_path / "out")


def test_executorch_exports_fp32_only_and_int8_through_its_recipes() -> None:
    exporter = EXPORTERS["executorch"]
    spec = get_format("executorch")  # a plain registry entry: files, runtime, exporter, recipes, no Space
    assert spec.files == ("model.pte",) and spec.runtime_devices == ("cpu",) and spec.space is None
    assert exporter.name == "executorch" and resolve(spec.runtime).__name__ == "ExecuTorchRuntime"
    assert exporter.unsupported("fp32", "cpu") is None
    assert "--int8" in (exporter.unsupported("fp16", "cpu") or "")
    assert [r.name for r in INT8_RECIPES["executorch"]] == [
        "xnnpack-pt2e", "xnnpack-pt2e-keep-ends", "xnnpack-pt2e-conservative"]


@executorch_missing
def test_conv_relu6_is_one_int8_op_whose_range_is_the_clamps(tmp_path: Path) -> None:
    from torch import nn
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from seefood.export.quantize.executorch import XnnpackInt8Settings, build_quantizer

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(inplace=True),
                        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU6(), nn.Conv2d(8, 4, 1)).eval()
    example = torch.randn(2, 3, 16, 16) * 4  # pre-activations well outside [0, 6]
    graph = et_format.export_program(net, example, dynamic=True).module()
    prepared = prepare_pt2e(graph, build_quantizer(XnnpackInt8Settings(), "cnn", net))
    prepared(example)
    converted = convert_pt2e(prepared)
    clamps = [n for n in converted.graph.nodes if "hardtanh" in str(n.target)]
    assert len(clamps) == 2
    # the clamp reads the conv itself (no quantise/dequantise between them: XNNPACK fuses the pair), and the
    # int8 range after it is the clamp's [0, 6], not the conv's pre-activation range
    assert all("conv2d" in str(c.args[0].target) for c in clamps)
    after = [next(iter(c.users)) for c in clamps]
    assert all("quantize_per_tensor" in str(q.target) and q.args[1] * 255 <= 6.0 * 1.01 for q in after)
    et_format.lower_to_pte(et_format.export_program(converted, example[:1], dynamic=False), tmp_path)
    assert et_format.delegation_facts(tmp_path)["delegation"]["delegated_share"] == 1.0


@executorch_missing
def test_tf_same_padding_stays_int8_and_the_numbers_do_not_change(tmp_path: Path) -> None:
    from torch import nn
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from seefood.export.quantize.executorch import XnnpackInt8Settings, build_quantizer, drop_pad_requantize

    class TfPadded(nn.Module):  # timm's tf_* models pad asymmetrically before each strided conv
        def __init__(self) -> None:
            super().__init__()
            self.stem, self.act = nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6()
            self.dw = nn.Conv2d(8, 8, 5, stride=2, groups=8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.dw(torch.nn.functional.pad(self.act(self.stem(x)), (1, 2, 1, 2)))

    torch.manual_seed(0)
    net, example = TfPadded().eval(), torch.randn(2, 3, 16, 16)
    graph = et_format.export_program(net, example, dynamic=True).module()
    prepared = prepare_pt2e(graph, build_quantizer(XnnpackInt8Settings(), "cnn", net))
    prepared(example)
    converted = convert_pt2e(prepared)
    before = converted(example)
    assert drop_pad_requantize(converted) == 1  # the pad's int8 range is its input's: re-quantising is a no-op
    assert torch.equal(converted(example), before)
    pad = next(n for n in converted.graph.nodes if str(n.target).endswith("pad.default"))
    assert "dequantize" in str(pad.args[0].target) and "conv2d" in str(next(iter(pad.users)).target)
    et_format.lower_to_pte(et_format.export_program(converted, example[:1], dynamic=False), tmp_path)
    assert et_format.delegation_facts(tmp_path)["delegation"]["delegated_share"] == 1.0
