"""Which labelled photos parity runs on: --parity-data, else the test split of the checkpoint's dataset."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seefood.data import folders
from seefood.data.datasets import DataConfig
from seefood.errors import ConfigError, DataError
from seefood.metadata import ModelMeta

log = logging.getLogger(__name__)
TEST_SPLIT = "test"


@dataclass(frozen=True)
class LabelledPhotos:
    """Photo paths with labels indexed into the model's class names (-1: a class the model lacks)."""

    source: str
    paths: tuple[Path, ...]
    labels: tuple[int, ...]


def photos_from_folder(root: Path, class_names: tuple[str, ...]) -> LabelledPhotos:
    """Every photo of `root/test/<class>/*` (a split dataset) or `root/<class>/*` (a folder of test photos)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"parity data folder {root} does not exist: pass --parity-data a folder of labelled photos")
    base = root / TEST_SPLIT if (root / TEST_SPLIT).is_dir() else root
    names = folders.class_folders(base)
    if not names:
        raise DataError(
            f"{base} has no class sub-folders: --parity-data needs test/<class>/<image> or <class>/<image>"
        )
    samples = folders.scan_class_folders(base, names)
    return _relabel(str(base.resolve()), [(s.path, names[s.label]) for s in samples], class_names)


def photos_from_meta(meta: ModelMeta) -> LabelledPhotos | None:
    """The test split of the dataset recorded in a checkpoint's training config, None when none is recorded."""
    config: dict[str, Any] = meta.config
    spec = config.get("data")
    if not isinstance(spec, str) or not spec:
        return None
    root = config.get("data_root")
    data = DataConfig(
        spec=spec, root=Path(root) if root else None, subset=config.get("subset"),
        classes=tuple(config["classes"]) if config.get("classes") else None, seed=int(config.get("seed", 0)),
        val_fraction=float(config.get("val_fraction", 0.1)), download=False, check=False,
    ).load()
    return _relabel(data.source, [(s.path, data.class_names[s.label]) for s in data.test], meta.class_names)


def resolve_parity_photos(parity_data: Path | None, meta: ModelMeta) -> LabelledPhotos:
    """--parity-data when given, else the checkpoint's test split; neither is a ConfigError."""
    if parity_data is not None:
        return photos_from_folder(parity_data, meta.class_names)
    try:
        found = photos_from_meta(meta)
    except DataError as exc:
        raise ConfigError(
            f"the checkpoint's training data is not readable here ({exc}): pass --parity-data PATH"
        ) from exc
    if found is None:
        raise ConfigError(
            "the checkpoint records no training dataset: pass --parity-data PATH (test/<class>/* or <class>/*)"
        )
    return found


def sample_photos(photos: LabelledPhotos, limit: int, seed: int) -> LabelledPhotos:
    """At most `limit` photos, a seeded sample in file order (all of them when there are fewer)."""
    if len(photos.paths) <= limit:
        return photos
    keep = np.sort(np.random.default_rng(seed).choice(len(photos.paths), size=limit, replace=False))
    return LabelledPhotos(photos.source, tuple(photos.paths[i] for i in keep), tuple(photos.labels[i] for i in keep))


def _relabel(source: str, items: list[tuple[Path, str]], class_names: tuple[str, ...]) -> LabelledPhotos:
    """Label photos by class *name*, so a folder with other or fewer classes still lines up with the model."""
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({name for _, name in items if name not in index})
    if unknown and len(unknown) == len({name for _, name in items}):
        log.warning("none of the parity classes (%s...) is a class of the model: accuracy cannot be measured, "
                    "only agreement", ", ".join(unknown[:3]))
    elif unknown:
        log.warning("parity classes unknown to the model are left out of accuracy: %s", ", ".join(unknown))
    return LabelledPhotos(source, tuple(p for p, _ in items), tuple(index.get(name, -1) for _, name in items))
