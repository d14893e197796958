"""Classify photo files through any artifact: the library side of `seefood predict` (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from seefood.errors import ConfigError, DataError
from seefood.preprocessing import PixelLimits, to_rgb
from seefood.runtimes import load_runtime, top_k


@dataclass(frozen=True)
class PredictConfig:
    """What `seefood predict` classifies, and how."""

    artifact: Path  # artifact folder or checkpoint folder
    images: tuple[Path, ...]  # photo files
    top: int = 5  # labels per photo
    device: str = "cpu"
    threads: int | None = None  # None: every CPU core
    batch_size: int = 8  # photos decoded and classified at a time: memory stays bounded however many are given
    limits: PixelLimits = field(default_factory=PixelLimits)  # the Space's pixel cap and minimum size

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ConfigError(f"--top must be >= 1, got {self.top}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not self.images:
            raise ConfigError("give at least one image file")


@dataclass(frozen=True)
class Prediction:
    """The top labels of one photo, most likely first."""

    path: Path
    top: tuple[tuple[str, float], ...]


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


def classify_files(config: PredictConfig) -> list[Prediction]:
    """The top-k labels of every photo, through the artifact's own runtime and preprocessing.

    Every file's header is checked before the model loads (a bad file fails fast); then photos are decoded
    `batch_size` at a time, so memory does not grow with the number of photos.
    """
    paths = [Path(p) for p in config.images]
    for path in paths:
        check_photo(path, config.limits)
    runtime = load_runtime(config.artifact, device=config.device, threads=config.threads)
    k = min(config.top, runtime.meta.num_classes)
    resize = runtime.meta.preprocessing.resize
    results: list[Prediction] = []
    for start in range(0, len(paths), config.batch_size):
        chunk = paths[start:start + config.batch_size]
        photos = [open_photo(p, config.limits, draft=resize) for p in chunk]
        ranked = top_k(runtime, photos, k)
        results += [Prediction(p, tuple(r)) for p, r in zip(chunk, ranked, strict=True)]
    return results
