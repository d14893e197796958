"""Food-101 via torchvision (download + checksum), read from its meta/{train,test}.json lists."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from seefood.data.records import Sample
from seefood.errors import DataError

log = logging.getLogger(__name__)
OFFLINE_HINT = (
    "use --data PATH with a local ImageFolder instead (train/<class>/*.jpg and test/<class>/*.jpg, "
    "or one folder of <class>/ sub-folders), or --data sample for the generated demo dataset"
)


def ensure_food101(root: Path, download: bool = True) -> Path:
    """Let torchvision download and verify Food-101 under `root`; return `root/food-101`."""
    from torchvision.datasets import Food101

    try:
        for split in ("train", "test"):
            Food101(str(root), split=split, download=download)
    except Exception as exc:  # urllib/ssl/socket/tarfile errors differ by platform; all mean "not usable"
        if download:
            why = (f"Food-101 (about 5 GB) is not in {root / 'food-101'} and could not be downloaded "
                   f"({type(exc).__name__}: {exc}); downloading needs internet access")
        else:
            why = f"Food-101 is not in {root / 'food-101'} and downloading is off ({exc})"
        raise DataError(f"{why}. Offline, {OFFLINE_HINT}") from exc
    return root / "food-101"


def read_food101(base: Path) -> tuple[tuple[str, ...], dict[str, list[Sample]]]:
    """Class names and train/test samples from `base/meta/{split}.json` and `base/images/<class>/<id>.jpg`."""
    lists: dict[str, dict[str, list[str]]] = {}
    for split in ("train", "test"):
        meta = base / "meta" / f"{split}.json"
        try:
            lists[split] = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {meta} ({exc}): delete {base} so it is downloaded again") from exc
    class_names = tuple(sorted(lists["train"]))
    if sorted(lists["test"]) != list(class_names):
        raise DataError(f"{base}/meta lists different classes for train and test: delete {base} and download again")
    label = {name: i for i, name in enumerate(class_names)}
    parts = {
        split: [Sample(base / "images" / f"{entry}.jpg", label[name]) for name in class_names for entry in entries[name]]
        for split, entries in lists.items()
    }
    log.info("Food-101: %d train, %d test images, %d classes", len(parts["train"]), len(parts["test"]), len(class_names))
    return class_names, parts
