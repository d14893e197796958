"""Latency statistics on synthetic timings, and the timing loop's warm-up, run count and device sync."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from seefood.bench.measure import measure_latency
from seefood.bench.stats import LatencyStats, percentile, speedup, summarize, within_noise

from .fakes import PRE, meta_for


def _stats(times_ms: list[float], batch: int = 1) -> LatencyStats:
    return summarize([t / 1000.0 for t in times_ms], batch_size=batch)


def test_summarize_matches_independent_quantiles() -> None:
    rng = np.random.default_rng(1)
    times_ms = list(rng.lognormal(mean=1.0, sigma=0.4, size=257))
    s = _stats(times_ms, batch=4)
    cuts = statistics.quantiles(times_ms, n=100, method="inclusive")  # cuts[k-1] is the k-th percentile
    assert s.p25_ms == pytest.approx(cuts[24])
    assert s.p50_ms == pytest.approx(statistics.median(times_ms))
    assert s.p75_ms == pytest.approx(cuts[74])
    assert s.p90_ms == pytest.approx(cuts[89])
    assert s.p99_ms == pytest.approx(cuts[98])
    assert s.iqr_ms == pytest.approx(cuts[74] - cuts[24])
    assert s.mean_ms == pytest.approx(statistics.fmean(times_ms))
    assert s.std_ms == pytest.approx(statistics.stdev(times_ms))
    assert (s.min_ms, s.max_ms, s.runs) == (pytest.approx(min(times_ms)), pytest.approx(max(times_ms)), 257)
    assert s.throughput_ips == pytest.approx(257 * 4 / (sum(times_ms) / 1000.0))
    assert s.min_ms <= s.p25_ms <= s.p50_ms <= s.p75_ms <= s.p90_ms <= s.p99_ms <= s.max_ms


def test_single_run_has_zero_spread_and_round_trips() -> None:
    s = _stats([3.0])
    assert s.std_ms == 0.0 and s.iqr_ms == 0.0 and s.p50_ms == pytest.approx(3.0)
    assert LatencyStats.from_dict(s.to_dict()) == s


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="no timed runs"):
        summarize([], batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        summarize([0.1], batch_size=0)
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_within_noise_is_iqr_overlap_and_symmetric() -> None:
    rng = np.random.default_rng(2)
    base = list(10.0 + rng.normal(0, 0.5, 200))
    same = list(10.2 + rng.normal(0, 0.5, 200))  # medians differ by less than the spread
    far = list(14.0 + rng.normal(0, 0.5, 200))
    a, b, c = _stats(base), _stats(same), _stats(far)
    assert within_noise(a, b) and within_noise(b, a)
    assert not within_noise(a, c) and not within_noise(c, a)
    assert speedup(c, a) == pytest.approx(c.p50_ms / a.p50_ms) and speedup(c, a) > 1.0


class _Clock:
    """A fake perf_counter that advances only when the fake model runs."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads: list[str] = []

    def __call__(self) -> float:
        self.reads.append("clock")
        return self.now


class _TimedRuntime:
    def __init__(self, clock: _Clock, seconds_per_run: float) -> None:
        self.clock, self.step = clock, seconds_per_run
        self.meta = meta_for(("a", "b"))
        self.pending = False

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.pending = True  # "queued" work: only sync() completes it
        return np.zeros((batch.shape[0], 2), dtype=np.float32)

    def sync(self) -> None:
        assert self.pending, "sync called without a run"
        self.clock.now += self.step
        self.pending = False
        self.clock.reads.append("sync")


def test_measure_latency_syncs_before_reading_the_clock_and_runs_enough() -> None:
    clock = _Clock()
    rt = _TimedRuntime(clock, seconds_per_run=0.1)
    batch = np.zeros((2, 3, PRE.crop, PRE.crop), dtype=np.float32)
    timing = measure_latency(rt, batch, warmup=2, min_runs=3, min_time_s=1.0, clock=clock)  # type: ignore[arg-type]
    # min_time 1.0 s at 0.1 s per run needs 10 runs, more than min_runs
    assert timing.stats.runs == 10
    assert timing.stats.p50_ms == pytest.approx(100.0)
    assert timing.first_run_ms == pytest.approx(100.0)
    assert timing.stats.batch_size == 2 and timing.stats.throughput_ips == pytest.approx(20.0)
    # every timed interval closes with a sync before its clock read
    reads = clock.reads
    for i, event in enumerate(reads):
        if event == "sync":
            assert reads[i + 1] == "clock"


def test_measure_latency_min_runs_dominates_when_time_is_short() -> None:
    clock = _Clock()
    rt = _TimedRuntime(clock, seconds_per_run=0.5)
    batch = np.zeros((1, 3, PRE.crop, PRE.crop), dtype=np.float32)
    timing = measure_latency(rt, batch, warmup=0, min_runs=7, min_time_s=1.0, clock=clock)  # type: ignore[arg-type]
    assert timing.stats.runs == 7 and timing.first_run_ms is None
