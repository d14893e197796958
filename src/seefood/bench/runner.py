"""The bench orchestrator: every artifact x device x batch size, one row each, failures recorded not raised.

This is the one place in seefood.bench that catches broadly: an artifact that fails to load or run
becomes a row with its status and the exception it raised, and the others are still measured.
Data problems (wrong --data, unreadable image) concern every artifact and stop the run.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from seefood.bench.config import BenchConfig
from seefood.bench.devices import DeviceInfo, collect_env, probe
from seefood.bench.discover import Artifact, find_artifacts
from seefood.bench.evalset import EvalSet, label_map, load_eval_set
from seefood.bench.measure import Accuracy, MemoryMeter, latency_batch, measure_accuracy, measure_latency
from seefood.bench.records import (
    RESULTS_JSONL,
    STATUS_LOAD_FAILED,
    STATUS_OK,
    STATUS_RUN_FAILED,
    STATUS_SKIPPED,
    BenchResult,
    merge_results,
    read_results,
    replaced_rows,
    write_results_jsonl,
)
from seefood.bench.report import write_outputs
from seefood.errors import DataError
from seefood.metadata import ModelMeta
from seefood.runtimes import Runtime, load_runtime
from seefood.runtimes.variants import variant_unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchRun:
    """What run_bench did: every row of the report, and how many were measured now or skipped as done."""

    rows: tuple[BenchResult, ...]  # every row of the report, earlier ones included
    measured: int
    already_done: int
    # (earlier row, its replacement): rows of the same artifact folder, device, batch and threads measured again,
    # because the artifact changed (re-exported) or --force
    replaced: tuple[tuple[BenchResult, BenchResult], ...] = ()


def parity_passed(meta: ModelMeta | None) -> bool | None:
    """What the export's parity check recorded in the metadata (None: not recorded, e.g. a checkpoint)."""
    parity = meta.parity if meta is not None else None
    if not parity or "passed" not in parity:
        return None
    return bool(parity["passed"])


def failure(exc: BaseException, limit: int = 600) -> str:
    """A one-line reason for a row: exception type and message, shortened."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_classes(artifacts: list[Artifact], evalset: EvalSet) -> dict[str, np.ndarray]:
    """Label maps per artifact path, checked for every artifact before anything is measured."""
    return {
        str(a.path): label_map(evalset.class_names, a.meta.class_names, artifact=a.name)
        for a in artifacts if a.meta is not None
    }


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False) as bar:
        yield bar


def _free_memory() -> None:
    """Collect what the last runtime left behind before the next one is measured."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def bench_artifact(
    artifact: Artifact, device: DeviceInfo, batch_sizes: tuple[int, ...], config: BenchConfig,
    evalset: EvalSet, labels: np.ndarray | None, bar: Progress | None = None,
) -> list[BenchResult]:
    """All rows of one artifact on one device (one per batch size); never raises for artifact failures."""
    meta = artifact.meta
    base = BenchResult(
        name=artifact.name, path=str(artifact.path), sha256=artifact.sha256, format=artifact.format,
        precision=artifact.precision, device=device.key, batch_size=batch_sizes[0], threads=config.threads,
        status=STATUS_OK, is_reference=artifact.is_reference,
        reference=str(artifact.reference) if artifact.reference else None, device_name=device.name,
        sparsity=meta.sparsity if meta else 0.0,
        accuracy_rule=(meta.metrics.get("accuracy_rule") if meta else None), size_bytes=artifact.size_bytes,
        parity_passed=parity_passed(meta), variant=artifact.variant,
    )

    def every_batch(status: str, reason: str) -> list[BenchResult]:
        return [base.evolve(batch_size=b, status=status, reason=reason) for b in batch_sizes]

    if not device.available:
        return every_batch(STATUS_SKIPPED, device.reason)
    if meta is None or labels is None:
        return every_batch(STATUS_LOAD_FAILED, artifact.meta_error or "no readable metadata")
    if artifact.variant and (reason := variant_unavailable(artifact.variant, device.key)):
        log.warning("skipping %s on %s: %s", artifact.name, device.key, reason)
        return every_batch(STATUS_SKIPPED, reason)  # cannot run here, like an absent device: never faked
    meter = MemoryMeter(device.key)  # the previous runtime was collected when it was released
    runtime: Runtime | None = None
    try:
        t0 = time.perf_counter()
        runtime = load_runtime(artifact.path, device=device.key, threads=config.threads, variant=artifact.variant)
        load_s = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 -- orchestrator: record whatever the runtime raised, go on with the rest
        log.warning("%s on %s failed to load: %s", artifact.name, device.key, failure(exc))
        return every_batch(STATUS_LOAD_FAILED, failure(exc))
    meter.sample()
    base = base.evolve(load_s=load_s, precision_ran=runtime.precision_ran, threads_ran=runtime.threads)
    try:
        return _measure_loaded(runtime, base, batch_sizes, config, evalset, labels, meter, bar)
    finally:
        runtime = None  # drop the last reference before collecting
        _free_memory()


def _measure_loaded(
    runtime: Runtime, base: BenchResult, batch_sizes: tuple[int, ...], config: BenchConfig, evalset: EvalSet,
    labels: np.ndarray, meter: MemoryMeter, bar: Progress | None,
) -> list[BenchResult]:
    acc: Accuracy | None = None
    acc_error = ""
    task = bar.add_task(f"  accuracy {base.name}", total=len(evalset)) if bar else None
    try:
        acc = measure_accuracy(
            runtime, evalset, labels, batch_sizes[0], meter=meter,
            on_batch=(lambda n: bar.advance(task, n)) if bar is not None and task is not None else None,
        )
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 -- orchestrator: an inference failure is this artifact's row, not the run's end
        acc_error = f"accuracy pass failed: {failure(exc)}"
        log.warning("%s on %s: %s", base.name, base.device, acc_error)
    finally:
        if bar is not None and task is not None:
            bar.remove_task(task)
    if acc is not None:
        base = base.evolve(
            top1=acc.top1, top5=acc.top5, num_images=acc.num_images, accuracy_batch_size=acc.batch_size,
            preprocess_ms=acc.preprocess_ms,
        )
    rows = []
    for b in batch_sizes:
        row = base.evolve(batch_size=b)
        try:
            batch = latency_batch(evalset, runtime.meta.preprocessing, b)
            timing = measure_latency(runtime, batch, config.warmup, config.min_runs, config.min_time_s, meter)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 -- orchestrator: record and continue with the next batch size
            reason = f"latency at batch {b} failed: {failure(exc)}"
            log.warning("%s on %s: %s", base.name, base.device, reason)
            rows.append(row.evolve(status=STATUS_RUN_FAILED, reason="; ".join(filter(None, [acc_error, reason]))))
            continue
        rows.append(row.evolve(
            status=STATUS_RUN_FAILED if acc_error else STATUS_OK, reason=acc_error, latency=timing.stats,
            first_run_ms=timing.first_run_ms, peak_rss_mb=meter.peak_rss_mb, cuda_peak_mb=meter.cuda_peak_mb,
        ))
    return rows


def run_bench(config: BenchConfig) -> BenchRun:
    """Measure every artifact under config.export_dirs and write the report folder; returns all its rows.

    The export folders and devices are looked at before the evaluation photos are scanned and decoded.
    """
    artifacts = find_artifacts(config.export_dirs, include_reference=config.include_reference,
                               eager_variants=config.eager_variants)
    devices = {key: probe(key) for key in config.devices}
    for info in devices.values():
        if not info.available:
            log.warning("skipping %s: %s", info.key, info.reason)
    evalset = load_eval_set(config.data, config.limit)
    labels = check_classes(artifacts, evalset)
    config.out.mkdir(parents=True, exist_ok=True)
    rows = read_results(config.out)
    done = set() if config.force else {r.key for r in rows if r.ok}
    stale = sorted({r.name for r in rows if r.ok and r.num_images != len(evalset)})
    if stale and not config.force:
        log.warning(
            "rows of %s were measured on another number of images than the %d now: they are kept; "
            "pass --force to re-measure them on this data", ", ".join(stale), len(evalset),
        )
    measured = skipped = 0
    replaced: list[tuple[BenchResult, BenchResult]] = []
    with _progress(config.progress) as bar:
        overall = bar.add_task("bench", total=len(artifacts) * len(devices))
        for artifact in artifacts:
            for info in devices.values():
                bar.update(overall, description=f"bench {artifact.name} on {info.key}")
                todo = tuple(
                    b for b in config.batch_sizes
                    if (artifact.sha256 or str(artifact.path), info.key, b, config.threads, artifact.variant)
                    not in done
                )
                skipped += len(config.batch_sizes) - len(todo)
                if todo:
                    new = bench_artifact(artifact, info, todo, config, evalset, labels.get(str(artifact.path)), bar)
                    replaced += replaced_rows(rows, new)
                    rows = merge_results(rows, new)
                    write_results_jsonl(config.out / RESULTS_JSONL, rows)  # progress survives an interrupt
                    measured += len(new)
                else:
                    log.info("%s on %s: already measured (pass --force to re-measure)", artifact.name, info.key)
                bar.advance(overall)
    env = collect_env(config.threads, config.devices, extra={
        "config": config.to_dict(),
        "data": {"root": str(evalset.root), "images": len(evalset), "classes": len(evalset.class_names)},
    })
    write_outputs(config.out, rows, env)
    return BenchRun(rows=tuple(rows), measured=measured, already_done=skipped, replaced=tuple(replaced))
