"""The evaluation images of a bench run, and the mapping of their labels onto an artifact's classes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from seefood.data import Sample, check_images, folders, load_data
from seefood.errors import DataError

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class EvalSet:
    """Labelled images: labels index `class_names` (the dataset's own, sorted folder names)."""

    root: Path
    class_names: tuple[str, ...]
    samples: tuple[Sample, ...]

    def __len__(self) -> int:
        return len(self.samples)


def spread_limit(samples: Sequence[Sample], limit: int | None) -> list[Sample]:
    """At most `limit` samples taken round-robin over the classes, so a small limit still covers them all."""
    if limit is None or limit >= len(samples):
        return list(samples)
    per_class: dict[int, list[Sample]] = {}
    for s in samples:
        per_class.setdefault(s.label, []).append(s)
    queues = [per_class[k] for k in sorted(per_class)]
    out: list[Sample] = []
    depth = 0
    while len(out) < limit:
        for q in queues:
            if depth < len(q) and len(out) < limit:
                out.append(q[depth])
        depth += 1
    return sorted(out, key=lambda s: (s.label, s.path))


def _find_samples(path: Path) -> tuple[Path, tuple[str, ...], list[Sample]]:
    """(root, class names, samples) of a split folder's test/ or of a flat <class>/ folder."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        # a full ImageFolder: the data package decides classes and test samples, as training saw them
        splits = load_data(str(path), val_fraction=0.0, check=False)
        return path / "test", splits.class_names, list(splits.test)
    root = path / "test" if (path / "test").is_dir() else path
    names = folders.class_folders(root)
    if not names:
        raise DataError(
            f"no class folders under {root}: expected {root}/<class>/<image>.jpg "
            f"(or a split folder with test/<class>/...)"
        )
    return root, tuple(names), folders.scan_class_folders(root, names)


def load_eval_set(path: str | Path, limit: int | None = None) -> EvalSet:
    """A split folder (its test/ is used) or a flat <class>/<image> folder (all of it) -> EvalSet.

    `limit` keeps at most that many images, spread over the classes; undecodable images are left out
    with a warning.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"--data {path} is not a folder: pass a split folder (with test/) or a <class>/<image> folder")
    root, names, samples = _find_samples(path)
    if not samples:
        raise DataError(f"no test images under {root}: add images to {root}/<class>/")
    good, _bad = check_images(spread_limit(samples, limit))
    if not good:
        raise DataError(f"none of the images under {root} can be decoded: replace them")
    log.info("evaluating on %d images of %d classes from %s", len(good), len(names), root)
    return EvalSet(root=root, class_names=names, samples=tuple(good))


def _preview(names: Sequence[str], n: int = 8) -> str:
    shown = ", ".join(list(names)[:n])
    return shown + (f", ... ({len(names) - n} more)" if len(names) > n else "")


def label_map(dataset_names: Sequence[str], artifact_names: Sequence[str], artifact: str = "the artifact") -> np.ndarray:
    """Dataset label -> artifact class index, matched by name; a class unknown to the artifact is an error."""
    index = {name: i for i, name in enumerate(artifact_names)}
    missing = [n for n in dataset_names if n not in index]
    if len(missing) == len(dataset_names):
        raise DataError(
            f"no class of the evaluation data is known to {artifact}: data has {_preview(dataset_names)}; "
            f"the model has {_preview(artifact_names)}. Pass --data with the classes it was trained on."
        )
    if missing:
        raise DataError(
            f"{len(missing)} class(es) of the evaluation data are not among the {len(artifact_names)} classes of "
            f"{artifact}: {_preview(missing)}. Remove those class folders from --data, or bench a model trained "
            f"on them."
        )
    return np.asarray([index[n] for n in dataset_names], dtype=np.int64)


def open_image(path: Path) -> Image.Image:
    """Decode one image fully (so decode time is not counted as preprocessing)."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"cannot read image {path} ({exc}): delete or replace it, then re-run") from exc
