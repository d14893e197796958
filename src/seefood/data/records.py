"""Dataset records: one `Sample` per image and the `DataSplits` a run trains and evaluates on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Sample:
    """One image file and its class index (into `DataSplits.class_names`)."""

    path: Path
    label: int


@dataclass(frozen=True)
class BadImage:
    """An image that could not be decoded, and why."""

    sample: Sample
    reason: str

    @property
    def path(self) -> Path:
        """The file that failed."""
        return self.sample.path


@dataclass(frozen=True)
class DataSplits:
    """Train / validation / test samples of one dataset, with its class names and a fingerprint."""

    train: tuple[Sample, ...]
    val: tuple[Sample, ...]
    test: tuple[Sample, ...]
    class_names: tuple[str, ...]  # label i is class_names[i]
    fingerprint: str  # sha256 over (split, relative path, size) of every sample + class names
    source: str  # what was loaded: "sample:<path>", "food101:<root>" or the ImageFolder path
    bad: tuple[BadImage, ...] = ()  # undecodable files that were left out (empty when none or unchecked)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def split(self, name: str) -> tuple[Sample, ...]:
        """The samples of split `name` (train, val or test)."""
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}: use one of {', '.join(SPLITS)}")
        samples: tuple[Sample, ...] = getattr(self, name)
        return samples

    def counts(self) -> dict[str, list[int]]:
        """Images per class for every split: {"train": [n_class0, n_class1, ...], ...}."""
        out = {}
        for name in SPLITS:
            per = Counter(s.label for s in self.split(name))
            out[name] = [per.get(i, 0) for i in range(self.num_classes)]
        return out
