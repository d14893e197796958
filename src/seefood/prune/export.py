"""`seefood-export --prune RATIO`: prune + fine-tune first, then export the pruned checkpoint like any other.

The pruning run lives beside EXPORT_DIR (`<EXPORT_DIR>-prune/`), because EXPORT_DIR is replaced as a
whole by the export and its export.json must keep naming the pruned checkpoint (bench's reference).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from rich.console import Console

from seefood.errors import ConfigError, OutputExistsError
from seefood.export.config import ExportConfig
from seefood.export.report import PASSED, ExportReport
from seefood.prune.config import PruneConfig
from seefood.prune.report import PruneReport

log = logging.getLogger(__name__)


def prune_dir(export_out: Path) -> Path:
    """Where `--prune` writes its run: beside EXPORT_DIR, named after it."""
    export_out = Path(export_out)
    return export_out.with_name(f"{export_out.name}-prune")


def prune_config_for(config: ExportConfig) -> PruneConfig:
    """The PruneConfig an export with --prune runs: its ratio, data and epochs; export's threads and --force."""
    options = config.prune
    if options is None:
        raise ConfigError("prune_config_for needs an ExportConfig with --prune RATIO")
    return PruneConfig(
        checkpoint=config.checkpoint, ratio=options.ratio, out=prune_dir(config.out), data=options.data,
        finetune_epochs=options.finetune_epochs, drop_blocks=options.drop_blocks, max_drop=config.max_drop,
        threads=config.threads, seed=config.seed, force=config.force,
    )


def fastest_int8(report: ExportReport) -> dict[str, Any] | None:
    """The passing int8 artifact with the lowest quick b=1 latency, or None when there is none."""
    rows = [r for r in report.rows if r.precision == "int8" and r.status == PASSED and r.latency_ms is not None]
    if not rows:
        return None
    best = min(rows, key=lambda r: r.latency_ms or 0.0)
    parity = best.parity or {}
    return {"name": best.name, "format": best.format, "path": str(Path(report.out) / str(best.path)),
            "latency_ms": best.latency_ms, "size_bytes": best.size_bytes,
            "top1_agreement": parity.get("top1_agreement"), "accuracy": parity.get("accuracy")}


def prune_then_export(
    config: ExportConfig, console: Console | None = None, show_progress: bool = True
) -> tuple[PruneReport, ExportReport]:
    """Prune and fine-tune config.checkpoint, export the result, and add its best int8 artifact to the report."""
    from seefood.export.pipeline import run_export
    from seefood.prune.pipeline import RESULT, prune_checkpoint, write_report

    if Path(config.out).exists() and not config.force:  # checked before hours of pruning, not after
        raise OutputExistsError(f"{config.out} already exists: pass --force to replace it, or choose another --out")
    prune_config = prune_config_for(config)
    pruned = prune_checkpoint(prune_config, console=console, show_progress=show_progress)
    exported = run_export(dataclasses.replace(config, checkpoint=Path(pruned.checkpoint)))
    pruned = pruned.with_int8(fastest_int8(exported))
    write_report(prune_config.out, pruned, {**prune_config.to_dict(), "export": str(Path(config.out).resolve())})
    log.info("exported the pruned checkpoint %s to %s", prune_config.out / RESULT, config.out)
    return pruned, exported
