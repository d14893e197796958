"""One artifact's life after its files are written: parity, final metadata, and its place in EXPORT_DIR."""

from __future__ import annotations

import logging
import os
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from seefood.export.config import ExportConfig
from seefood.export.metadata import write_artifact_metadata
from seefood.export.parity import ParitySet, ParityThresholds, check_parity
from seefood.export.report import FAILED_DIR, PARITY_FAILED, PASSED
from seefood.formats import get_format
from seefood.io import dir_size
from seefood.metadata import ModelMeta
from seefood.runtimes import load_runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ExportContext:
    """What every artifact of one run shares (built once by the pipeline)."""

    config: ExportConfig
    model: nn.Module  # fp32, eval mode, on the CPU
    meta: ModelMeta  # the checkpoint's metadata
    parent_sha256: str  # sha256 of the checkpoint's weights
    parity: ParitySet
    root: Path  # the staging copy of EXPORT_DIR

    def thresholds(self, precision: str) -> ParityThresholds:
        """The accuracy-drop and confident-agreement gate; int8 has its own raw-agreement fallback."""
        c = self.config
        return ParityThresholds(
            min_agreement=c.min_agreement_int8 if precision == "int8" else c.min_agreement, max_drop=c.max_drop,
            min_confident_agreement=c.min_confident_agreement, confident_prob=c.confident_prob,
            min_confident=c.min_confident,
        )

    def runtime_device(self, fmt: str) -> str:
        """The export device when the format's runtime can use it, else the CPU."""
        device = self.config.device
        return device if device in get_format(fmt).runtime_devices else "cpu"


@dataclass(frozen=True)
class Outcome:
    """Where a checked artifact ended up."""

    status: str  # passed or exported-but-parity-failed
    reason: str | None
    parity: dict[str, Any] | None
    path: str  # relative to EXPORT_DIR
    size_bytes: int


def describe_error(exc: BaseException) -> str:
    """One line for a row: the error type and message (the traceback goes to the debug log)."""
    log.debug("".join(traceback.format_exception(exc)))
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_parity(ctx: ExportContext, staged: Path, meta: ModelMeta) -> tuple[dict[str, Any], str | None]:
    """Parity of a staged artifact through its own runtime: (result dict, None) or (result dict, why it failed)."""
    try:
        runtime = load_runtime(
            staged, device=ctx.runtime_device(meta.format), threads=ctx.config.resolved_threads, exact=True
        )
        result = check_parity(runtime, ctx.parity, ctx.thresholds(meta.precision))
    except Exception as exc:  # noqa: BLE001 -- orchestrator: an artifact its runtime cannot run fails parity; the error is recorded
        reason = f"the exported artifact does not run: {describe_error(exc)}"
        return {"passed": False, "error": reason}, reason
    return result.to_dict(), ("; ".join(result.failures) or None)


def finalize(ctx: ExportContext, staged: Path, meta: ModelMeta, name: str, reason: str | None) -> Outcome:
    """Embed the final metadata and move the folder: EXPORT_DIR/<name>, or failed/<name> when `reason`."""
    write_artifact_metadata(staged, meta)
    target = ctx.root / name if reason is None else ctx.root / FAILED_DIR / name
    place(staged, target)
    log.info("%s: %s", name, "parity passed" if reason is None else f"parity FAILED ({reason})")
    return Outcome(
        status=PASSED if reason is None else PARITY_FAILED, reason=reason, parity=meta.parity,
        path=str(target.relative_to(ctx.root)), size_bytes=model_size(target, meta.format),
    )


def verify_and_place(ctx: ExportContext, staged: Path, meta: ModelMeta, name: str) -> Outcome:
    """Parity, then the final metadata (with the parity numbers) and the folder's place in EXPORT_DIR."""
    parity, reason = run_parity(ctx, staged, meta)
    return finalize(ctx, staged, meta.evolve(parity=parity), name, reason)


def place(staged: Path, target: Path) -> None:
    """Move a staged artifact folder to `target` (replacing an earlier attempt of the same name)."""
    if staged == target:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staged, target)


def model_size(folder: Path, fmt: str) -> int:
    """Bytes of the model file(s) of an artifact (the sidecar is not counted)."""
    files = [folder / f for f in get_format(fmt).files if (folder / f).is_file()]
    return sum(f.stat().st_size for f in files) if files else dir_size(folder)
