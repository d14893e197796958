"""Benchmark every exported artifact (accuracy through its own runtime vs latency) and pick the deploy target."""

from seefood.bench.config import BenchConfig
from seefood.bench.pick import Decision, PickRules, Rejection, pick, select
from seefood.bench.records import BenchResult, read_results
from seefood.bench.runner import BenchRun, run_bench
from seefood.bench.stats import LatencyStats, percentile, summarize, within_noise

__all__ = [
    "BenchConfig", "BenchResult", "BenchRun", "Decision", "LatencyStats", "PickRules", "Rejection", "percentile",
    "pick", "read_results", "run_bench", "select", "summarize", "within_noise",
]
