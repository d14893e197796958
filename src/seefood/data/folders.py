"""Read image folders: ImageFolder splits (`train/ val/ test/`) or one flat `<class>/` folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from seefood.data.records import Sample
from seefood.errors import DataError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
IMAGE_NAMES = ("JPEG", "PNG", "BMP", "WebP")  # IMAGE_EXTENSIONS as people name them, for messages
VAL_NAMES = ("val", "valid", "validation")  # accepted names of the validation split folder


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def is_image_file(path: Path) -> bool:
    """A visible regular file with an image extension (case-insensitive)."""
    return _visible(path) and path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def class_folders(root: Path) -> list[str]:
    """Sorted names of the visible sub-folders of `root` (the class names, as torchvision's ImageFolder)."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _visible(p))


def _images_in(folder: Path) -> list[Path]:
    """Every image under `folder` (nested folders too, hidden ones skipped), sorted for determinism.

    Other visible files (a GIF, a note) are left out with a warning that names them and says why.
    """
    found, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for path in (Path(dirpath) / f for f in filenames):
            if is_image_file(path):
                found.append(path)
            elif _visible(path):
                skipped.append(path)
    if skipped:
        kinds = sorted({p.suffix.lower() or "no extension" for p in skipped})
        log.warning("skipped %d file(s) under %s that are not %s images (%s; e.g. %s): convert them to JPEG or "
                    "PNG to use them", len(skipped), folder, "/".join(IMAGE_NAMES), ", ".join(kinds),
                    min(skipped).name)
    return sorted(found)


def scan_class_folders(root: Path, class_names: list[str]) -> list[Sample]:
    """Samples of `root/<class>/...` for the given classes; an empty class folder is an error."""
    samples: list[Sample] = []
    for label, name in enumerate(class_names):
        images = _images_in(root / name)
        if not images:
            raise DataError(
                f"class folder {root / name} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}): "
                f"add images or remove the folder"
            )
        samples += [Sample(p, label) for p in images]
    return samples


def find_split_folders(root: Path) -> dict[str, Path] | None:
    """{"train": ..., "test": ..., ["val": ...]} when `root` is split into folders, None for a flat folder."""
    subdirs = {p.name: p for p in root.iterdir() if p.is_dir() and _visible(p)}
    if "train" not in subdirs and "test" not in subdirs:
        return None
    if "train" not in subdirs or "test" not in subdirs:
        have, missing = ("train", "test") if "train" in subdirs else ("test", "train")
        raise DataError(
            f"{root} has a {have}/ folder but no {missing}/ folder: add {root / missing}/<class>/..., "
            f"or point --data at a flat folder of <class>/ sub-folders to split it automatically"
        )
    splits = {"train": subdirs["train"], "test": subdirs["test"]}
    vals = [subdirs[n] for n in VAL_NAMES if n in subdirs]
    if len(vals) > 1:
        raise DataError(f"{root} has several validation folders ({[v.name for v in vals]}): keep one")
    if vals:
        splits["val"] = vals[0]
    return splits


def split_class_names(splits: dict[str, Path]) -> list[str]:
    """The class names shared by every split folder; a mismatch is an error naming the differences."""
    names = {split: class_folders(folder) for split, folder in splits.items()}
    reference = names["train"]
    if not reference:
        raise DataError(f"{splits['train']} has no class sub-folders: expected train/<class>/<image>")
    problems = []
    for split, found in names.items():
        missing, extra = sorted(set(reference) - set(found)), sorted(set(found) - set(reference))
        if missing:
            problems.append(f"{split}/ lacks {missing}")
        if extra:
            problems.append(f"{split}/ has extra {extra}")
    if problems:
        raise DataError(
            "class folders differ between splits (" + "; ".join(problems) + "): every split needs the same "
            "<class>/ folders; rename or remove folders so they agree"
        )
    return reference
