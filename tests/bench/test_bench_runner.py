"""The bench orchestrator end to end with the fake runtime: rows, failures, skips, re-runs and report files."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from seefood.bench import BenchResult, run_bench
from seefood.bench.evalset import load_eval_set
from seefood.bench.records import merge_results
from seefood.errors import DataError

from .conftest import CLASSES
from .fakes import make_artifact, make_eval_data, make_export, meta_for

REF_NAME = "fake-fp32"  # the reference is named <format>-<precision> from its metadata
ARTIFACTS: dict[str, dict[str, Any]] = {
    "a-good": {"size": 1000, "precision": "int8"},
    "b-broken": {"size": 500, "fail": "load"},  # fails in the middle of the run: the others still get measured
    "c-crashes": {"size": 700, "fail": "run"},
    "d-wrong": {"size": 2000, "precision": "fp16", "wrong": ["donuts"]},  # 3 of 4 classes right
}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """(export folder, evaluation data) with the ARTIFACTS above and a failed/ artifact that must be ignored."""
    export = make_export(tmp_path, CLASSES, ARTIFACTS)
    make_artifact(export / "failed", "onnx-int8", meta_for(CLASSES, fail="load"))
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=2)
    return export, data


def by_name(rows: tuple[BenchResult, ...] | list[BenchResult], device: str = "cpu", batch: int = 1) -> dict[str, BenchResult]:
    return {r.name: r for r in rows if r.device == device and r.batch_size == batch}


@pytest.mark.slow
def test_bench_measures_everything_and_records_failures(setup: tuple[Path, Path], tmp_path: Path,
                                                        quick: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a GPU machine must still show the skip
    export, data = setup
    out = tmp_path / "report"
    run = run_bench(quick((export,), data, out, devices=("cpu", "cuda"), batch_sizes=(1, 2)))
    assert run.measured == len(run.rows) == 5 * 2 * 2  # (reference + 4 artifacts) x 2 devices x 2 batch sizes
    cpu = by_name(run.rows)
    assert set(cpu) == {REF_NAME, *ARTIFACTS}  # failed/ is ignored
    ref = cpu[REF_NAME]
    assert ref.is_reference and ref.ok and ref.top1 == pytest.approx(100.0) and ref.size_bytes == 4000
    good = cpu["a-good"]
    assert good.ok and good.top1 == pytest.approx(100.0) and good.top5 == pytest.approx(100.0)
    assert good.reference == ref.path and good.precision == "int8" and good.threads == 1
    assert good.latency is not None and good.latency.runs >= 3 and good.latency.batch_size == 1
    assert good.load_s is not None and good.preprocess_ms is not None and good.peak_rss_mb is not None
    assert good.num_images == len(CLASSES) * 2 and good.size_bytes == 1000
    assert cpu["d-wrong"].ok and cpu["d-wrong"].top1 == pytest.approx(75.0)
    assert cpu["b-broken"].status == "load-failed" and "fake load failure" in cpu["b-broken"].reason
    crashed = cpu["c-crashes"]
    assert crashed.status == "run-failed" and "fake inference failure" in crashed.reason and crashed.load_s is not None
    assert by_name(run.rows, batch=2)["a-good"].latency.batch_size == 2  # type: ignore[union-attr]
    for r in by_name(run.rows, device="cuda").values():
        assert r.status == "skipped" and "CUDA" in r.reason

    # the report folder: every file written and readable
    lines = (out / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == [r.name for r in run.rows]
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(lines) and {"latency_p50_ms", "top1", "status"} <= set(table[0])
    with Image.open(out / "pareto.png") as im:
        assert im.format == "PNG" and im.width > 100
    env = json.loads((out / "env.json").read_text())
    assert env["threads"] == 1 and env["cpu_model"] and "numpy" in env["versions"]
    assert env["devices"]["cuda"]["available"] is False and env["data"]["images"] == 8
    md = (out / "report.md").read_text()
    assert "## cpu · batch 1 · 1 threads" in md and "## cuda · batch 2 · 1 threads" in md
    assert "interquartile ranges" in md and "fake load failure" in md and f"**{REF_NAME}** (ref)" in md


@pytest.mark.slow
def test_rerun_skips_measured_rows_unless_forced(setup: tuple[Path, Path], tmp_path: Path, quick: Any) -> None:
    export, data = setup
    out = tmp_path / "report"
    first = run_bench(quick((export,), data, out))
    assert first.measured == 5
    again = run_bench(quick((export,), data, out))
    # the 3 OK rows are kept as they were; the 2 failed ones are tried again
    assert again.already_done == 3 and again.measured == 2 and len(again.rows) == 5
    assert by_name(again.rows)["a-good"].created == by_name(first.rows)["a-good"].created
    # changing an artifact's files (a re-export) changes its key: it is measured again and replaces its old row
    (export / "a-good" / "model.bin").write_bytes(b"retrained".ljust(1200, b"\0"))
    changed = run_bench(quick((export,), data, out))
    assert changed.measured == 3 and len(changed.rows) == 5
    assert by_name(changed.rows)["a-good"].sha256 != by_name(first.rows)["a-good"].sha256
    forced = run_bench(quick((export,), data, out, force=True))
    assert forced.measured == 5 and forced.already_done == 0 and len(forced.rows) == 5


def test_merge_keys_on_path_device_batch_and_threads() -> None:
    base = BenchResult(name="a", path="/a", sha256="s1", format="onnx", precision="fp32", device="cpu",
                       batch_size=1, threads=2, status="ok")
    variants = [base.evolve(path="/b"), base.evolve(device="cuda"), base.evolve(batch_size=8),
                base.evolve(threads=4)]
    merged = merge_results([base], variants)
    assert len(merged) == 5 and len({(r.path, r.device, r.batch_size, r.threads) for r in merged}) == 5
    # a re-export at the same path (other content) replaces the old row in place: no stale duplicate
    again = base.evolve(sha256="s2", status="run-failed")
    assert merge_results(merged, [again])[0] is again and len(merge_results(merged, [again])) == 5
    # duplicates left by an older seefood collapse to one row per slot
    assert len(merge_results([base, base.evolve(sha256="old")], [])) == 1


def test_class_mismatch_is_a_data_error_naming_the_classes(setup: tuple[Path, Path], tmp_path: Path,
                                                           quick: Any) -> None:
    export, _ = setup
    extra = make_eval_data(tmp_path / "more", (*CLASSES, "zucchini"), per_class=1, split=False)
    with pytest.raises(DataError, match="zucchini"):
        run_bench(quick((export,), extra, tmp_path / "r1"))
    other = make_eval_data(tmp_path / "other", ("kimchi", "tacos"), per_class=1, split=False)
    with pytest.raises(DataError, match="no class of the evaluation data") as info:
        run_bench(quick((export,), other, tmp_path / "r2"))
    assert "kimchi" in str(info.value) and "apple_pie" in str(info.value)
    assert not (tmp_path / "r1" / "results.jsonl").exists()  # nothing measured before the check


def test_labels_are_matched_by_name_not_position(tmp_path: Path, quick: Any) -> None:
    shuffled = tuple(reversed(CLASSES))
    export = make_export(tmp_path, shuffled, {"onnx-fp32": {"trained_on": list(CLASSES)}})
    # the reference is "trained" in data order too
    ckpt = tmp_path / "run" / "best"
    (ckpt / "meta.json").write_text(json.dumps(meta_for(shuffled, trained_on=list(CLASSES)).to_dict()))
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=1, split=False)  # flat: every image is used
    run = run_bench(quick((export,), data, tmp_path / "report"))
    assert all(r.ok and r.top1 == pytest.approx(100.0) and r.num_images == 4 for r in run.rows)


def test_limit_spreads_over_classes_and_bad_inputs_fail_clearly(setup: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = setup
    subset = load_eval_set(data, limit=4)
    assert len(subset) == 4 and {s.label for s in subset.samples} == set(range(len(CLASSES)))
    with pytest.raises(DataError, match="not a folder"):
        load_eval_set(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="class folders"):
        load_eval_set(tmp_path / "empty")


def test_no_artifacts_is_a_data_error(setup: tuple[Path, Path], tmp_path: Path, quick: Any) -> None:
    _, data = setup
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="seefood export"):
        run_bench(quick((tmp_path / "nothing",), data, tmp_path / "report"))


def test_a_failed_artifact_benched_on_purpose_keeps_its_exports_reference(
    setup: tuple[Path, Path], tmp_path: Path, quick: Any
) -> None:
    export, data = setup
    failed = make_artifact(export / "failed", "b-parity", meta_for(CLASSES))
    meta = json.loads((failed / "seefood.json").read_text())
    (failed / "seefood.json").write_text(json.dumps({**meta, "parity": {"passed": False, "top1_agreement": 0.8}}))
    run = run_bench(quick((failed,), data, tmp_path / "report"))
    rows = {r.name: r for r in run.rows}
    assert set(rows) == {REF_NAME, "b-parity"}  # EXPORT_DIR/failed/NAME: the export's reference is benched too
    assert rows["b-parity"].parity_passed is False and rows["b-parity"].reference == rows[REF_NAME].path


def test_single_artifact_folder_and_missing_reference(setup: tuple[Path, Path], tmp_path: Path, quick: Any) -> None:
    export, data = setup
    lone = tmp_path / "lone"
    shutil.copytree(export / "a-good", lone / "a-good")  # no export.json beside it: no reference
    run = run_bench(quick((lone / "a-good",), data, tmp_path / "report"))
    assert [r.name for r in run.rows] == ["a-good"] and run.rows[0].reference is None and run.rows[0].ok
    assert "No fp32 reference" in (tmp_path / "report" / "report.md").read_text()


def test_the_eval_set_leaves_out_what_the_space_would_refuse(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=2)
    tiny = data / "test" / CLASSES[0] / "tiny.png"
    Image.new("RGB", (8, 6), (20, 100, 50)).save(tiny)  # refused by the Space: not benched either
    evalset = load_eval_set(data)
    assert tiny not in {s.path for s in evalset.samples} and len(evalset) == 2 * len(CLASSES)
    assert f"leaving out {tiny}: only 8x6 pixels" in caplog.text
