"""`load_data`: one entry point from a data spec ("sample", "food101" or a folder) to `DataSplits`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seefood.data import folders, splitting
from seefood.data.checks import check_images
from seefood.data.food101 import ensure_food101, read_food101
from seefood.data.records import SPLITS, BadImage, DataSplits, Sample
from seefood.data.sample import sample_dataset_path, seefood_home
from seefood.errors import ConfigError, DataError

log = logging.getLogger(__name__)
FLAT_TEST_FRACTION = 0.15  # a flat <class>/ folder gives 15 % of each class to test, then val_fraction of the rest


@dataclass(frozen=True)
class DataConfig:
    """Which data a run uses and how it is split; the CLI's --data options map onto these fields."""

    spec: str = "sample"  # "sample", "food101" or a path to an ImageFolder
    root: Path | None = None  # cache folder of the named datasets (default $SEEFOOD_HOME or ~/.cache/seefood)
    subset: float | None = None  # keep this fraction of every class in every split (seeded, >= 1 per class)
    classes: tuple[str, ...] | None = None  # keep only these classes, re-indexed in the dataset's order
    seed: int = 0  # drives every split and subset: same seed, same files
    val_fraction: float = 0.1  # carved from train when the dataset has no val/ split
    strict: bool = False  # an undecodable image is an error instead of being left out
    download: bool = True  # allow downloading Food-101
    check: bool = True  # decode every image up front

    def load(self) -> DataSplits:
        """Load the data this config describes."""
        return load_data(
            self.spec, root=self.root, subset=self.subset, classes=self.classes, seed=self.seed,
            val_fraction=self.val_fraction, strict=self.strict, download=self.download, check=self.check,
        )


@dataclass(frozen=True)
class _Found:
    """A dataset as found on disk, before filtering and splitting."""

    source: str
    root: Path  # fingerprint paths are relative to it
    class_names: tuple[str, ...]
    parts: dict[str, list[Sample]] = field(default_factory=dict)  # train/test[/val], or "all" for a flat folder


def _from_folder(path: Path, source: str | None = None) -> _Found:
    """An ImageFolder with train/ and test/ (optional val/) folders, or a flat <class>/ folder."""
    path = path.expanduser()
    if not path.is_dir():
        raise DataError(f"{path} is not a folder: --data needs {', '.join(NAMED_DATASETS)} or an ImageFolder path")
    split_dirs = folders.find_split_folders(path)
    if split_dirs is None:
        names = folders.class_folders(path)
        if not names:
            raise DataError(f"{path} has no class sub-folders: expected <class>/<image> or train/<class>/<image>")
        parts = {"all": folders.scan_class_folders(path, names)}
    else:
        names = folders.split_class_names(split_dirs)
        parts = {split: folders.scan_class_folders(d, names) for split, d in split_dirs.items()}
    return _Found(source or str(path.resolve()), path, tuple(names), parts)


def _sample(root: Path | None, download: bool) -> _Found:
    path = sample_dataset_path(root)
    return _from_folder(path, source=f"sample:{path}")


def _food101(root: Path | None, download: bool) -> _Found:
    cache = Path(root) if root is not None else seefood_home() / "datasets"
    base = ensure_food101(cache, download=download)
    names, parts = read_food101(base)
    return _Found(f"food101:{cache}", base, names, dict(parts))


# named datasets: spec -> finder(root, download); anything else is read as a folder path
NAMED_DATASETS: dict[str, Callable[[Path | None, bool], _Found]] = {"sample": _sample, "food101": _food101}


def _find(spec: str, root: Path | None, download: bool) -> _Found:
    if spec in NAMED_DATASETS:
        return NAMED_DATASETS[spec](root, download)
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(
            f"no dataset named {spec!r} and no folder {path}: use {' or '.join(NAMED_DATASETS)}, "
            f"or the path of an ImageFolder (train/ and test/ with <class>/ sub-folders, or just <class>/ folders)"
        )
    return _from_folder(path)


def _check_options(subset: float | None, val_fraction: float) -> None:
    if subset is not None and not 0.0 < subset <= 1.0:
        raise ConfigError(f"subset must be in (0, 1], got {subset}: e.g. --subset 0.2 keeps 20 % of each class")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")


def _split(
    parts: dict[str, list[Sample]], class_names: Sequence[str], val_fraction: float, seed: int
) -> dict[str, list[Sample]]:
    """train/val/test from the parts found: split a flat folder, carve val from train when missing."""
    if "all" in parts:
        train, test = splitting.split_flat(parts["all"], FLAT_TEST_FRACTION, seed, class_names)
        parts = {"train": train, "test": test}
    if "val" not in parts:
        train, val = splitting.carve(parts["train"], val_fraction, seed, "val")
        parts = {**parts, "train": train, "val": val}
    return {name: parts[name] for name in SPLITS}


def _drop_bad(splits: dict[str, list[Sample]], strict: bool) -> tuple[dict[str, list[Sample]], tuple[BadImage, ...]]:
    every = [s for name in SPLITS for s in splits[name]]
    _, bad = check_images(every, strict=strict)
    if not bad:
        return splits, ()
    bad_paths = {b.path for b in bad}
    return {name: [s for s in ss if s.path not in bad_paths] for name, ss in splits.items()}, bad


def load_data(
    spec: str,
    root: Path | None = None,
    subset: float | None = None,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    val_fraction: float = 0.1,
    strict: bool = False,
    download: bool = True,
    check: bool = True,
) -> DataSplits:
    """Load "sample", "food101" or an ImageFolder path into seeded, stratified train/val/test `DataSplits`."""
    _check_options(subset, val_fraction)
    found = _find(spec, root, download)
    class_names, parts = found.class_names, found.parts
    if classes:
        mapping = splitting.select_classes(class_names, list(classes))
        class_names = tuple(class_names[old] for old in mapping)
        parts = {name: splitting.relabel(ss, mapping) for name, ss in parts.items()}
    splits = _split(parts, class_names, val_fraction, seed)
    if subset is not None and subset < 1.0:
        splits = {name: splitting.subsample(ss, subset, seed) for name, ss in splits.items()}
    bad: tuple[BadImage, ...] = ()
    if check:
        splits, bad = _drop_bad(splits, strict)
    empty = [class_names[i] for i in range(len(class_names)) if not any(s.label == i for s in splits["train"])]
    if empty:
        raise DataError(f"no usable training images for class(es) {empty} in {found.source}: add images")
    log.info("%s: %d classes, %s", found.source, len(class_names),
             ", ".join(f"{len(splits[n])} {n}" for n in SPLITS))
    return DataSplits(
        train=tuple(splits["train"]), val=tuple(splits["val"]), test=tuple(splits["test"]),
        class_names=tuple(class_names), fingerprint=splitting.fingerprint(splits, class_names, found.root),
        source=found.source, bad=bad,
    )
