"""Measure one loaded runtime: latency (warm-up, timed runs, device sync), accuracy, preprocessing, memory."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from seefood.bench.evalset import EvalSet, open_image
from seefood.bench.stats import LatencyStats, summarize
from seefood.errors import ModelError
from seefood.preprocessing import Preprocessing
from seefood.runtimes import Runtime

Clock = Callable[[], float]
_MB = 1024.0 * 1024.0


def current_rss_bytes() -> int:
    """Resident set size of this process now (psutil, else /proc/self/statm, else 0)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        pass
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class MemoryMeter:
    """Peak growth of process RSS over a baseline, sampled between runs; CUDA peak via torch's allocator."""

    def __init__(self, device: str) -> None:
        self.baseline = current_rss_bytes()
        self.peak = self.baseline
        # torch is only consulted when a torch-based runtime already imported it (ONNX/OpenVINO stay torch-free)
        self._torch: Any = sys.modules.get("torch") if device.startswith("cuda") else None
        if self._torch is not None and self._torch.cuda.is_available():
            self._torch.cuda.reset_peak_memory_stats()
            self._cuda_base = self._torch.cuda.memory_allocated()
        else:
            self._torch = None

    def sample(self) -> None:
        """Record the current RSS if it is a new peak."""
        self.peak = max(self.peak, current_rss_bytes())

    @property
    def peak_rss_mb(self) -> float:
        """Peak RSS above the baseline, in MiB."""
        return max(0, self.peak - self.baseline) / _MB

    @property
    def cuda_peak_mb(self) -> float | None:
        """Peak torch CUDA allocation above the baseline in MiB (None off CUDA or without torch)."""
        if self._torch is None:
            return None
        return max(0, self._torch.cuda.max_memory_allocated() - self._cuda_base) / _MB


@dataclass(frozen=True)
class Timing:
    """Result of measure_latency."""

    first_run_ms: float | None  # the cold first call (None when warmup == 0)
    stats: LatencyStats


def _timed_call(runtime: Runtime, batch: np.ndarray, clock: Clock) -> float:
    t0 = clock()
    runtime.run(batch)
    runtime.sync()  # queued device work must finish before the clock is read
    return clock() - t0


def measure_latency(
    runtime: Runtime, batch: np.ndarray, warmup: int, min_runs: int, min_time_s: float,
    meter: MemoryMeter | None = None, clock: Clock = time.perf_counter,
) -> Timing:
    """Warm up, then time runs until there are at least `min_runs` and at least `min_time_s` of them."""
    first = None
    for i in range(warmup):
        elapsed = _timed_call(runtime, batch, clock)
        if i == 0:
            first = elapsed * 1000.0
        if meter:
            meter.sample()
    times: list[float] = []
    start = clock()
    while len(times) < min_runs or clock() - start < min_time_s:
        times.append(_timed_call(runtime, batch, clock))
        if meter:
            meter.sample()
    return Timing(first_run_ms=first, stats=summarize(times, batch_size=int(batch.shape[0])))


def latency_batch(evalset: EvalSet, preprocessing: Preprocessing, batch_size: int) -> np.ndarray:
    """A real preprocessed batch of evaluation images (repeated when there are fewer than batch_size)."""
    paths = [evalset.samples[i].path for i in range(min(batch_size, len(evalset)))]
    x = preprocessing.batch([open_image(p) for p in paths])
    reps = -(-batch_size // x.shape[0])
    return np.ascontiguousarray(np.concatenate([x] * reps)[:batch_size])


@dataclass(frozen=True)
class Accuracy:
    """Result of measure_accuracy."""

    top1: float  # percent
    top5: float  # percent, k = min(5, classes)
    num_images: int
    batch_size: int
    preprocess_ms: float  # per image, preprocessing only (decode excluded)


def measure_accuracy(
    runtime: Runtime, evalset: EvalSet, labels_to_model: np.ndarray, batch_size: int,
    on_batch: Callable[[int], None] | None = None, meter: MemoryMeter | None = None,
) -> Accuracy:
    """Top-1/top-5 through the runtime, with its own deployment preprocessing (meta.preprocessing.batch)."""
    pre = runtime.meta.preprocessing
    num_classes = runtime.meta.num_classes
    k = min(5, num_classes)
    correct1 = correct5 = 0
    pre_s = 0.0
    samples = evalset.samples
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        images = [open_image(s.path) for s in chunk]
        t0 = time.perf_counter()
        x = pre.batch(images)
        pre_s += time.perf_counter() - t0
        n = len(chunk)
        if n < batch_size:  # pad the last chunk so static-shape engines see the shape they were built for
            x = np.concatenate([x, np.repeat(x[-1:], batch_size - n, axis=0)])
        logits = np.asarray(runtime.run(x))
        if logits.ndim != 2 or logits.shape[0] != batch_size or logits.shape[1] != num_classes:
            raise ModelError(
                f"the runtime returned logits of shape {logits.shape} for a batch of {batch_size}; expected "
                f"({batch_size}, {num_classes}) as its metadata says: re-export the artifact"
            )
        targets = labels_to_model[np.asarray([s.label for s in chunk])]
        top = np.argsort(-logits[:n], axis=1, kind="stable")[:, :k]
        correct1 += int((top[:, 0] == targets).sum())
        correct5 += int((top == targets[:, None]).any(axis=1).sum())
        if meter:
            meter.sample()
        if on_batch:
            on_batch(n)
    total = len(samples)
    return Accuracy(
        top1=100.0 * correct1 / total, top5=100.0 * correct5 / total, num_images=total,
        batch_size=batch_size, preprocess_ms=1000.0 * pre_s / total,
    )
