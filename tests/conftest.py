"""Shared test fixtures: a small generated dataset and a handful of unusual image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seefood.data import make_sample_dataset

SAMPLE_CLASSES = ("donut", "pizza", "salad", "sushi")

@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated ImageFolder: 4 classes x (24 train + 8 test) JPEGs of 64 px, plus classes.txt.

    Session-scoped and shared: treat it as read-only (copy it before changing files).
    `seefood.data.load_data(str(sample_data))` gives DataSplits (val carved from train).
    """
    out = tmp_path_factory.mktemp("seefood-data") / "sample"
    return make_sample_dataset(out, per_class_train=24, per_class_test=8, size=64, seed=0, classes=SAMPLE_CLASSES)


@pytest.fixture
def tiny_images(tmp_path: Path) -> dict[str, Path]:
    """A few odd but valid image files (modes, alpha, EXIF rotation, odd sizes), keyed by what is odd."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "odd-images"
    folder.mkdir()
    rgb = Image.fromarray(rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8))
    files: dict[str, Path] = {}

    def save(name: str, image: Image.Image, **kwargs: object) -> None:
        files[name] = folder / name
        image.save(files[name], **kwargs)

    save("rgb.jpg", rgb, quality=90)
    save("gray.png", rgb.convert("L"))
    save("rgba.png", rgb.convert("RGBA"))
    save("palette.png", rgb.convert("P"))
    save("cmyk.jpg", rgb.convert("CMYK"))
    save("gray16.png", Image.fromarray((rng.integers(0, 65535, size=(30, 30))).astype(np.uint16)))
    save("one_pixel.bmp", Image.new("RGB", (1, 1), (200, 30, 30)))
    save("wide.webp", Image.fromarray(rng.integers(0, 256, size=(8, 120, 3), dtype=np.uint8)))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees on display
    save("exif_rotated.jpg", rgb, exif=exif)
    return files
