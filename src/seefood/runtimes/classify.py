"""Classify photo files through any artifact: the library side of `seefood predict` (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from seefood.errors import ConfigError, DataError
from seefood.runtimes import load_runtime, top_k


@dataclass(frozen=True)
class PredictConfig:
    """What `seefood predict` classifies, and how."""

    artifact: Path  # artifact folder or checkpoint folder
    images: tuple[Path, ...]  # photo files
    top: int = 5  # labels per photo
    device: str = "cpu"
    threads: int | None = None  # None: every CPU core

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ConfigError(f"--top must be >= 1, got {self.top}")
        if not self.images:
            raise ConfigError("give at least one image file")


@dataclass(frozen=True)
class Prediction:
    """The top labels of one photo, most likely first."""

    path: Path
    top: tuple[tuple[str, float], ...]


def open_photo(path: Path) -> Image.Image:
    """Decode a photo fully; a missing or unreadable file is a DataError saying what to pass instead."""
    if not path.is_file():
        raise DataError(f"{path} is not a file: pass the path of a photo (JPEG, PNG, WebP...)")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read {path} as an image ({type(exc).__name__}: {exc}): pass a JPEG, PNG or WebP "
                        f"photo") from exc


def classify_files(config: PredictConfig) -> list[Prediction]:
    """The top-k labels of every photo, through the artifact's own runtime and preprocessing."""
    photos = [open_photo(Path(p)) for p in config.images]  # fail on a bad file before loading the model
    runtime = load_runtime(config.artifact, device=config.device, threads=config.threads)
    k = min(config.top, runtime.meta.num_classes)
    ranked = top_k(runtime, photos, k)
    return [Prediction(Path(p), tuple(r)) for p, r in zip(config.images, ranked)]
