"""The export pipeline: checkpoint -> every requested artifact, each checked for parity, one report.

It is the one place that catches broadly: a format that fails becomes a row saying why, and the
other formats carry on. EXPORT_DIR is built in a temp folder and renamed into place at the end.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import numpy as np
import torch

from seefood.checkpoint import load_checkpoint, read_meta
from seefood.errors import BackendMissingError, ConfigError, OutputExistsError
from seefood.export import recipes as recipe_tables
from seefood.export.artifact import ExportContext, describe_error, place, verify_and_place
from seefood.export.config import ExportConfig
from seefood.export.formats import Exporter, ExportSpec, get_exporter
from seefood.export.int8 import calibration_source, export_int8
from seefood.export.latency import add_latency
from seefood.export.metadata import artifact_meta, write_sidecar
from seefood.export.parity import build_parity_set
from seefood.export.parity_data import resolve_parity_photos, sample_photos
from seefood.export.report import EXPORT_FAILED, FAILED_DIR, SKIPPED, ArtifactRow, ExportReport
from seefood.formats import export_formats
from seefood.io import atomic_dir
from seefood.runtimes._torch import TorchModuleRuntime, torch_device

log = logging.getLogger(__name__)
PRECISION_ORDER = ("fp32", "fp16", "int8")


def plan(config: ExportConfig) -> tuple[list[tuple[Exporter, str]], list[ArtifactRow]]:
    """(exporter, precision) pairs to export, and rows for what cannot be exported here and why.

    Explicitly requested formats that cannot run are failures; formats picked by default that
    cannot run here are skipped. fp16 variants a format or device does not offer are skipped.
    """
    explicit = config.formats is not None
    status = EXPORT_FAILED if explicit else SKIPPED
    precisions = [p for p, on in (("fp32", True), ("fp16", config.fp16), ("int8", config.int8)) if on]
    todo: list[tuple[Exporter, str]] = []
    rows: list[ArtifactRow] = []
    for name in config.formats or export_formats():
        exporter = get_exporter(name)
        try:
            exporter.check_backend()
        except BackendMissingError as exc:
            rows += [ArtifactRow(f"{name}-{p}", name, p, status, reason=str(exc)) for p in precisions]
            continue
        why_not = exporter.unsupported("fp32", config.device)
        if why_not:
            rows += [ArtifactRow(f"{name}-{p}", name, p, status, reason=why_not) for p in precisions]
            continue
        todo.append((exporter, "fp32"))
        if config.fp16:
            why_not = exporter.unsupported("fp16", config.device)
            if why_not:
                rows.append(ArtifactRow(f"{name}-fp16", name, "fp16", SKIPPED, reason=why_not))
            else:
                todo.append((exporter, "fp16"))
    return todo, rows


def run_export(config: ExportConfig) -> ExportReport:
    """Export, check and summarise; EXPORT_DIR/export.json lists every row."""
    if Path(config.out).exists() and not config.force:
        raise OutputExistsError(f"{config.out} already exists: pass --force to replace it, or choose another --out")
    source_meta = read_meta(config.checkpoint)
    todo, rows = plan(config)
    photos = sample_photos(resolve_parity_photos(config.parity_data, source_meta), config.parity_size, config.seed)
    if len(photos.paths) < config.min_parity_images:
        raise ConfigError(
            f"only {len(photos.paths)} parity photos in {photos.source}; parity needs at least "
            f"{config.min_parity_images}: pass a bigger --parity-data (or lower --min-parity-images)"
        )
    calib_path = calibration_source(config.calib_data, source_meta) if config.int8 else None
    checkpoint = load_checkpoint(config.checkpoint)
    threads = config.resolved_threads
    device = torch_device(config.device)
    reference = TorchModuleRuntime(
        config.checkpoint, _on(checkpoint.model, device), source_meta, device, threads, precision_ran="fp32"
    )
    log.info("reference pass of the fp32 model over %d parity photos from %s", len(photos.paths), photos.source)
    parity = build_parity_set(photos.source, photos.paths, photos.labels, source_meta.preprocessing, reference)
    del reference
    with atomic_dir(config.out, overwrite=config.force) as root:
        ctx = ExportContext(config, checkpoint.model.cpu().eval(), source_meta, checkpoint.sha256, parity, root)
        exported = [export_float(ctx, exporter, precision) for exporter, precision in todo]
        rows += exported
        if calib_path is not None:  # --int8
            rows += export_int8_rows(ctx, [r for r in exported if r.precision == "fp32"], calib_path)
        rows = add_latency(ctx, sorted(rows, key=_row_order))
        report = ExportReport(
            out=Path(config.out), checkpoint=Path(config.checkpoint), parity_data=photos.source, rows=tuple(rows),
            config=config.to_dict(),
        )
        report.write(root)
    return report


def _on(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The reference model on `device` (a copy when that is not the CPU, so exporters keep the CPU model)."""
    return model.eval() if device.type == "cpu" else copy.deepcopy(model).to(device).eval()


def _row_order(row: ArtifactRow) -> tuple[int, int]:
    formats = list(export_formats())
    return (formats.index(row.format) if row.format in formats else len(formats),
            PRECISION_ORDER.index(row.precision) if row.precision in PRECISION_ORDER else len(PRECISION_ORDER))


def sample_input(ctx: ExportContext, spec: ExportSpec) -> torch.Tensor:
    """Real preprocessed photos to trace with: two for a dynamic batch (so batch is not a constant), else one."""
    n = 2 if spec.dynamic_batch else 1
    x = ctx.parity.inputs[:n]
    if x.shape[0] < n:
        x = np.concatenate([x] * n)[:n]
    return torch.from_numpy(np.ascontiguousarray(x))


def export_float(ctx: ExportContext, exporter: Exporter, precision: str) -> ArtifactRow:
    """Export one fp32/fp16 artifact, check its parity, and place it; any error becomes the row's reason."""
    cfg = ctx.config
    name = f"{exporter.name}-{precision}"
    row = ArtifactRow(name, exporter.name, precision, EXPORT_FAILED)
    staged = ctx.root / f".stage-{name}"
    spec = ExportSpec(precision, cfg.device, cfg.dynamic_batch, cfg.opset)
    log.info("exporting %s", name)
    start = time.perf_counter()
    try:
        exporter.export(ctx.model, ctx.meta, sample_input(ctx, spec), staged, spec)
        settings = {"batch": "dynamic" if cfg.dynamic_batch else 1, "device": cfg.device, "opset": cfg.opset}
        meta = artifact_meta(ctx.meta, exporter.name, precision, ctx.parent_sha256, settings,
                             extra=exporter.facts(staged))
        write_sidecar(staged, meta)
    except Exception as exc:  # noqa: BLE001 -- orchestrator: recorded in the row; the other formats carry on
        return _export_error(ctx, row, staged, exc, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    try:
        outcome = verify_and_place(ctx, staged, meta, name)
    except Exception as exc:  # noqa: BLE001 -- orchestrator: writing the final metadata failed: the artifact is unusable, recorded
        return _export_error(ctx, row, staged, exc, seconds)
    return row.with_(status=outcome.status, reason=outcome.reason, path=outcome.path, size_bytes=outcome.size_bytes,
                     export_seconds=seconds, parity=outcome.parity)


def _export_error(ctx: ExportContext, row: ArtifactRow, staged: Path, exc: Exception, seconds: float) -> ArtifactRow:
    """Row for an export that raised; whatever it wrote is kept under failed/ for a look."""
    reason = describe_error(exc)
    log.error("%s: export failed: %s", row.name, reason)
    path = None
    if staged.exists():
        target = ctx.root / FAILED_DIR / row.name
        place(staged, target)
        path = str(target.relative_to(ctx.root))
    return row.with_(reason=reason, path=path, export_seconds=seconds)


def export_int8_rows(ctx: ExportContext, fp32_rows: list[ArtifactRow], calib_path: Path) -> list[ArtifactRow]:
    """One int8 row per exported fp32 artifact (formats that could not run have their int8 rows already)."""
    recipes, why_not = recipe_tables.load_recipes()
    if recipes is None:
        return [ArtifactRow(f"{r.format}-int8", r.format, "int8", EXPORT_FAILED, reason=why_not) for r in fp32_rows]
    from seefood.export.calibration import calibration_batches

    try:
        calib = calibration_batches(calib_path, ctx.meta.preprocessing, n=ctx.config.calib_size, seed=ctx.config.seed)
    except Exception as exc:  # noqa: BLE001 -- orchestrator: unusable calibration data fails every int8 row, with the reason
        reason = f"calibration data: {describe_error(exc)}"
        return [ArtifactRow(f"{r.format}-int8", r.format, "int8", EXPORT_FAILED, reason=reason) for r in fp32_rows]
    rows = []
    for fp32 in fp32_rows:
        available = recipes.get(fp32.format, [])
        chosen = ctx.config.recipes_for(available)
        if available and not chosen:  # --int8-recipe named only other formats' recipes
            rows.append(ArtifactRow(f"{fp32.format}-int8", fp32.format, "int8", SKIPPED,
                                    reason=f"--int8-recipe names none of {fp32.format}'s recipes "
                                           f"({', '.join(r.name for r in available)})"))
        else:
            rows.append(export_int8(ctx, fp32.format, fp32, chosen, calib))
    return rows
