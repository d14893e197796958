"""The report folder: results.jsonl/csv, report.md (tables, ratios vs the reference, noise), pareto.png, env.json."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from seefood.bench.records import (
    RESULTS_CSV,
    RESULTS_JSONL,
    STATUS_SKIPPED,
    BenchResult,
    write_results_csv,
    write_results_jsonl,
)
from seefood.bench.stats import NOISE_RULE, SPREAD_RULE, speedup, unsteady, wilson_interval, within_noise
from seefood.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

REPORT_MD = "report.md"
PARETO_PNG = "pareto.png"
ENV_JSON = "env.json"
DECISION_JSON = "decision.json"  # written by `seefood pick`

Group = tuple[str, int, int]  # device, batch size, threads


def group_key(row: BenchResult) -> Group:
    """Rows are compared only within the same device, batch size and thread count."""
    return (row.device, row.batch_size, row.threads)


def reference_for(row: BenchResult, rows: Iterable[BenchResult]) -> BenchResult | None:
    """The measured reference row this row is compared with (same device, batch, threads), if any."""
    if row.is_reference:
        return row if row.ok else None
    if row.reference is None:
        return None
    for r in rows:
        if r.is_reference and r.ok and r.path == row.reference and group_key(r) == group_key(row):
            return r
    return None


def top1_drop(row: BenchResult, ref: BenchResult) -> float | None:
    """Points of top-1 lost against the reference (negative: the artifact is better)."""
    if row.top1 is None or ref.top1 is None:
        return None
    return ref.top1 - row.top1


def status_text(row: BenchResult) -> str:
    """A row's status as the summary shows it: ok, why it failed, or what makes its numbers doubtful."""
    if not row.ok:
        return row.status
    notes = []
    if row.parity_passed is False:
        notes.append("failed parity")
    if row.accuracy_rule == "failed":
        notes.append("failed its accuracy rule")
    why = unsteady(row.latency) if row.latency is not None else None
    if why:
        notes.append(f"unsteady timing: {why}")
    return "; ".join(notes) or "ok"


def top1_interval(row: BenchResult) -> tuple[float, float] | None:
    """The 95 % Wilson interval of a row's top-1, in percent (None when it was not measured)."""
    if row.top1 is None or not row.num_images:
        return None
    lo, hi = wilson_interval(round(row.top1 / 100.0 * row.num_images), row.num_images)
    return 100.0 * lo, 100.0 * hi


SUMMARY_COLUMNS = ("artifact", "device", "batch", "ran", "MB", "top-1 % (95 % CI)", "p50 ms", "speed-up", "status")


def summary(rows: list[BenchResult]) -> list[tuple[BenchResult, list[str]]]:
    """(row, cells under SUMMARY_COLUMNS) for every row, grouped by device / batch / threads, reference first.

    The short table `seefood bench` prints and report.md starts with; the device cell names the thread count
    when the report holds more than one.
    """
    several = len({r.threads for r in rows}) > 1
    out = []
    def order(r: BenchResult) -> tuple[str, int, int, str, bool, str]:  # each reference, then what it is compared to
        return (*group_key(r), r.path if r.is_reference else r.reference or "", not r.is_reference, r.name)

    for row in sorted(rows, key=order):
        ref = reference_for(row, rows)
        lat, ref_lat = row.latency, ref.latency if ref is not None else None
        interval = top1_interval(row)
        out.append((row, [
            row.name + (" (ref)" if row.is_reference else ""),
            row.device + (f" ×{row.threads}" if several else ""), str(row.batch_size),
            row.precision_ran or row.precision, _fmt(_mb(row.size_bytes)),
            f"{row.top1:.1f} ({interval[0]:.1f}–{interval[1]:.1f})" if interval and row.top1 is not None
            else _fmt(row.top1, 1),
            _fmt(lat.p50_ms if lat else None),
            _fmt(speedup(ref_lat, lat) if lat and ref_lat else None, 2, "×"),
            status_text(row),
        ]))
    return out


def read_decision(report: str | Path) -> dict[str, Any] | None:
    """REPORT/decision.json as written by an earlier pick (None when there is none or it is unreadable)."""
    try:
        data = json.loads((Path(report) / DECISION_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def picked_slot(decision: dict[str, Any] | None) -> tuple[str, str, int, int] | None:
    """The slot (path, device, batch, threads) of the row a decision chose, for the plot to mark."""
    try:
        return (str(decision["artifact"]), str(decision["device"]), int(decision["batch_size"]),
                int(decision["threads"])) if decision else None
    except (KeyError, TypeError, ValueError):
        return None


def _fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


def _mb(n: int | None) -> float | None:
    return None if n is None else n / 1e6


_COLUMNS = (
    "artifact", "format", "precision (ran)", "status", "size MB", "size × ref", "top-1 %", "Δ top-1", "top-5 %",
    "p50 ms", "p90 ms", "p99 ms", "mean ± std ms", "IQR ms", "runs", "img/s", "speed-up", "≈ ref",
    "preproc ms/img", "load s", "peak RSS MB",
)


def _cells(row: BenchResult, ref: BenchResult | None) -> list[str]:
    lat = row.latency
    ref_lat = ref.latency if ref is not None else None
    delta = row.top1 - ref.top1 if ref is not None and row.top1 is not None and ref.top1 is not None else None
    ran = row.precision if row.precision_ran in (None, row.precision) else f"{row.precision} ({row.precision_ran})"
    return [
        f"**{row.name}** (ref)" if row.is_reference else row.name,
        row.format, ran, status_text(row), _fmt(_mb(row.size_bytes)),
        _fmt(row.size_bytes / ref.size_bytes if ref is not None and ref.size_bytes else None, 3),
        _fmt(row.top1), _fmt(delta, 2), _fmt(row.top5),
        _fmt(lat.p50_ms if lat else None), _fmt(lat.p90_ms if lat else None), _fmt(lat.p99_ms if lat else None),
        f"{lat.mean_ms:.2f} ± {lat.std_ms:.2f}" if lat else "—", _fmt(lat.iqr_ms if lat else None),
        _fmt(lat.runs if lat else None), _fmt(lat.throughput_ips if lat else None, 1),
        _fmt(speedup(ref_lat, lat) if lat and ref_lat else None, 2, "×"),
        ("yes" if within_noise(lat, ref_lat) else "no") if lat and ref_lat and not row.is_reference else "—",
        _fmt(row.preprocess_ms), _fmt(row.load_s), _fmt(row.peak_rss_mb, 1),
    ]


def _table(rows: list[BenchResult], all_rows: list[BenchResult]) -> list[str]:
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for row in sorted(rows, key=lambda r: (not r.is_reference, r.name)):
        lines.append("| " + " | ".join(_cells(row, reference_for(row, all_rows))) + " |")
    return lines


def noisy_pairs(rows: list[BenchResult]) -> list[tuple[BenchResult, BenchResult]]:
    """Pairs of measured rows (same group) whose latencies are within noise of each other."""
    measured = [r for r in rows if r.ok and r.latency is not None]
    return [
        (a, b) for a, b in itertools.combinations(measured, 2)
        if a.latency is not None and b.latency is not None and within_noise(a.latency, b.latency)
    ]


def render_markdown(rows: list[BenchResult], env: dict[str, Any]) -> str:
    """report.md: one table per device / batch size / threads, problems and noise stated."""
    data = env.get("data", {})
    lines = [
        "# seefood bench report", "",
        (
            f"- created: {env.get('date', '?')} on `{env.get('host', '?')}`; CPU: {env.get('cpu_model', '?')} "
            f"({env.get('cores_logical', '?')} logical cores), GPUs: "
            f"{', '.join(g['name'] for g in env.get('gpus', [])) or 'none'}"
        ),
        (
            f"- evaluation: {data.get('images', '?')} images of {data.get('classes', '?')} classes from "
            f"`{data.get('root', '?')}`; accuracy is measured through each artifact's own runtime and preprocessing"
        ),
        (
            "- latency: milliseconds per batch (model only, device-synced), after warm-up; preprocessing is timed "
            "apart (ms per image); ratios are against the fp32 PyTorch reference on the same device, batch and "
            "threads (size × ref < 1: smaller; speed-up > 1: faster, by p50; Δ top-1 in points)"
        ),
        (
            f"- noise rule: two rows are *within noise* when their {NOISE_RULE} (column ≈ ref: within noise "
            "of the reference); their p50 difference is then not evidence that one is faster"
        ),
        (
            f"- unsteady timing: {SPREAD_RULE} (the median is then a poor summary: re-bench on a quiet machine with "
            "--force, or a longer --min-time); top-1 intervals are 95 % Wilson intervals over the evaluation photos"
        ),
        (
            "- peak RSS: growth of this process's resident memory over load + runs, sampled between runs; the "
            "first artifact of a backend also pays for importing that library"
        ),
        "",
        "## Summary",
        "",
        "| " + " | ".join(SUMMARY_COLUMNS) + " |",
        "|" + "---|" * len(SUMMARY_COLUMNS),
        *("| " + " | ".join(cells) + " |" for _, cells in summary(rows)),
        "",
        "Every column, per device, batch size and thread count:",
        "",
    ]
    refs = sorted({r.path for r in rows if r.is_reference})
    if refs:
        lines += ["Reference checkpoint(s): " + ", ".join(f"`{p}`" for p in refs), ""]
    else:
        lines += ["No fp32 reference was measured (no export.json checkpoint): ratios are left out.", ""]
    groups: dict[Group, list[BenchResult]] = {}
    for row in rows:
        groups.setdefault(group_key(row), []).append(row)
    for (device, batch, threads), members in sorted(groups.items()):
        lines += [f"## {device} · batch {batch} · {threads} threads", ""]
        reasons = {r.reason for r in members if r.status == STATUS_SKIPPED}
        if len(reasons) == 1 and all(r.status == STATUS_SKIPPED for r in members):
            lines += [f"All {len(members)} artifacts skipped: {reasons.pop()}", ""]
            continue
        names = {r.device_name for r in members if r.device_name}
        if names:
            lines += [f"Device: {', '.join(sorted(names))}", ""]
        lines += _table(members, rows) + [""]
        problems = [r for r in members if not r.ok]
        if problems:
            lines += ["Not measured:", ""] + [f"- **{r.name}**: {r.status} — {r.reason}" for r in problems] + [""]
        pairs = noisy_pairs(members)
        if pairs:
            lines += ["Within noise of each other (latency):", ""]
            lines += [f"- {a.name} ≈ {b.name}" for a, b in pairs] + [""]
    return "\n".join(lines)


def write_outputs(out: Path, rows: list[BenchResult], env: dict[str, Any]) -> None:
    """Write every file of the report folder atomically."""
    from seefood.bench.plot import plot_pareto

    write_results_jsonl(out / RESULTS_JSONL, rows)
    write_results_csv(out / RESULTS_CSV, rows)
    atomic_write_text(out / REPORT_MD, render_markdown(rows, env))
    atomic_write_json(out / ENV_JSON, env)
    plot_pareto(rows, out / PARETO_PNG, picked=picked_slot(read_decision(out)))
    log.info("wrote %s (%d rows)", out, len(rows))
