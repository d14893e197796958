"""Classify photo files through any artifact: the library side of `seefood predict` (torch-free)."""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, UnidentifiedImageError

from seefood.data.folders import IMAGE_NAMES, is_image_file
from seefood.errors import ConfigError, DataError
from seefood.preprocessing import PixelLimits, to_rgb
from seefood.runtimes import Runtime, load_runtime, top_k

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class PredictConfig:
    """What `seefood predict` classifies, and how."""

    artifact: Path  # artifact folder or checkpoint folder
    images: tuple[Path, ...]  # photo files, folders (searched recursively for images) or glob patterns
    top: int = 5  # labels per photo (`--top-k`)
    device: str = "cpu"
    threads: int | None = None  # None: every CPU core
    batch_size: int = 8  # photos decoded and classified at a time: memory stays bounded however many are given
    limits: PixelLimits = field(default_factory=PixelLimits)  # the Space's pixel cap and minimum size

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ConfigError(f"--top-k must be >= 1, got {self.top}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not self.images:
            raise ConfigError("give at least one photo, folder or glob pattern")


class Score(NamedTuple):
    """One label of a prediction and its softmax probability (unpacks as `label, probability`)."""

    label: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    """The top labels of one photo, most likely first: what `seefood predict` prints (`--json`: one per line)."""

    path: Path | None  # the photo file; None for an image passed in memory (a PIL image or an array)
    top: tuple[Score, ...]  # the k most likely labels, most likely first
    ms: float = 0.0  # this photo's share of its batch's wall time: decode + preprocessing + inference

    @property
    def label(self) -> str:
        """The most likely label."""
        return self.top[0].label

    @property
    def probability(self) -> float:
        """The probability of the most likely label."""
        return self.top[0].probability

    def to_dict(self) -> dict[str, Any]:
        """The JSON object `seefood predict --json` prints for this photo."""
        return {
            "path": None if self.path is None else str(self.path),
            "top": [{"label": s.label, "probability": round(s.probability, 6)} for s in self.top],
            "ms": round(self.ms, 3),
        }


def find_photos(inputs: Sequence[str | Path]) -> list[Path]:
    """Photo files, folders and glob patterns -> the photo files, in the order given, each once.

    A file is taken as it is (check_photo judges it); a folder gives its image files (JPEG, PNG, BMP, WebP; sub-folders
    too, hidden ones skipped), sorted; a pattern such as `photos/*.jpg` or `photos/**/*.png` (quoted, so the shell
    leaves it to seefood) gives the image files it matches, sorted. A path that names nothing is a ConfigError.
    """
    found: dict[Path, None] = {}
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            photos = sorted(p for p in path.rglob("*") if is_image_file(p) and not _hidden(p, path))
            if not photos:
                raise DataError(f"{path} holds no {'/'.join(IMAGE_NAMES)} photos: pass a folder of photos")
            found.update(dict.fromkeys(photos))
        elif _GLOB_CHARS & set(str(item)):
            photos = sorted(p for p in map(Path, glob.glob(str(path), recursive=True)) if is_image_file(p))
            if not photos:
                raise ConfigError(f"the pattern {str(item)!r} matches no {'/'.join(IMAGE_NAMES)} photo")
            found.update(dict.fromkeys(photos))
        else:
            raise ConfigError(f"{path} is not a file, a folder or a glob pattern: pass photos (JPEG, PNG, WebP...)")
    return list(found)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _unreadable(path: Path, exc: Exception) -> DataError:
    return DataError(f"cannot read {path} as an image ({type(exc).__name__}: {exc}): pass a JPEG, PNG or WebP photo")


def check_photo(path: Path, limits: PixelLimits) -> None:
    """Read only the header: a missing, unreadable or refused (pixel policy) file is a DataError saying why."""
    if not path.is_file():
        raise DataError(f"{path} is not a file: pass the path of a photo (JPEG, PNG, WebP...)")
    try:
        with Image.open(path) as image:
            size = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _unreadable(path, exc) from exc
    problem = limits.problem(*size)
    if problem is not None:
        raise DataError(f"{path} is {problem}: pass an ordinary photo (the Space refuses this one too)")


def open_photo(path: Path, limits: PixelLimits | None = None, draft: int | None = None) -> Image.Image:
    """Check, then decode a photo into RGB; a JPEG is decoded at reduced size (`Image.draft`) when both sides
    can stay >= `draft` pixels (the model's resize), so a 12 MP photo takes ~0.2 MP of memory, not 36 MB."""
    check_photo(path, limits or PixelLimits())
    try:
        with Image.open(path) as image:
            if draft is not None and image.format == "JPEG":
                image.draft("RGB", (draft, draft))  # the scale keeps both sides >= draft
            image.load()
            return to_rgb(image).copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _unreadable(path, exc) from exc


def classify(runtime: Runtime, images: Sequence[Any], top: int = 5,
             paths: Sequence[Path | None] | None = None, started: float | None = None) -> list[Prediction]:
    """Predictions for one batch of decoded images (PIL images or uint8 arrays) through a loaded runtime.

    `started`: the perf_counter reading before the batch was decoded, so `ms` includes decoding.
    """
    t0 = time.perf_counter() if started is None else started
    ranked = top_k(runtime, list(images), min(top, runtime.meta.num_classes))
    ms = 1000.0 * (time.perf_counter() - t0) / max(len(ranked), 1)
    names = paths if paths is not None else [None] * len(ranked)
    return [Prediction(p, tuple(Score(*s) for s in r), ms) for p, r in zip(names, ranked, strict=True)]


def iter_predictions(config: PredictConfig, runtime: Runtime | None = None) -> Iterator[Prediction]:
    """The top-k labels of every photo, through the artifact's own runtime and preprocessing, as they come.

    The inputs are expanded (find_photos) and every file's header is checked before the model loads (a bad
    file fails fast); then photos are decoded `batch_size` at a time, so memory does not grow with their number.
    """
    paths = find_photos(config.images)
    for path in paths:
        check_photo(path, config.limits)
    if runtime is None:
        runtime = load_runtime(config.artifact, device=config.device, threads=config.threads)
    resize = runtime.meta.preprocessing.resize
    for start in range(0, len(paths), config.batch_size):
        chunk = paths[start:start + config.batch_size]
        t0 = time.perf_counter()
        photos = [open_photo(p, config.limits, draft=resize) for p in chunk]
        yield from classify(runtime, photos, config.top, paths=chunk, started=t0)


def classify_files(config: PredictConfig) -> list[Prediction]:
    """Every prediction of iter_predictions, as a list."""
    return list(iter_predictions(config))
