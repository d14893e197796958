"""A quick b=1 latency check of sibling artifacts, timed round-robin so background load hits all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import numpy as np

from seefood.export.artifact import ExportContext, describe_error
from seefood.export.report import PASSED, ArtifactRow
from seefood.runtimes import load_runtime
from seefood.runtimes.base import Runtime
from seefood.threads import POOL_IDLE_S

WARMUP = 3  # untimed calls per runtime first (allocations, kernel selection, caches)


def interleaved_latency_ms(runtimes: Sequence[Runtime], sample: np.ndarray, runs: int = 20) -> list[float]:
    """Median milliseconds per call of each runtime on `sample`, the runs interleaved A B C A B C ...

    Each turn starts after POOL_IDLE_S of idle and one untimed call, so the runtime before it no longer holds
    the cores (its worker threads spin for a while after a run)."""
    for runtime in runtimes:
        for _ in range(WARMUP):
            runtime.run(sample)
        runtime.sync()
    times: list[list[float]] = [[] for _ in runtimes]
    for _ in range(runs):
        for i, runtime in enumerate(runtimes):
            time.sleep(POOL_IDLE_S)
            runtime.run(sample)
            runtime.sync()
            start = time.perf_counter()
            runtime.run(sample)
            runtime.sync()  # queued device work must finish before the clock is read
            times[i].append(time.perf_counter() - start)
    return [1000.0 * statistics.median(t) for t in times]


def add_latency(ctx: ExportContext, rows: list[ArtifactRow]) -> list[ArtifactRow]:
    """Quick b=1 latency of every passed artifact, siblings of one format timed together; flags slow int8."""
    if ctx.config.latency_runs == 0 or len(ctx.parity) == 0:
        return rows
    sample = np.ascontiguousarray(ctx.parity.inputs[:1])
    out = list(rows)
    for fmt in dict.fromkeys(r.format for r in rows):
        group = [i for i, r in enumerate(out) if r.format == fmt and r.status == PASSED and r.path]
        if not group:
            continue
        try:
            runtimes = [load_runtime(ctx.root / str(out[i].path), device=ctx.runtime_device(fmt),
                                     threads=ctx.config.resolved_threads) for i in group]
            times = interleaved_latency_ms(runtimes, sample, ctx.config.latency_runs)
        except Exception as exc:  # noqa: BLE001 -- orchestrator: a timing problem must not hide the export results; it is noted
            note = f"latency check failed: {describe_error(exc)}"
            for i in group:
                out[i] = out[i].with_(notes=(*out[i].notes, note))
            continue
        for i, rt, ms in zip(group, runtimes, times):
            out[i] = out[i].with_(latency_ms=round(ms, 3), precision_ran=rt.precision_ran)
        del runtimes
        out = _flag_slow_int8(out, fmt)
    return out


def _flag_slow_int8(rows: list[ArtifactRow], fmt: str) -> list[ArtifactRow]:
    """Say plainly whether the int8 artifact beats its own fp32 sibling at b=1."""
    by_precision = {r.precision: r for r in rows if r.format == fmt and r.latency_ms is not None}
    int8, fp32 = by_precision.get("int8"), by_precision.get("fp32")
    if int8 is None or fp32 is None or int8.latency_ms is None or fp32.latency_ms is None:
        return rows
    ratio = fp32.latency_ms / int8.latency_ms
    if ratio <= 1.0:
        note = (f"int8 is NOT faster than fp32 here ({int8.latency_ms:.2f} ms vs {fp32.latency_ms:.2f} ms at b=1): "
                f"it is not worth deploying on this machine")
    else:
        note = f"int8 is {ratio:.2f}x faster than fp32 at b=1 ({int8.latency_ms:.2f} vs {fp32.latency_ms:.2f} ms)"
    return [r.with_(notes=(*r.notes, note)) if r is int8 else r for r in rows]
