"""Selection rules of `seefood pick` on synthetic bench rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seefood.bench import BenchResult, LatencyStats, PickRules, pick, select
from seefood.bench.pick import DECISION_JSON
from seefood.bench.records import write_results_jsonl
from seefood.errors import ConfigError, DataError

REF = "/runs/demo/best"


def _lat(p50: float, p90: float) -> LatencyStats:
    return LatencyStats(
        runs=30, batch_size=1, total_s=30 * p50 / 1000, mean_ms=p50, std_ms=0.1, min_ms=p50 * 0.9, p25_ms=p50 * 0.97,
        p50_ms=p50, p75_ms=p50 * 1.03, p90_ms=p90, p99_ms=p90 * 1.2, max_ms=p90 * 1.5,
    )


def row(name: str, size: int, top1: float | None, p50: float, p90: float | None = None, **kw: Any) -> BenchResult:
    fields: dict[str, Any] = {
        "name": name, "path": f"/exp/{name}", "sha256": name, "format": "onnx", "precision": "fp32",
        "device": "cpu", "batch_size": 1, "threads": 2, "status": "ok", "reference": REF, "size_bytes": size,
        "top1": top1, "top5": 99.0, "latency": _lat(p50, p90 if p90 is not None else p50 * 1.1),
    }
    fields.update(kw)
    return BenchResult(**fields)


def reference(top1: float = 80.0) -> BenchResult:
    return row("pytorch-fp32", 40_000, top1, 20.0, path=REF, is_reference=True, reference=None, format="pytorch")


def rules_of(decision: Any) -> dict[str, str]:
    return {r.name: r.rule for r in decision.rejected}


def test_smallest_within_drop_and_budget_wins_and_every_loser_has_a_rule() -> None:
    rows = [
        reference(80.0),
        row("onnx-fp32", 40_000, 80.0, 15.0),
        row("onnx-int8", 10_000, 79.5, 8.0),  # within 1 point: qualifies, smallest qualifying
        row("ov-int8-bad", 9_000, 77.0, 7.0),  # smaller, but 3 points worse
        row("slow-small", 5_000, 80.0, 50.0, p90=60.0),  # smallest, over the budget
        row("pruned", 4_000, 80.0, 5.0, accuracy_rule="failed", sparsity=0.5),
        row("parity-failed", 3_000, 80.0, 4.0, parity_passed=False),  # from failed/: benched for speed only
        row("broken", 1_000, None, 1.0, status="load-failed", reason="RuntimeError: boom", latency=None),
    ]
    d = select(rows, PickRules(device="cpu", max_drop=1.0, budget_ms=30.0))
    assert d.chosen is not None and d.chosen.name == "onnx-int8"
    assert d.reference is not None and d.reference.is_reference
    assert rules_of(d) == {
        "onnx-fp32": "size", "ov-int8-bad": "accuracy", "slow-small": "budget", "pruned": "accuracy_rule",
        "parity-failed": "parity", "broken": "status",
    }
    detail = {r.name: r.detail for r in d.rejected}
    assert "3.00 points" in detail["ov-int8-bad"] and "RuntimeError: boom" in detail["broken"]
    out = d.to_dict()
    assert out["artifact"] == "/exp/onnx-int8" and out["latency_ms"]["p90"] == pytest.approx(8.8)
    assert out["reference"]["artifact"] == REF and out["rules"] == {"max_drop": 1.0, "budget_ms": 30.0}
    assert "onnx-int8" in d.explain() and "budget" in d.explain()


def test_size_tie_is_broken_by_latency() -> None:
    rows = [reference(), row("ov-int8", 10_000, 80.0, 9.0), row("onnx-int8", 10_000, 80.0, 7.0)]
    d = select(rows, PickRules(device="cpu"))
    assert d.chosen is not None and d.chosen.name == "onnx-int8"
    assert rules_of(d) == {"ov-int8": "latency"}


def test_sizes_within_the_tolerance_tie_and_the_faster_wins() -> None:
    # measured here: torchscript 30.86 MB at 35 ms vs openvino 31.14 MB at 7 ms (b=1, effnet_b2 @160)
    rows = [reference(), row("ts-fp32", 30_860, 80.0, 35.0), row("ov-fp32", 31_140, 80.0, 7.0),
            row("onnx-fp32", 40_000, 80.0, 5.0)]
    d = select(rows, PickRules(device="cpu"))
    assert d.chosen is not None and d.chosen.name == "ov-fp32"
    assert rules_of(d) == {"ts-fp32": "latency", "onnx-fp32": "size"}
    exact = select(rows, PickRules(device="cpu", size_tolerance=0.0))
    assert exact.chosen is not None and exact.chosen.name == "ts-fp32"


def test_nothing_qualifies_names_the_constraint_to_relax() -> None:
    rows = [reference(80.0), row("int8", 10_000, 77.5, 8.0, p90=9.0), row("fp16", 20_000, 79.8, 40.0, p90=45.0)]
    d = select(rows, PickRules(device="cpu", max_drop=1.0, budget_ms=20.0))
    assert d.chosen is None
    assert rules_of(d) == {"int8": "accuracy", "fp16": "budget"}
    # relaxing either constraint alone, to exactly the value the data needs, admits something
    assert "--max-drop 2.5 would admit int8" in d.advice
    assert "--budget-ms 45.0 would admit fp16" in d.advice
    with pytest.raises(DataError):
        d.to_dict()
    assert select(rows, PickRules(device="cpu", max_drop=2.5, budget_ms=20.0)).chosen.name == "int8"  # type: ignore[union-attr]
    assert select(rows, PickRules(device="cpu", max_drop=1.0, budget_ms=45.0)).chosen.name == "fp16"  # type: ignore[union-attr]


def test_nothing_qualifies_on_both_constraints_suggests_both() -> None:
    rows = [reference(80.0), row("int8", 10_000, 75.0, 50.0, p90=60.0)]
    d = select(rows, PickRules(device="cpu", max_drop=1.0, budget_ms=20.0))
    assert d.chosen is None and "--max-drop 5.0 --budget-ms 60.0 together" in d.advice


def test_only_failures_advise_fixing_them() -> None:
    rows = [reference(), row("broken", 1_000, None, 1.0, status="run-failed", reason="x", latency=None)]
    d = select(rows, PickRules(device="cpu"))
    assert d.chosen is None and "fix the failures" in d.advice


def test_missing_reference_rejects_with_reference_rule() -> None:
    d = select([row("onnx", 1_000, 80.0, 5.0)], PickRules(device="cpu"))
    assert d.chosen is None and rules_of(d) == {"onnx": "reference"}


def test_unknown_device_or_batch_is_a_data_error_listing_what_exists() -> None:
    with pytest.raises(DataError, match="cpu/batch 1"):
        select([reference(), row("a", 1, 80.0, 1.0)], PickRules(device="cuda"))


@pytest.mark.parametrize("kwargs", [{"max_drop": -1.0}, {"budget_ms": 0.0}, {"batch_size": 0}, {"size_tolerance": -0.1}])
def test_bad_rules_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        PickRules(**kwargs)


def test_pick_writes_decision_json_and_a_failed_pick_keeps_it(tmp_path: Path) -> None:
    rows = [reference(80.0), row("int8", 10_000, 79.5, 8.0)]
    write_results_jsonl(tmp_path / "results.jsonl", rows)
    d = pick(tmp_path, PickRules(device="cpu"))
    written = json.loads((tmp_path / DECISION_JSON).read_text())
    expected_keys = {"artifact", "name", "format", "precision", "device", "batch_size", "size_bytes", "top1", "top5",
                     "latency_ms", "reference", "rules", "rejected", "created"}
    assert expected_keys <= set(written) and written["name"] == "int8" == (d.chosen.name if d.chosen else None)
    assert (tmp_path / "pareto.png").is_file()  # re-drawn with the choice marked
    good = (tmp_path / DECISION_JSON).read_bytes()
    nothing = pick(tmp_path, PickRules(device="cpu", max_drop=0.1))  # a what-if that finds nothing
    assert nothing.chosen is None and (tmp_path / DECISION_JSON).read_bytes() == good
    dry = pick(tmp_path, PickRules(device="cpu", max_drop=5.0), write=False)
    assert dry.chosen is not None and (tmp_path / DECISION_JSON).read_bytes() == good


def test_pick_without_results_says_to_run_bench(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="seefood bench"):
        pick(tmp_path, PickRules())


def test_formats_restrict_the_choice_to_what_the_target_can_serve() -> None:
    """A torch-free Space serves ONNX and OpenVINO: a smaller ExecuTorch file must not win its pick."""
    rows = [reference(80.0), row("onnx-int8", 10_000, 80.0, 8.0),
            row("executorch-int8", 9_000, 80.0, 7.0, format="executorch")]
    assert select(rows, PickRules()).chosen.name == "executorch-int8"  # type: ignore[union-attr]
    d = select(rows, PickRules(formats=("onnx", "openvino")))
    assert d.chosen is not None and d.chosen.name == "onnx-int8"
    assert rules_of(d)["executorch-int8"] == "format"
    with pytest.raises(ConfigError, match="--formats is empty"):
        PickRules(formats=())
