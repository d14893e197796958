"""`seefood bench --eager-variants`: the reference checkpoint benched again as eager bf16 / torch.compile rows."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import typer
from rich.console import Console
from typer.testing import CliRunner

from seefood.bench import BenchConfig, PickRules, read_results, run_bench, select
from seefood.bench.interleave import interleaved_latency, interleaved_table
from seefood.bench.records import STATUS_LOAD_FAILED, STATUS_SKIPPED
from seefood.cli import bench as bench_cli
from seefood.errors import ConfigError, DataError
from seefood.runtimes.pytorch import compile_unavailable
from seefood.runtimes.variants import variant_unavailable

from .conftest import CLASSES
from .fakes import make_eval_data, make_export, tiny_export

NO_CXX = {"cpp.cxx": ("/nonexistent/g++",)}  # inductor's compiler search then finds nothing


def _tiny_export(root: Path) -> Path:
    """run/best (a tiny checkpoint) + export/torchscript-fp32 (traced) + export.json naming the checkpoint."""

    def trace(model: Any, x: torch.Tensor, folder: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch 2.9+ calls torch.jit.trace deprecated; it works
            torch.jit.trace(model, x).save(str(folder / "model.pt"))

    return tiny_export(root, CLASSES, "torchscript-fp32", trace)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(export folder, eval photos: 2 per class)."""
    tmp = tmp_path_factory.mktemp("eager-variants")
    return _tiny_export(tmp), make_eval_data(tmp / "data", CLASSES, per_class=2)


def test_bf16_row_beside_eager_fp32_records_what_ran(tiny: tuple[Path, Path], tmp_path: Path, quick: Any) -> None:
    export, data = tiny
    out = tmp_path / "report"
    run = run_bench(quick((export,), data, out, batch_sizes=(1, 2), eager_variants=("bf16",)))
    rows = {(r.name, r.batch_size): r for r in run.rows}
    assert set(rows) == {(n, b) for n in ("pytorch-fp32", "pytorch-bf16", "torchscript-fp32") for b in (1, 2)}
    ref, bf16 = rows["pytorch-fp32", 1], rows["pytorch-bf16", 1]
    assert ref.is_reference and ref.variant == "" and ref.precision_ran == "fp32"
    assert bf16.ok, bf16.reason
    assert (bf16.variant, bf16.format, bf16.precision, bf16.precision_ran) == ("bf16", "pytorch", "bf16", "bf16")
    assert not bf16.is_reference and bf16.reference == ref.path == bf16.path  # the same checkpoint, compared with it
    # accuracy measured through the bf16 module on every photo, like any other row
    assert bf16.num_images == 8 and bf16.top1 is not None and bf16.latency is not None and bf16.latency.p50_ms > 0
    assert abs(bf16.top1 - ref.top1) <= 25.0  # bf16 rounding may flip a near-tied photo of 8, not the model
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "pytorch-bf16" in report
    # the variant rows are stored with their variant and do not take the fp32 row's slot on a re-run
    stored = {(r.name, r.batch_size): r for r in read_results(out)}
    assert stored["pytorch-bf16", 2].variant == "bf16" and stored["pytorch-fp32", 2].variant == ""
    again = run_bench(quick((export,), data, out, batch_sizes=(1, 2), eager_variants=("bf16",)))
    assert (again.measured, again.already_done, again.replaced) == (0, 6, ())
    # pick never deploys a variant: it is the checkpoint run differently, not a file
    decision = select(list(run.rows), PickRules(device="cpu", max_drop=100.0))
    assert decision.chosen is not None and decision.chosen.name == "torchscript-fp32"
    assert any(r.name == "pytorch-bf16" and r.rule == "variant" for r in decision.rejected)


def test_compile_without_a_cxx_compiler_is_a_skipped_row_with_the_reason(
    tiny: tuple[Path, Path], tmp_path: Path, quick: Any
) -> None:
    export, data = tiny
    with torch._inductor.config.patch(NO_CXX):
        run = run_bench(quick((export,), data, tmp_path / "report", eager_variants=("compile",)))
    row = next(r for r in run.rows if r.variant == "compile")
    assert row.status == STATUS_SKIPPED and row.name == "pytorch-compile"
    assert "C++ compiler" in row.reason and "g++" in row.reason
    assert row.latency is None and row.top1 is None  # nothing measured, nothing faked
    assert next(r for r in run.rows if r.is_reference).ok  # the rest of the run goes on


@pytest.mark.slow
def test_compile_row_runs_where_inductor_can_compile(tiny: tuple[Path, Path], tmp_path: Path, quick: Any) -> None:
    if reason := compile_unavailable("cpu"):
        pytest.skip(f"torch.compile cannot run here: {reason}")
    export, data = tiny
    run = run_bench(quick((export,), data, tmp_path / "report", eager_variants=("compile",)))
    rows = {r.name: r for r in run.rows}
    ref, comp = rows["pytorch-fp32"], rows["pytorch-compile"]
    assert comp.ok, comp.reason
    assert (comp.variant, comp.precision, comp.precision_ran) == ("compile", "fp32", "fp32")
    assert comp.top1 == pytest.approx(ref.top1) and comp.top5 == pytest.approx(ref.top5)  # fp32 both: same answers
    assert comp.latency is not None and comp.first_run_ms is not None


def test_variants_need_a_reference_checkpoint(tmp_path: Path, quick: Any) -> None:
    export = make_export(tmp_path, CLASSES, {"onnx-fp32": {}})
    (export / "export.json").unlink()
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=1)
    with pytest.raises(DataError, match="reference checkpoint"):
        run_bench(quick((export,), data, tmp_path / "report", eager_variants=("bf16",)))
    with pytest.raises(ConfigError, match="include_reference"):
        quick((export,), data, tmp_path / "report", eager_variants=("bf16",), include_reference=False)


def test_a_variant_of_a_checkpoint_that_is_not_pytorch_is_a_load_failed_row(tmp_path: Path, quick: Any) -> None:
    export = make_export(tmp_path, CLASSES, {"onnx-fp32": {}})  # its reference checkpoint has format "fake"
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=1)
    run = run_bench(quick((export,), data, tmp_path / "report", eager_variants=("bf16",)))
    row = next(r for r in run.rows if r.variant)
    assert row.status == STATUS_LOAD_FAILED and "checkpoint folders only" in row.reason


def test_config_reads_a_comma_list_and_rejects_unknown_names(tmp_path: Path) -> None:
    config = BenchConfig(export_dirs=(tmp_path,), data=tmp_path, out=tmp_path, eager_variants="bf16, compile,bf16")  # type: ignore[arg-type]
    assert config.eager_variants == ("bf16", "compile")
    assert config.to_dict()["eager_variants"] == ["bf16", "compile"]
    with pytest.raises(ConfigError, match="unknown eager variant 'fp8': use one of bf16, compile"):
        BenchConfig(export_dirs=(tmp_path,), data=tmp_path, out=tmp_path, eager_variants=("fp8",))


def test_cli_unknown_variant_exits_2_naming_the_known(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    export, data = tiny
    app = typer.Typer()
    bench_cli.register(app)
    result = CliRunner().invoke(app, ["bench", str(export), "--data", str(data), "--out", str(tmp_path / "r"),
                                      "--eager-variants", "bf16,int3", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "unknown eager variant 'int3'" in result.output and "bf16, compile" in result.output
    assert not (tmp_path / "r").exists()  # rejected before anything ran


def test_latency_times_the_variants_interleaved_after_the_artifacts(tiny: tuple[Path, Path]) -> None:
    export, _ = tiny
    ckpt, ts = export.parent / "run" / "best", export / "torchscript-fp32"
    report = interleaved_latency([ckpt, ts], rounds=2, warmup=1, block=1, threads=1, variants=("bf16",))
    got = [(Path(r.path), r.variant, r.precision, r.precision_ran) for r in report.rows]
    assert got == [(ckpt, "", "fp32", "fp32"), (ts, "", "fp32", "fp32"), (ckpt, "bf16", "bf16", "bf16")]
    assert report.rows[2].label.endswith("(bf16)") and report.to_dict()["rows"][2]["variant"] == "bf16"
    table = Console(width=200, record=True)
    table.print(interleaved_table(report))
    assert f"{ckpt} (bf16)" in table.export_text()  # the printed table names the variant
    assert all(r.latency.p50_ms > 0 for r in report.rows) and report.rows[0].ratio == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="checkpoint folders"):
        interleaved_latency([ts, ts], rounds=1, warmup=0, block=1, threads=1, variants=("bf16",))


def test_cli_latency_unknown_variant_exits_2(tiny: tuple[Path, Path]) -> None:
    export, _ = tiny
    app = typer.Typer()
    bench_cli.register(app)
    result = CliRunner().invoke(app, ["latency", str(export.parent / "run" / "best"), "--eager-variants", "fp8"])
    assert result.exit_code == 2 and "unknown eager variant 'fp8'" in result.output, result.output


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_rows_of_every_variant(tiny: tuple[Path, Path], tmp_path: Path, quick: Any) -> None:
    export, data = tiny
    run = run_bench(quick((export,), data, tmp_path / "report", devices=("cuda",), batch_sizes=(1, 8),
                          eager_variants=("bf16", "compile")))
    rows = {(r.name, r.batch_size): r for r in run.rows}
    for b in (1, 8):
        ref = rows["pytorch-fp32", b]
        assert ref.ok and ref.device == "cuda" and ref.cuda_peak_mb is not None, ref.reason
        for variant, ran in (("bf16", "bf16"), ("compile", "fp32")):
            row = rows[f"pytorch-{variant}", b]
            if reason := variant_unavailable(variant, "cuda"):  # no triton / a pre-Ampere GPU: a row that says so
                assert row.status == STATUS_SKIPPED and row.reason == reason and row.latency is None
                continue
            assert row.ok and row.precision_ran == ran and row.cuda_peak_mb is not None, row.reason
            assert row.top1 is not None and abs(row.top1 - ref.top1) <= 25.0  # 8 photos: at most 2 flips
        if not variant_unavailable("compile", "cuda"):
            assert rows["pytorch-compile", b].top1 == pytest.approx(ref.top1, abs=12.5)  # fp32 (TF32 may flip one)
