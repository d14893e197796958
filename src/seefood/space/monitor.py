"""Monitoring report over the Space's prediction log (torch-free: the Space's own tab uses it).

Request count, latency percentiles, low-confidence rate, rejected uploads, the predicted-class
distribution against the training distribution (PSI drift score) and a confidence histogram.
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
from seefood.space.predlog import LogRow, format_time, read_info, read_rows, utc_now
from seefood.space.reference import Reference, load_reference

PSI_EPSILON = 1e-4  # added to every share before the log ratio, so an empty class does not give infinity
PSI_LEVELS = ((0.1, "none"), (0.25, "moderate"), (math.inf, "significant"))  # the usual PSI reading
OTHER = "(not a model class)"  # predictions whose label the reference does not know
HISTOGRAM_BINS = 10


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
    rejection_reasons: dict[str, int]  # message -> count, most frequent first
    latency_ms: dict[str, float] | None  # model time p50/p90/p99/mean/max; None without requests
    total_ms: dict[str, float] | None  # end-to-end request time, same keys
    reference_latency_ms: dict[str, float] | None  # what the benchmark measured, if known
    low_confidence: dict[str, float]  # threshold, count, rate
    training_distribution: str  # where the training shares came from (or that they are uniform)
    classes: tuple[ClassShare, ...]
    psi: float | None
    drift: str | None  # none / moderate / significant
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


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=np.float64)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(arr.mean()), "max": float(arr.max())}


def _class_shares(ok: list[LogRow], reference: Reference) -> tuple[ClassShare, ...]:
    counts = Counter(r.label for r in ok)
    n = max(len(ok), 1)
    rows = [ClassShare(name, counts.get(name, 0), counts.get(name, 0) / n, share)
            for name, share in zip(reference.class_names, reference.shares)]
    other = sum(c for label, c in counts.items() if label not in set(reference.class_names))
    if other:
        rows.append(ClassShare(OTHER, other, other / n, 0.0))
    return tuple(rows)


def build_report(
    rows: Sequence[LogRow], reference: Reference, low_confidence: float = 0.5, log: str = "",
    since: str | None = None, until: str | None = None,
) -> MonitorReport:
    """Summarise log rows against a reference."""
    ok = [r for r in rows if r.status == "ok" and r.confidence is not None]
    rejected = [r for r in rows if r.status != "ok"]
    confidences = [float(r.confidence) for r in ok if r.confidence is not None]
    low = sum(1 for c in confidences if c < low_confidence)
    classes = _class_shares(ok, reference)
    psi = population_stability_index([c.predicted_share for c in classes],
                                     [c.training_share for c in classes]) if ok else None
    counts, edges = np.histogram(confidences, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return MonitorReport(
        log=log,
        window={"since": since, "until": until, "first": rows[0].time if rows else None,
                "last": rows[-1].time if rows else None},
        requests=len(ok),
        rejected=len(rejected),
        rejection_reasons=dict(Counter(r.error or "" for r in rejected).most_common()),
        latency_ms=_percentiles([float(r.model_ms) for r in ok if r.model_ms is not None]),
        total_ms=_percentiles([float(r.total_ms) for r in ok if r.total_ms is not None]),
        reference_latency_ms=reference.latency_ms,
        low_confidence={"threshold": low_confidence, "count": low, "rate": low / len(ok) if ok else 0.0},
        training_distribution=reference.source,
        classes=classes,
        psi=psi,
        drift=drift_level(psi) if psi is not None else None,
        confidence_histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    )


def _reference_for(config: MonitorConfig, rows: Sequence[LogRow]) -> Reference:
    """--reference, else what the Space stored in the log, else uniform over the labels seen."""
    if config.reference is not None:
        return load_reference(config.reference)
    info = read_info(config.log)
    if "reference" in info:
        return Reference.from_info(info["reference"])
    names = tuple(sorted({r.label for r in rows if r.label}))
    source = "uniform over the classes seen in the log (no --reference and none stored in the log)"
    return Reference(names, tuple(1.0 / len(names) for _ in names) if names else (), source)


def monitor_log(config: MonitorConfig) -> MonitorReport:
    """Read the log over the configured window and build the report."""
    since = parse_time(config.since, "--since")
    until = parse_time(config.until, "--until")
    if since and until and since >= until:
        raise ConfigError(f"--since {config.since} is not before --until {config.until}")
    rows = read_rows(config.log, since, until)
    reference = _reference_for(config, rows)
    return build_report(rows, reference, config.low_confidence, str(config.log), since, until)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fmt(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:.2f}{unit}"


def report_markdown(report: MonitorReport) -> str:
    """The report as Markdown (the Space's Monitoring tab)."""
    lat, ref = report.latency_ms or {}, report.reference_latency_ms or {}
    lines = [
        (f"**Requests:** {report.requests} predicted, {report.rejected} rejected "
        f"({report.window['first'] or '–'} … {report.window['last'] or '–'})"),
        "",
        "| latency (model) | p50 | p90 | p99 |",
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
        (f"**Drift:** PSI = {_fmt(report.psi)} ({report.drift or 'no data'}); training distribution: "
        f"{report.training_distribution}"),
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
    return "\n".join(lines)
