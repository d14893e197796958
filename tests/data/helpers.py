"""Helpers for the data tests: write tiny image trees fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_images(folder: Path, count: int, ext: str = ".jpg", start: int = 0) -> list[Path]:
    """Write `count` small random images into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        rng = np.random.default_rng(i)
        path = folder / f"img{i:03d}{ext}"
        Image.fromarray(rng.integers(0, 256, size=(16, 20, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def write_tree(root: Path, layout: dict[str, int], ext: str = ".jpg") -> Path:
    """`layout` maps "split/class" (or "class") to an image count."""
    for rel, count in layout.items():
        write_images(root / rel, count, ext)
    return root
