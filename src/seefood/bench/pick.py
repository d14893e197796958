"""`seefood pick`: choose the deploy target from a bench report, and say why every other artifact lost.

The rule: among exported artifacts measured OK on the device at the batch size, keep those whose
top-1 is at most `max_drop` points below the fp32 reference and whose p90 latency is within
`budget_ms`; choose the smallest on disk, ties (sizes within `size_tolerance`) broken by p50 latency
(then name, for determinism).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seefood.bench.records import RESULTS_JSONL, BenchResult, read_results
from seefood.bench.report import DECISION_JSON, PARETO_PNG, picked_slot, reference_for, top1_drop
from seefood.errors import ConfigError, DataError
from seefood.io import atomic_write_json

log = logging.getLogger(__name__)


# rule names, in the order they are checked; each rejected artifact names the first one it failed
RULE_STATUS = "status"  # not measured OK (load-failed, run-failed, skipped)
RULE_VARIANT = "variant"  # an eager variant of the reference checkpoint (bf16, compile): measured, not a deploy file
RULE_FORMAT = "format"  # a format --formats leaves out (e.g. one a torch-free Space cannot serve)
RULE_ACCURACY_RULE = "accuracy_rule"  # metadata metrics.accuracy_rule == "failed" (pruned model failing its rule)
RULE_PARITY = "parity"  # metadata parity.passed is false: the export moved it to failed/ (benched for speed only)
RULE_REFERENCE = "reference"  # no measured fp32 reference to compare with
RULE_ACCURACY = "accuracy"  # top-1 drop above --max-drop
RULE_BUDGET = "budget"  # p90 latency above --budget-ms
RULE_SIZE = "size"  # qualified, but larger on disk than the chosen one
RULE_LATENCY = "latency"  # qualified, same size as the chosen one, but slower (p50)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _ceil2(x: float) -> float:
    """Round up to 2 decimals, so a suggested limit really admits the artifact."""
    return math.ceil(x * 100.0 - 1e-9) / 100.0


@dataclass(frozen=True)
class PickRules:
    """The constraints of a pick; the CLI maps its options onto these fields."""

    device: str = "cpu"
    max_drop: float = 1.0  # top-1 points the artifact may lose against the fp32 reference
    budget_ms: float | None = None  # p90 latency per batch must be within this (None: no budget)
    batch_size: int = 1
    threads: int | None = None  # which measured thread count (None: the only one, else the largest)
    # sizes within this fraction of the smallest count as a tie, broken by latency: a 1 % smaller
    # TorchScript file must not beat an equally accurate runtime that is 5x faster
    size_tolerance: float = 0.02
    # only artifacts of these formats may be chosen (None: any); `seefood space build` serves onnx and openvino
    formats: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.formats is not None and not self.formats:
            raise ConfigError("--formats is empty: name at least one format, e.g. --formats onnx,openvino")
        if not math.isfinite(self.max_drop) or self.max_drop < 0:
            raise ConfigError(f"--max-drop must be >= 0 points of top-1, got {self.max_drop}")
        if self.budget_ms is not None and not self.budget_ms > 0:
            raise ConfigError(f"--budget-ms must be a positive number of milliseconds, got {self.budget_ms}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 0 <= self.size_tolerance < 1:
            raise ConfigError(f"--size-tolerance must be a fraction in [0, 1), got {self.size_tolerance}")


@dataclass(frozen=True)
class Rejection:
    """An artifact that was not chosen, the rule it failed, and the numbers behind it."""

    name: str
    rule: str
    detail: str


@dataclass(frozen=True)
class Decision:
    """The outcome of a pick: the chosen row (None when nothing qualifies), the rejections, and advice."""

    rules: PickRules
    threads: int
    chosen: BenchResult | None
    reference: BenchResult | None
    rejected: tuple[Rejection, ...]
    advice: str = ""  # which constraint to relax, when nothing qualifies
    created: str = field(default_factory=_now)

    def why(self) -> str:
        """One sentence on why the chosen artifact won (or why nothing did)."""
        c, ref = self.chosen, self.reference
        if c is None or c.latency is None or ref is None:
            return f"nothing qualifies on {self.rules.device} at batch {self.rules.batch_size}: {self.advice}"
        qualified = 1 + sum(r.rule in (RULE_SIZE, RULE_LATENCY) for r in self.rejected)
        budget = (
            f"within the {self.rules.budget_ms} ms p90 budget (p90 {c.latency.p90_ms:.2f} ms)"
            if self.rules.budget_ms is not None else f"no latency budget (p90 {c.latency.p90_ms:.2f} ms)"
        )
        return (
            f"{c.name}: the smallest on disk ({c.size_bytes / 1e6:.2f} MB; sizes within "
            f"{self.rules.size_tolerance:.0%} tie, the faster wins) of the {qualified} artifact(s) within "
            f"{self.rules.max_drop} top-1 points of the reference (top-1 {c.top1:.2f}% vs {ref.top1:.2f}%) and "
            f"{budget}"
        )

    def explain(self) -> str:
        """Several lines for people: the choice (or advice) and every rejection with its rule."""
        lines = [("chose " if self.chosen else "") + self.why()]
        lines += [f"  rejected {r.name}: {r.rule} — {r.detail}" for r in self.rejected]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """decision.json (schema in docs/architecture.md; `threads` and `why` added)."""
        c, ref = self.chosen, self.reference
        if c is None or c.latency is None:
            raise DataError(f"no decision to write: {self.advice}")
        return {
            "artifact": c.path, "name": c.name, "format": c.format, "precision": c.precision,
            "device": c.device, "batch_size": c.batch_size, "threads": c.threads, "size_bytes": c.size_bytes,
            "top1": c.top1, "top5": c.top5,
            "latency_ms": {"p50": c.latency.p50_ms, "p90": c.latency.p90_ms, "p99": c.latency.p99_ms},
            "reference": _summary(ref) if ref is not None else None,
            "rules": {"max_drop": self.rules.max_drop, "budget_ms": self.rules.budget_ms},
            "rejected": [{"name": r.name, "rule": r.rule, "detail": r.detail} for r in self.rejected],
            "why": self.why(),
            "created": self.created,
        }


def _summary(row: BenchResult) -> dict[str, Any]:
    lat = row.latency
    return {
        "artifact": row.path, "name": row.name, "format": row.format, "precision": row.precision,
        "size_bytes": row.size_bytes, "top1": row.top1, "top5": row.top5,
        "latency_ms": {"p50": lat.p50_ms, "p90": lat.p90_ms, "p99": lat.p99_ms} if lat else None,
    }


def _rows_for(rows: Sequence[BenchResult], rules: PickRules) -> tuple[list[BenchResult], int]:
    """The rows at the asked device and batch size, at one thread count."""
    at = [r for r in rows if r.device == rules.device and r.batch_size == rules.batch_size]
    if not at:
        have = sorted({f"{r.device}/batch {r.batch_size}" for r in rows}) or ["nothing"]
        raise DataError(
            f"the report has no rows for {rules.device} at batch {rules.batch_size} (it has: {', '.join(have)}): "
            f"pass --device/--batch-size accordingly, or re-run `seefood bench` with them"
        )
    counts = sorted({r.threads for r in at})
    threads = rules.threads if rules.threads is not None else counts[-1]
    if threads not in counts:
        raise DataError(f"no rows measured with {threads} threads (measured: {counts}): pass --threads one of them")
    if len(counts) > 1 and rules.threads is None:
        log.info("rows exist for threads %s; using %d (pass --threads to choose)", counts, threads)
    return [r for r in at if r.threads == threads], threads


def _check(row: BenchResult, ref: BenchResult | None, rules: PickRules) -> Rejection | None:
    """The first rule `row` fails, or None when it qualifies."""
    if not row.ok or row.latency is None or row.top1 is None:
        return Rejection(row.name, RULE_STATUS, f"{row.status}: {row.reason or 'not measured'}")
    if row.variant:
        return Rejection(
            row.name, RULE_VARIANT,
            f"the reference checkpoint run as eager {row.variant}, benched for comparison: there is no file to deploy "
            f"(export it, e.g. `seefood export --formats torchscript --fp16`)",
        )
    if rules.formats is not None and row.format not in rules.formats:
        return Rejection(row.name, RULE_FORMAT, f"{row.format} is not among --formats {','.join(rules.formats)}")
    if row.parity_passed is False:
        return Rejection(
            row.name, RULE_PARITY,
            "it failed the export's parity check against the fp32 model (see its seefood.json parity.failures); "
            "benched for its speed only",
        )
    if row.accuracy_rule == "failed":
        return Rejection(
            row.name, RULE_ACCURACY_RULE,
            f"its metadata marks it as failing its accuracy rule (metrics.accuracy_rule == 'failed', "
            f"sparsity {row.sparsity:.2f})",
        )
    if ref is None:
        return Rejection(
            row.name, RULE_REFERENCE,
            "no fp32 reference measured on this device/batch: bench an export folder whose export.json names it",
        )
    drop = top1_drop(row, ref)
    if drop is None or drop > rules.max_drop + 1e-9:
        return Rejection(
            row.name, RULE_ACCURACY,
            f"top-1 {row.top1:.2f}% is {drop:.2f} points below the reference's {ref.top1:.2f}% "
            f"(--max-drop {rules.max_drop})",
        )
    if rules.budget_ms is not None and row.latency.p90_ms > rules.budget_ms:
        return Rejection(
            row.name, RULE_BUDGET, f"p90 {row.latency.p90_ms:.2f} ms is over --budget-ms {rules.budget_ms}"
        )
    return None


def _advice(failed: list[tuple[BenchResult, BenchResult, Rejection]], rules: PickRules) -> str:
    """Which constraint to relax (and to what) so that something qualifies."""
    eligible = [(row, ref) for row, ref, rej in failed if rej.rule in (RULE_ACCURACY, RULE_BUDGET)]
    if not eligible:
        return (
            f"no exported artifact was measured OK against a reference on {rules.device} at batch "
            f"{rules.batch_size}: fix the failures listed (re-export, install the backend) and re-run `seefood bench`"
        )

    def drop(row: BenchResult, ref: BenchResult) -> float:
        return top1_drop(row, ref) or 0.0

    def p90(row: BenchResult) -> float:
        return row.latency.p90_ms if row.latency else math.inf

    within_budget = [(drop(r, f), r) for r, f in eligible if rules.budget_ms is None or p90(r) <= rules.budget_ms]
    within_drop = [(p90(r), r) for r, f in eligible if drop(r, f) <= rules.max_drop + 1e-9]
    hints = []
    if within_budget:
        d, r = min(within_budget, key=lambda t: (t[0], t[1].size_bytes))
        hints.append(f"--max-drop {_ceil2(d)} would admit {r.name}")
    if within_drop:
        t, r = min(within_drop, key=lambda t: (t[0], t[1].size_bytes))
        hints.append(f"--budget-ms {_ceil2(t)} would admit {r.name}")
    if not hints:
        r, f = min(eligible, key=lambda rf: drop(*rf))
        hints.append(f"--max-drop {_ceil2(drop(r, f))} --budget-ms {_ceil2(p90(r))} together would admit {r.name}")
    return "relax a constraint: " + "; or ".join(hints)


def select(rows: Sequence[BenchResult], rules: PickRules) -> Decision:
    """Apply the pick rule to bench rows (pure: reads and writes nothing)."""
    at, threads = _rows_for(rows, rules)
    candidates: list[tuple[BenchResult, BenchResult]] = []
    failed: list[tuple[BenchResult, BenchResult, Rejection]] = []
    rejected: list[Rejection] = []
    for row in sorted((r for r in at if not r.is_reference), key=lambda r: r.name):
        ref = reference_for(row, at)
        rejection = _check(row, ref, rules)
        if rejection is None and ref is not None:
            candidates.append((row, ref))
        elif rejection is not None:
            rejected.append(rejection)
            if ref is not None:
                failed.append((row, ref, rejection))
    if not candidates:
        return Decision(rules, threads, None, None, tuple(rejected), advice=_advice(failed, rules))
    smallest = min(c[0].size_bytes for c in candidates)
    limit = smallest * (1 + rules.size_tolerance)

    def rank(c: tuple[BenchResult, BenchResult]) -> tuple[bool, float, int, str]:
        row = c[0]
        return (row.size_bytes > limit, row.latency.p50_ms if row.latency else 0.0, row.size_bytes, row.name)

    ranked = sorted(candidates, key=rank)
    chosen, ref = ranked[0]
    for row, _ in ranked[1:]:
        if row.size_bytes > limit:
            rule, detail = RULE_SIZE, f"qualifies, but {row.size_bytes / 1e6:.2f} MB > {chosen.size_bytes / 1e6:.2f} MB"
        else:
            lat, best = row.latency.p50_ms if row.latency else 0, chosen.latency.p50_ms if chosen.latency else 0
            rule, detail = RULE_LATENCY, (
                f"qualifies, same size as {chosen.name} (within {rules.size_tolerance:.0%}), "
                f"but p50 {lat:.2f} ms >= {best:.2f} ms")
        rejected.append(Rejection(row.name, rule, detail))
    return Decision(rules, threads, chosen, ref, tuple(rejected))


def pick(report: str | Path, rules: PickRules, write: bool = True) -> Decision:
    """Read REPORT/results.jsonl and select; write REPORT/decision.json when something qualifies (and `write`).

    A pick that finds nothing writes nothing: an earlier decision.json (a good decision the Space may be built
    from) is never removed or overwritten by a what-if pick that fails.
    """
    report = Path(report)
    rows = read_results(report)
    if not rows:
        raise DataError(f"{report / RESULTS_JSONL} has no results: run `seefood bench ... --out {report}` first")
    decision = select(rows, rules)
    if decision.chosen is not None and write:
        from seefood.bench.plot import plot_pareto  # matplotlib: only when there is a choice to draw

        written = decision.to_dict()
        target = atomic_write_json(report / DECISION_JSON, written)
        plot_pareto(rows, report / PARETO_PNG, picked=picked_slot(written))  # the plot marks the new choice
        log.info("wrote %s and re-drew %s with the choice marked", target, report / PARETO_PNG)
    return decision
