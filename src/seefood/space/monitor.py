"""Monitoring report over the Space's prediction log (torch-free: the Space's own tab uses it).

Request count, latency percentiles, low-confidence rate, rejected uploads, requests refused under
load, the predicted-class distribution against the training distribution (PSI drift score, with a
verdict only from `min_drift_requests` predictions on) and a confidence histogram. The report is built
from `LogStats` totals, never from the rows themselves.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seefood.errors import ConfigError
from seefood.space.predlog import format_time, read_info, utc_now
from seefood.space.reference import Reference, load_reference
from seefood.space.stats import HISTOGRAM_BINS, LogStats

PSI_EPSILON = 1e-4  # added to every share before the log ratio, so an empty class does not give infinity
PSI_LEVELS = ((0.1, "none"), (0.25, "moderate"), (math.inf, "significant"))  # the usual PSI reading
OTHER = "(not a model class)"  # predictions whose label the reference does not know
DRIFT_MIN_REQUESTS = 100  # no drift verdict below max(this, DRIFT_PER_CLASS x classes) predictions
DRIFT_PER_CLASS = 10


def min_drift_requests(num_classes: int) -> int:
    """Predictions needed before the report gives a drift verdict: PSI over a handful is noise."""
    return max(DRIFT_MIN_REQUESTS, DRIFT_PER_CLASS * num_classes)


@dataclass(frozen=True)
class MonitorConfig:
    """Which log to read, over which window, against which reference; defaults match the CLI."""

    log: Path
    reference: Path | None = None  # bench report / decision.json / artifact / Space; None: the log's own
    since: str | None = None  # ISO 8601 time or date, inclusive; naive times are UTC
    until: str | None = None  # ISO 8601, exclusive
    low_confidence: float = 0.5  # a prediction whose top-1 probability is below this counts as low

    def __post_init__(self) -> None:
        if not 0.0 < self.low_confidence <= 1.0:
            raise ConfigError(f"--low-confidence must be in (0, 1], got {self.low_confidence}")


@dataclass(frozen=True)
class ClassShare:
    """One class: predicted count and share next to its training share."""

    name: str
    predicted: int
    predicted_share: float
    training_share: float


@dataclass(frozen=True)
class MonitorReport:
    """Everything `seefood monitor` prints, plots and writes as JSON."""

    log: str
    window: dict[str, str | None]  # since / until asked for, first / last request seen
    requests: int  # successful predictions
    rejected: int  # uploads refused with a message
    busy: int  # requests refused under load ("busy, retry")
    rejection_reasons: dict[str, int]  # message -> count, most frequent first
    latency_ms: dict[str, float] | None  # model time p50/p90/p99/mean/max; None without requests
    total_ms: dict[str, float] | None  # end-to-end request time, same keys
    latency_requests: int  # how many predictions the percentiles cover (the most recent ones)
    reference_latency_ms: dict[str, float] | None  # what the benchmark measured, if known
    low_confidence: dict[str, float]  # threshold, count, rate
    training_distribution: str  # where the training shares came from (or that they are uniform)
    classes: tuple[ClassShare, ...]
    psi: float | None
    drift: str | None  # none / moderate / significant; None below drift_min_requests predictions
    drift_min_requests: int
    confidence_histogram: dict[str, list[float]]  # edges (bins + 1) and counts
    created: str = field(default_factory=utc_now)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["classes"] = [vars(c) for c in self.classes]
        out["psi_epsilon"] = PSI_EPSILON
        return out


def parse_time(text: str | None, option: str) -> str | None:
    """An ISO 8601 date or time (naive = UTC) in the log's text form; ConfigError when unreadable."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not an ISO 8601 time: use e.g. 2025-01-31 or 2025-01-31T12:00") from None
    return format_time(moment)


def population_stability_index(actual: Sequence[float], expected: Sequence[float], eps: float = PSI_EPSILON) -> float:
    """PSI = sum (a - e) * ln(a / e) over classes, after adding eps to every share and renormalising."""
    a = np.asarray(actual, dtype=np.float64) + eps
    e = np.asarray(expected, dtype=np.float64) + eps
    a, e = a / a.sum(), e / e.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def drift_level(psi: float) -> str:
    """none (< 0.1), moderate (< 0.25) or significant."""
    return next(level for limit, level in PSI_LEVELS if psi < limit)


def _percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(arr.mean()), "max": float(arr.max())}


def _class_shares(counts: Counter[str], reference: Reference) -> tuple[ClassShare, ...]:
    n = max(sum(counts.values()), 1)
    rows = [ClassShare(name, counts.get(name, 0), counts.get(name, 0) / n, share)
            for name, share in zip(reference.class_names, reference.shares)]
    known = set(reference.class_names)
    other = sum(c for label, c in counts.items() if label not in known)
    if other:
        rows.append(ClassShare(OTHER, other, other / n, 0.0))
    return tuple(rows)


def build_report(stats: LogStats, reference: Reference, log: str = "", since: str | None = None,
                 until: str | None = None) -> MonitorReport:
    """Summarise a log's totals against a reference."""
    stats = stats.snapshot()
    classes = _class_shares(stats.labels, reference)
    psi = population_stability_index([c.predicted_share for c in classes],
                                      [c.training_share for c in classes]) if stats.ok else None
    needed = min_drift_requests(len(reference.class_names))
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    return MonitorReport(
        log=log,
        window={"since": since, "until": until, "first": stats.first, "last": stats.last},
        requests=stats.ok,
        rejected=stats.rejected,
        busy=stats.busy,
        rejection_reasons=dict(stats.reasons.most_common()),
        latency_ms=_percentiles(stats.model_ms),
        total_ms=_percentiles(stats.total_ms),
        latency_requests=len(stats.model_ms),
        reference_latency_ms=reference.latency_ms,
        low_confidence={"threshold": stats.low_threshold, "count": stats.low,
                        "rate": stats.low / stats.ok if stats.ok else 0.0},
        training_distribution=reference.source,
        classes=classes,
        psi=psi,
        drift=drift_level(psi) if psi is not None and stats.ok >= needed else None,
        drift_min_requests=needed,
        confidence_histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in stats.histogram]},
    )


def _reference_for(config: MonitorConfig, stats: LogStats) -> Reference:
    """--reference, else what the Space stored in the log, else uniform over the labels seen."""
    if config.reference is not None:
        return load_reference(config.reference)
    info = read_info(config.log)
    if "reference" in info:
        return Reference.from_info(info["reference"])
    names = tuple(sorted(label for label in stats.labels if label))
    source = "uniform over the classes seen in the log (no --reference and none stored in the log)"
    return Reference(names, tuple(1.0 / len(names) for _ in names) if names else (), source)


def monitor_log(config: MonitorConfig) -> MonitorReport:
    """Aggregate the log over the configured window (in SQL) and build the report."""
    since = parse_time(config.since, "--since")
    until = parse_time(config.until, "--until")
    if since and until and since >= until:
        raise ConfigError(f"--since {config.since} is not before --until {config.until}")
    stats = LogStats.from_log(config.log, config.low_confidence, since, until)
    return build_report(stats, _reference_for(config, stats), str(config.log), since, until)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fmt(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:.2f}{unit}"


def drift_text(report: MonitorReport) -> str:
    """The drift line: the PSI and its verdict, or why there is no verdict yet."""
    if report.psi is None:
        return "no predictions yet"
    if report.drift is None:
        return (f"PSI {report.psi:.2f} over {report.requests} predictions: no verdict below "
                f"{report.drift_min_requests} predictions (too few to tell drift from chance)")
    return f"PSI {report.psi:.2f} ({report.drift}) over {report.requests} predictions"


def report_markdown(report: MonitorReport) -> str:
    """The report as Markdown (the Space's owner view)."""
    lat, ref = report.latency_ms or {}, report.reference_latency_ms or {}
    lines = [
        (f"**Requests:** {report.requests} predicted, {report.rejected} rejected, {report.busy} refused as busy "
        f"({report.window['first'] or '–'} … {report.window['last'] or '–'})"),
        "",
        f"| latency (model) over the last {report.latency_requests} predictions | p50 | p90 | p99 |",
        "|---|---|---|---|",
        f"| served | {_fmt(lat.get('p50'), ' ms')} | {_fmt(lat.get('p90'), ' ms')} | {_fmt(lat.get('p99'), ' ms')} |",
    ]
    if ref:
        lines.append(f"| benchmark | {_fmt(ref.get('p50'), ' ms')} | {_fmt(ref.get('p90'), ' ms')} | "
                     f"{_fmt(ref.get('p99'), ' ms')} |")
    low = report.low_confidence
    lines += [
        "",
        f"**Low confidence** (top-1 < {low['threshold']:.2f}): {int(low['count'])} ({low['rate']:.1%})",
        "",
        f"**Drift:** {drift_text(report)}; training distribution: {report.training_distribution}",
        "",
        "| class | predicted | share | training share |",
        "|---|---|---|---|",
    ]
    lines += [f"| {_cell(c.name)} | {c.predicted} | {c.predicted_share:.1%} | {c.training_share:.1%} |"
              for c in report.classes]
    hist = report.confidence_histogram
    peak = max(hist["counts"]) if any(hist["counts"]) else 1
    lines += ["", "**Confidence histogram**", "", "```"]
    lines += [f"{lo:.1f}–{hi:.1f} {'█' * round(20 * c / peak):<20} {int(c)}"
              for lo, hi, c in zip(hist["edges"][:-1], hist["edges"][1:], hist["counts"])]
    lines.append("```")
    if report.rejection_reasons:
        lines += ["", "| rejected because | count |", "|---|---|"]
        lines += [f"| {_cell(reason)} | {n} |" for reason, n in list(report.rejection_reasons.items())[:10]]
    return "\n".join(lines)
