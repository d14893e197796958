"""int8 artifacts: try each recipe of seefood.export.quantize in order until one passes parity."""

from __future__ import annotations

import copy
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from seefood.errors import ConfigError
from seefood.export.artifact import ExportContext, describe_error, finalize, run_parity
from seefood.export.formats import get_exporter
from seefood.export.metadata import artifact_meta, write_sidecar
from seefood.export.report import EXPORT_FAILED, PASSED, SKIPPED, ArtifactRow
from seefood.metadata import ModelMeta

log = logging.getLogger(__name__)


def calibration_source(config_calib: Path | None, meta: ModelMeta) -> Path:
    """--calib-data, else the checkpoint's training folder; neither is a ConfigError."""
    if config_calib is not None:
        return Path(config_calib)
    spec = meta.config.get("data")
    if spec == "sample":
        from seefood.data import sample_dataset_path

        root = meta.config.get("data_root")
        return sample_dataset_path(Path(root) if root else None)
    if isinstance(spec, str) and Path(spec).expanduser().is_dir():
        return Path(spec).expanduser()
    raise ConfigError(
        "--int8 needs calibration photos: pass --calib-data PATH (train/<class>/* or <class>/*); "
        f"the checkpoint's dataset {spec!r} is not a folder here"
    )


def export_int8(
    ctx: ExportContext, fmt: str, fp32: ArtifactRow, recipes: list[Any], calib: list[np.ndarray]
) -> ArtifactRow:
    """Quantise the passed fp32 artifact of `fmt` with each recipe until one passes; record every attempt."""
    name = f"{fmt}-int8"
    row = ArtifactRow(name, fmt, "int8", EXPORT_FAILED)
    if fp32.status != PASSED or fp32.path is None:
        return row.with_(reason=f"its fp32 parent {fp32.name} did not pass ({fp32.status}), so int8 was not tried")
    if not recipes:
        return row.with_(status=SKIPPED, reason=f"no int8 recipe for {fmt}: use onnx or openvino for int8")
    attempts: list[dict[str, Any]] = []
    missed: tuple[Path, ModelMeta, str] | None = None  # the latest attempt that ran but missed parity
    total = 0.0
    for recipe in recipes:
        staged = ctx.root / f".stage-{name}-{recipe.name}"
        start = time.perf_counter()
        try:
            recipe.quantize(ctx.root / fp32.path, copy.deepcopy(ctx.model), ctx.meta, calib, staged)
            meta = artifact_meta(ctx.meta, fmt, "int8", ctx.parent_sha256, _settings(ctx, recipe.name),
                                 extra=get_exporter(fmt).facts(staged))
            write_sidecar(staged, meta)
        except Exception as exc:  # noqa: BLE001 -- orchestrator: a recipe's failure is recorded and the next recipe is tried
            total += time.perf_counter() - start
            shutil.rmtree(staged, ignore_errors=True)
            attempts.append({"recipe": recipe.name, "status": EXPORT_FAILED, "reason": describe_error(exc)})
            log.warning("%s: recipe %s failed: %s", name, recipe.name, attempts[-1]["reason"])
            continue
        seconds = time.perf_counter() - start
        total += seconds
        parity, reason = run_parity(ctx, staged, meta)
        attempts.append({"recipe": recipe.name, "description": recipe.description, "seconds": round(seconds, 2),
                         "status": PASSED if reason is None else "parity-failed", "reason": reason, "parity": parity})
        final = meta.evolve(parity=parity, extra={**meta.extra, "int8": {"recipe": recipe.name,
                                                                          "attempts": list(attempts)}})
        if missed is not None:  # only the latest miss is kept for failed/
            shutil.rmtree(missed[0], ignore_errors=True)
        if reason is None:
            outcome = finalize(ctx, staged, final, name, None)
            return row.with_(status=PASSED, path=outcome.path, size_bytes=outcome.size_bytes, export_seconds=total,
                             parity=parity, recipe=recipe.name, attempts=tuple(attempts))
        log.warning("%s: recipe %s misses parity (%s); trying the next recipe", name, recipe.name, reason)
        missed = (staged, final, recipe.name)
    summary = "no int8 recipe passed: " + "; ".join(f"{a['recipe']}: {a['reason']}" for a in attempts)
    if missed is None:
        return row.with_(reason=summary, export_seconds=total, attempts=tuple(attempts))
    staged, final, recipe_name = missed
    outcome = finalize(ctx, staged, final, name, summary)
    return row.with_(status=outcome.status, reason=summary, path=outcome.path, size_bytes=outcome.size_bytes,
                     export_seconds=total, parity=final.parity, recipe=recipe_name, attempts=tuple(attempts))


def _settings(ctx: ExportContext, recipe: str) -> dict[str, Any]:
    cfg = ctx.config
    return {"batch": "dynamic" if cfg.dynamic_batch else 1, "device": cfg.device, "recipe": recipe,
            "calib_size": cfg.calib_size, "seed": cfg.seed}
