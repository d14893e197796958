"""Artifact metadata: derive it from the checkpoint's, write it into the model file(s) and the sidecar."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from seefood.errors import ModelError
from seefood.export.formats import get_exporter
from seefood.io import atomic_write_json
from seefood.metadata import ModelMeta
from seefood.runtimes import ARTIFACT_META, read_artifact_meta
from seefood.versions import library_versions


def artifact_meta(
    source: ModelMeta, fmt: str, precision: str, parent_sha256: str, export: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> ModelMeta:
    """The metadata of an artifact made from a checkpoint: same classes and preprocessing, new provenance.

    `export` (batch, opset, device, recipe...) is stored under extra["export"]; extra["batch"] is what
    runtimes read to know a static batch size.
    """
    merged = {**source.extra, **(extra or {}), "export": export, "batch": export.get("batch", "dynamic")}
    return source.evolve(
        format=fmt,
        precision=precision,
        parent_sha256=parent_sha256,
        versions=library_versions(),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        parity=None,
        extra=merged,
    )


def write_sidecar(folder: Path, meta: ModelMeta) -> Path:
    """Write `folder/seefood.json` atomically."""
    return atomic_write_json(Path(folder) / ARTIFACT_META, meta.to_dict())


def write_artifact_metadata(folder: Path, meta: ModelMeta) -> None:
    """Embed `meta` in the model file(s) where the format allows, and write the sidecar."""
    get_exporter(meta.format).embed_metadata(Path(folder), meta)
    write_sidecar(folder, meta)


def read_embedded_metadata(folder: Path) -> ModelMeta | None:
    """The metadata stored inside an artifact's model file(s); None for formats that cannot embed it."""
    sidecar = read_artifact_meta(folder)
    try:
        return get_exporter(sidecar.format).read_metadata(Path(folder))
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelError(f"could not read the metadata embedded in {folder}: {exc}") from exc
