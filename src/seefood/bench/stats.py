"""Latency statistics on raw timings (pure numpy): percentiles, spread, and the within-noise rule.

The noise rule, stated once: two latency distributions are *within noise* of each other when
their interquartile ranges [p25, p75] overlap. The middle half of the runs of one variant then
contains times the other variant also produced, so the difference of their medians is not
evidence that one is faster. It is deliberately conservative: it needs no distribution
assumption and is robust to the slow outliers (GC, scheduler, turbo) that skew means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NOISE_RULE = "interquartile ranges [p25, p75] overlap"

# A row's timing is *unsteady* (marked in the bench table, report.md and the plot) when the middle half of its
# runs spreads over more than MAX_IQR_SHARE of its median, or its slowest tenth takes more than MAX_P90_RATIO x
# the median. On a quiet machine both stay far below (IQR ~2-10 % of p50, p90 ~1.05-1.2 x p50); past them the
# median is a poor summary (a busy machine, frequency scaling, a GC, a runtime recompiling) and so is any ratio
# built on it: re-bench on a quiet machine (--force), or with more --min-time.
MAX_IQR_SHARE = 0.25
MAX_P90_RATIO = 1.5
SPREAD_RULE = f"IQR > {MAX_IQR_SHARE:.0%} of p50, or p90 > {MAX_P90_RATIO} x p50"


@dataclass(frozen=True)
class LatencyStats:
    """Summary of timed runs of one batch; every time is milliseconds per batch."""

    runs: int  # timed runs after warm-up
    batch_size: int  # images per run
    total_s: float  # wall time of the timed runs
    mean_ms: float
    std_ms: float  # sample standard deviation (ddof=1; 0 for a single run)
    min_ms: float
    p25_ms: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def iqr_ms(self) -> float:
        """Interquartile range, p75 - p25."""
        return self.p75_ms - self.p25_ms

    @property
    def throughput_ips(self) -> float:
        """Images per second over the timed runs."""
        return self.runs * self.batch_size / self.total_s if self.total_s > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (derived values included for readers of the file)."""
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["iqr_ms"] = self.iqr_ms
        d["throughput_ips"] = self.throughput_ips
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LatencyStats:
        """Inverse of to_dict (derived values are recomputed, not read)."""
        return cls(**{name: d[name] for name in cls.__dataclass_fields__})


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within 0..100, got {q}")
    return float(np.percentile(arr, q))


def summarize(times_s: Sequence[float] | np.ndarray, batch_size: int) -> LatencyStats:
    """Seconds per run (one entry per timed run) -> LatencyStats in milliseconds."""
    arr = np.asarray(times_s, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("no timed runs to summarize")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    ms = arr * 1000.0
    p25, p50, p75, p90, p99 = (float(v) for v in np.percentile(ms, [25, 50, 75, 90, 99]))
    return LatencyStats(
        runs=int(arr.size),
        batch_size=batch_size,
        total_s=float(arr.sum()),
        mean_ms=float(ms.mean()),
        std_ms=float(ms.std(ddof=1)) if arr.size > 1 else 0.0,
        min_ms=float(ms.min()),
        p25_ms=p25,
        p50_ms=p50,
        p75_ms=p75,
        p90_ms=p90,
        p99_ms=p99,
        max_ms=float(ms.max()),
    )


def within_noise(a: LatencyStats, b: LatencyStats) -> bool:
    """True when the two latency distributions cannot be told apart (see NOISE_RULE)."""
    return a.p25_ms <= b.p75_ms and b.p25_ms <= a.p75_ms


def speedup(reference: LatencyStats, other: LatencyStats) -> float:
    """How many times faster `other` is than `reference`, by median (> 1: faster)."""
    return reference.p50_ms / other.p50_ms if other.p50_ms > 0 else float("nan")


def unsteady(stats: LatencyStats) -> str | None:
    """Why a row's timing spread is too wide to trust its median (see SPREAD_RULE), None when it is steady."""
    if stats.p50_ms <= 0:
        return None
    iqr_share, tail = stats.iqr_ms / stats.p50_ms, stats.p90_ms / stats.p50_ms
    if iqr_share > MAX_IQR_SHARE:
        return f"IQR {iqr_share:.0%} of p50"
    if tail > MAX_P90_RATIO:
        return f"p90 {tail:.1f}x p50"
    return None


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a proportion, as fractions in [0, 1].

    Accuracy on a few hundred photos is uncertain by several points: two artifacts whose intervals overlap
    are not shown to differ (250 photos: 2 more right is 0.8 points, well inside either interval).
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * float(np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
