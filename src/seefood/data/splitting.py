"""Deterministic, stratified splitting and sub-sampling of samples, class filtering, fingerprints."""

from __future__ import annotations

import hashlib
import logging
import os
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from seefood.data.records import Sample
from seefood.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _by_class(samples: Sequence[Sample]) -> dict[int, list[Sample]]:
    groups: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.label].append(s)
    return dict(sorted(groups.items()))


def _shuffled(items: list[Sample], seed: int, label: int, salt: str) -> list[Sample]:
    """A seeded shuffle that depends only on (seed, salt, label) and the (sorted) items."""
    items = sorted(items, key=lambda s: str(s.path))
    random.Random(f"{salt}:{seed}:{label}").shuffle(items)
    return items


def carve(samples: Sequence[Sample], fraction: float, seed: int, salt: str) -> tuple[list[Sample], list[Sample]]:
    """Split off `fraction` of every class (at least 1 when it has 2+, never the last one): (rest, carved)."""
    rest: list[Sample] = []
    carved: list[Sample] = []
    for label, group in _by_class(samples).items():
        shuffled = _shuffled(group, seed, label, salt)
        n = min(max(1, round(fraction * len(group))), len(group) - 1) if fraction > 0 else 0
        if fraction > 0 and n == 0:
            log.warning("class %d has a single image: it stays in the larger split", label)
        carved += shuffled[:n]
        rest += shuffled[n:]
    return sorted(rest, key=_order), sorted(carved, key=_order)


def split_flat(
    samples: Sequence[Sample], test_fraction: float, seed: int, class_names: Sequence[str]
) -> tuple[list[Sample], list[Sample]]:
    """Stratified (train, test) split of one flat folder; every class needs 2+ images."""
    small = [class_names[label] for label, group in _by_class(samples).items() if len(group) < 2]
    if small:
        raise DataError(
            f"classes {small} have a single image, too few to split into train and test: "
            f"add images or provide train/ and test/ folders"
        )
    return carve(samples, test_fraction, seed, "test")


def subsample(samples: Sequence[Sample], fraction: float, seed: int) -> list[Sample]:
    """Keep a seeded `fraction` of every class (at least one image per class)."""
    kept: list[Sample] = []
    for label, group in _by_class(samples).items():
        n = max(1, round(fraction * len(group)))
        kept += _shuffled(group, seed, label, "subset")[:n]
    return sorted(kept, key=_order)


def select_classes(class_names: Sequence[str], wanted: Sequence[str]) -> dict[int, int]:
    """Map old label -> new label for the `wanted` classes (in the dataset's order); unknown names fail."""
    unknown = [c for c in wanted if c not in class_names]
    if unknown:
        raise DataError(f"unknown class(es) {unknown}: valid names are {', '.join(class_names)}")
    if len(set(wanted)) < 2:
        raise ConfigError(f"--classes needs at least 2 distinct classes, got {list(wanted)}")
    keep = [i for i, name in enumerate(class_names) if name in set(wanted)]
    return {old: new for new, old in enumerate(keep)}


def relabel(samples: Sequence[Sample], mapping: dict[int, int]) -> list[Sample]:
    """Drop samples whose label is not in `mapping`, re-index the others."""
    return [Sample(s.path, mapping[s.label]) for s in samples if s.label in mapping]


def _order(s: Sample) -> tuple[int, str]:
    return s.label, str(s.path)


def fingerprint(splits: Mapping[str, Sequence[Sample]], class_names: Sequence[str], root: Path) -> str:
    """sha256 over class names and (split, path relative to `root`, byte size) of every sample; no reads."""
    h = hashlib.sha256()
    h.update("\n".join(class_names).encode("utf-8") + b"\0")
    for split, samples in splits.items():
        for s in samples:
            rel = Path(os.path.relpath(s.path, root)).as_posix()
            h.update(f"{split}\t{rel}\t{s.label}\t{s.path.stat().st_size}\n".encode())
    return h.hexdigest()
