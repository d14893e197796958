"""`seefood latency A B ...`: b=N latency of several artifacts measured interleaved (A B C A B C ...).

`seefood bench` measures one artifact after the other, which is right for a full report but lets a
background job or a thermal drift land on one artifact only: on a shared 2-core VM identical runs drift
15-30 %. When two artifacts are close (pruned vs unpruned int8, recipe A vs recipe B), timing them in
alternation makes every disturbance hit all of them alike, so their ratio is trustworthy even when the
absolute numbers move. They alternate in blocks: each turn first idles for POOL_IDLE_S and runs the artifact
once untimed, because the runtime before it may still hold the cores (ONNX Runtime's and ExecuTorch's worker
threads spin after a run, OpenVINO's and OpenMP's pools wind down: without the idle, an ExecuTorch program
timed right after ONNX Runtime looked 1.8x slower than alone), then times `block` runs.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seefood.bench.stats import LatencyStats, speedup, summarize, within_noise
from seefood.errors import ConfigError
from seefood.threads import POOL_IDLE_S, resolve_threads
from seefood.versions import library_versions


@dataclass(frozen=True)
class InterleavedRow:
    """One artifact of an interleaved run."""

    path: str
    format: str | None
    precision: str | None
    precision_ran: str | None
    latency: LatencyStats
    ratio: float  # p50 of this row / p50 of the first row (< 1: faster than the first)
    within_noise_of_first: bool
    variant: str = ""  # the eager variant a checkpoint ran as (seefood.runtimes.variants); "" for the rest

    @property
    def label(self) -> str:
        """The path, with the eager variant it ran as: CKPT (bf16) (no square brackets: rich reads them as markup)."""
        return f"{self.path} ({self.variant})" if self.variant else self.path

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "variant": self.variant, "format": self.format, "precision": self.precision,
                "precision_ran": self.precision_ran, "latency": self.latency.to_dict(), "ratio": self.ratio,
                "within_noise_of_first": self.within_noise_of_first}


@dataclass(frozen=True)
class InterleavedReport:
    """Every row, how they were measured, and on what."""

    rows: tuple[InterleavedRow, ...]
    device: str
    batch_size: int
    threads: int
    rounds: int
    warmup: int
    block: int = 1  # timed runs per artifact per round (after one untimed settling run)
    idle_s: float = POOL_IDLE_S  # idle before each artifact's turn (seefood.threads.POOL_IDLE_S)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "batch_size": self.batch_size, "threads": self.threads,
                "rounds": self.rounds, "warmup": self.warmup, "block": self.block, "idle_s": self.idle_s,
                "created": self.created,
                "versions": library_versions(), "rows": [r.to_dict() for r in self.rows]}


def interleaved_times(
    calls: Sequence[Callable[[], Any]], rounds: int, warmup: int, block: int = 1, settle: int = 0,
    idle_s: float = 0.0,
) -> list[list[float]]:
    """Seconds per call: every call warmed up, then `rounds` rounds in which each call in turn idles `idle_s`,
    runs `settle` times untimed and `block` times timed."""
    if rounds < 1 or warmup < 0 or block < 1 or settle < 0:
        raise ConfigError(f"rounds and block must be >= 1, warmup and settle >= 0; got {rounds}, {block}, "
                          f"{warmup}, {settle}")
    for call in calls:
        for _ in range(warmup):
            call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for i, call in enumerate(calls):
            if idle_s > 0:
                time.sleep(idle_s)
            for _ in range(settle):
                call()
            for _ in range(block):
                start = time.perf_counter()
                call()
                times[i].append(time.perf_counter() - start)
    return times


def interleaved_latency(
    artifacts: Sequence[Path], batch_size: int = 1, rounds: int = 30, warmup: int = 10, threads: int | None = None,
    device: str = "cpu", seed: int = 0, block: int = 5, variants: Sequence[str] = (),
) -> InterleavedReport:
    """Load every artifact, then time `runtime.run` on one shared input batch in alternating blocks.

    threads: intra-op threads of every runtime (None: seefood.threads.default_threads()), recorded in the report.
    variants: eager variants (seefood.runtimes.variants) to time as well: each checkpoint folder among
    `artifacts` once more per variant, after the artifacts. One that cannot run on `device` is an error here.
    """
    from seefood.runtimes import load_runtime, read_artifact_meta
    from seefood.runtimes.variants import get_variant

    for name in variants:
        get_variant(name)  # an unknown name fails before anything is loaded
    plan = [(Path(a), "") for a in artifacts]
    checkpoints = [p for p, _ in plan if read_artifact_meta(p).format == "pytorch"]
    if variants and not checkpoints:
        raise ConfigError("eager variants run checkpoint folders: name one among the paths (e.g. runs/NAME/best)")
    plan += [(p, v) for p in checkpoints for v in variants]
    if len(plan) < 2:
        raise ConfigError("name at least two artifacts to compare (the first is the baseline of the ratios)")
    if batch_size < 1 or (threads is not None and threads < 1):
        raise ConfigError(f"--batch-size and --threads must be >= 1, got {batch_size} and {threads}")
    threads = resolve_threads(threads)
    runtimes = [load_runtime(p, device=device, threads=threads, variant=v) for p, v in plan]
    crops = {rt.meta.preprocessing.crop for rt in runtimes}
    if len(crops) != 1:
        raise ConfigError(f"the artifacts take different input sizes {sorted(crops)}: compare models of one size")
    size = crops.pop()
    batch = np.random.default_rng(seed).standard_normal((batch_size, 3, size, size)).astype(np.float32)

    def call(rt: Any) -> Callable[[], Any]:
        def run() -> None:
            rt.run(batch)
            rt.sync()  # queued CUDA work counts (a no-op on the CPU)
        return run

    times = interleaved_times([call(rt) for rt in runtimes], rounds, warmup, block=block, settle=1,
                             idle_s=POOL_IDLE_S)
    stats = [summarize(np.asarray(t), batch_size) for t in times]
    rows = tuple(
        InterleavedRow(
            path=str(p), format=rt.meta.format, precision=get_variant(v).precision if v else rt.meta.precision,
            precision_ran=rt.precision_ran, latency=s, ratio=1.0 / speedup(stats[0], s),
            within_noise_of_first=within_noise(stats[0], s), variant=v,
        )
        for (p, v), rt, s in zip(plan, runtimes, stats, strict=True)
    )
    return InterleavedReport(rows, device, batch_size, threads, rounds, warmup, block)


def interleaved_table(report: InterleavedReport) -> Any:
    """The rich table `seefood latency` prints."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"interleaved latency: {report.device}, batch {report.batch_size}, {report.threads} threads, "
              f"{report.rounds} rounds x {report.block} runs each",
        caption="ratio: p50 / p50 of the first row (< 1: faster); ≈ first: IQRs overlap (not evidence of a "
                "difference)",
        box=box.SIMPLE_HEAD,
    )
    for name in ("artifact", "ran", "p50 ms", "p90 ms", "IQR ms", "ratio", "≈ first"):
        table.add_column(name, justify="left" if name == "artifact" else "right")
    for row in report.rows:
        s = row.latency
        table.add_row(row.label, row.precision_ran or row.precision or "-", f"{s.p50_ms:.2f}", f"{s.p90_ms:.2f}",
                      f"{s.p75_ms - s.p25_ms:.2f}", f"{row.ratio:.3f}", "yes" if row.within_noise_of_first else "no")
    return table
