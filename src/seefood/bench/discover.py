"""Find what to bench: artifact folders under export folders, plus the fp32 reference checkpoint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from seefood.errors import DataError, ModelError
from seefood.io import sha256_file
from seefood.metadata import ModelMeta
from seefood.runtimes import ARTIFACT_META, read_artifact_meta
from seefood.runtimes.variants import get_variant

log = logging.getLogger(__name__)

EXPORT_JSON = "export.json"
FAILED_DIR = "failed"  # the exporter moves failed artifacts here; bench ignores them
# files that describe a model rather than being it: left out of size and content hash
_SIDECARS = {ARTIFACT_META, "meta.json", "train_state.safetensors", "train_state.json"}


@dataclass(frozen=True)
class Artifact:
    """One thing to bench, before anything is loaded."""

    name: str
    path: Path  # absolute folder
    meta: ModelMeta | None  # None when the metadata is missing or unreadable (see meta_error)
    meta_error: str
    is_reference: bool
    reference: Path | None  # the reference checkpoint this artifact is compared with
    size_bytes: int
    sha256: str
    variant: str = ""  # an eager variant of the reference checkpoint (seefood.runtimes.variants); "" for the rest

    @property
    def format(self) -> str:
        """Format from metadata ("?" when unreadable)."""
        return self.meta.format if self.meta else "?"

    @property
    def precision(self) -> str:
        """Precision from metadata, or what an eager variant runs ("?" when unreadable)."""
        if self.variant:
            return get_variant(self.variant).precision
        return self.meta.precision if self.meta else "?"


def model_files(folder: Path) -> list[Path]:
    """The files that make up the model in an artifact or checkpoint folder, sorted."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.name not in _SIDECARS and not p.name.startswith(".")
    )


def content_sha256(folder: Path) -> str:
    """One hash over the model files' relative names and contents."""
    h = hashlib.sha256()
    for p in model_files(folder):
        h.update(f"{p.relative_to(folder).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def describe(path: Path, name: str, is_reference: bool, reference: Path | None) -> Artifact:
    """Read metadata, size and hash of one folder; unreadable metadata is recorded, not raised."""
    path = path.absolute()
    meta: ModelMeta | None = None
    error = ""
    if not path.is_dir():
        error = f"{path} does not exist: export again, or fix `checkpoint` in {EXPORT_JSON}"
    else:
        try:
            meta = read_artifact_meta(path)
        except ModelError as exc:
            error = str(exc)
    files = model_files(path)
    return Artifact(
        name=name, path=path, meta=meta, meta_error=error, is_reference=is_reference, reference=reference,
        size_bytes=sum(p.stat().st_size for p in files), sha256=content_sha256(path) if files else "",
    )


def reference_checkpoint(export_root: Path) -> Path | None:
    """The fp32 checkpoint named by EXPORT_DIR/export.json, or None (with a warning) when there is none."""
    spec = export_root / EXPORT_JSON
    if not spec.is_file():
        log.warning("%s has no %s: no fp32 reference, so no ratios or accuracy drops", export_root, EXPORT_JSON)
        return None
    try:
        raw = json.loads(spec.read_text(encoding="utf-8")).get("checkpoint")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise DataError(f"{spec} is not valid JSON ({exc}): export again with `seefood export`") from exc
    if not raw:
        log.warning("%s names no checkpoint: no fp32 reference", spec)
        return None
    path = Path(raw)
    if not path.is_absolute():  # written relative to where export ran, or to the export folder
        path = next((p for p in (export_root / path, Path.cwd() / path) if p.exists()), export_root / path)
    return path.absolute()


def _artifact_folders(folder: Path) -> tuple[Path, list[Path]]:
    """(export root, artifact folders) for an export folder or a single artifact folder."""
    if (folder / ARTIFACT_META).is_file():
        root = folder.parent
        if root.name == FAILED_DIR and (root.parent / EXPORT_JSON).is_file():
            root = root.parent  # EXPORT_DIR/failed/NAME, benched on purpose: its export's reference applies
        return root, [folder]
    found = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        if child.name == FAILED_DIR or child.name.startswith("."):
            continue
        if (child / ARTIFACT_META).is_file():
            found.append(child)
        else:
            log.debug("skipping %s: no %s", child, ARTIFACT_META)
    return folder, found


def find_artifacts(
    folders: tuple[Path, ...], include_reference: bool = True, eager_variants: tuple[str, ...] = (),
) -> list[Artifact]:
    """Every artifact under the given folders (failed/ ignored), references first, without duplicates; then each
    reference checkpoint as every one of `eager_variants` (last: torch.compile is the slowest to start)."""
    plan: list[tuple[Path, Path, bool, Path | None]] = []  # (path, export root, is_reference, reference)
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"{folder} is not a folder: pass export folders written by `seefood export`")
        root, arts = _artifact_folders(folder.absolute())
        ref = reference_checkpoint(root) if include_reference else None
        if ref is not None:
            plan.append((ref, root, True, None))
        plan.extend((a, root, False, ref) for a in arts)
    if not any(not is_ref for _, _, is_ref, _ in plan):
        raise DataError(
            f"no artifacts (folders with {ARTIFACT_META}) under {', '.join(map(str, folders))}: "
            f"run `seefood export` first, or pass EXPORT_DIR itself"
        )
    several_roots = len({root for _, root, _, _ in plan}) > 1
    seen: set[Path] = set()
    out: list[Artifact] = []
    for path, root, is_ref, ref in sorted(plan, key=lambda item: not item[2]):
        if path in seen:
            continue
        seen.add(path)
        meta_name = _reference_name(path) if is_ref else path.name
        name = f"{root.name}/{meta_name}" if several_roots else meta_name
        out.append(describe(path, name, is_ref, ref))
    return out + variants_of([a for a in out if a.is_reference], eager_variants)


def variants_of(references: list[Artifact], eager_variants: tuple[str, ...]) -> list[Artifact]:
    """Each reference checkpoint once per eager variant, named like it (pytorch-fp32 -> pytorch-bf16)."""
    if eager_variants and not references:
        raise DataError(
            f"eager variants ({', '.join(eager_variants)}) run the reference checkpoint, and no export folder names "
            f"one: bench an export folder whose {EXPORT_JSON} names its checkpoint (written by `seefood export`)"
        )
    out = []
    for ref in references:
        prefix = ref.name[: ref.name.rfind("-")] if "-" in ref.name else ref.name  # root/pytorch-fp32 -> root/pytorch
        out += [
            dataclasses.replace(ref, name=f"{prefix}-{v}", is_reference=False, reference=ref.path, variant=v)
            for v in eager_variants
        ]
    return out


def _reference_name(path: Path) -> str:
    try:
        meta = read_artifact_meta(path)
    except ModelError:
        return "reference"
    return f"{meta.format}-{meta.precision}"
