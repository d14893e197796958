"""Example images for a Space: drawn by code (the sample-dataset generator) or taken from --examples DIR.

Never the licensed sample photos by default: generated pictures carry no licence question.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import numpy as np

from seefood.data.sample import DEFAULT_CLASSES, render_image
from seefood.errors import DataError
from seefood.io import atomic_write_bytes
from seefood.space.uploads import UploadError, UploadLimits, load_upload

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
EXAMPLE_SIZE = 256  # pixels; big enough to look like a photo in the UI, small in the repo


def _drawable(class_names: tuple[str, ...], count: int) -> list[str]:
    """Drawable classes the model knows first (pizza matches "pizza"), then the others."""
    def key(name: str) -> str:
        return re.sub(r"[^a-z]", "", name.lower()).rstrip("s")

    known = {key(n) for n in class_names}
    ranked = sorted(DEFAULT_CLASSES, key=lambda c: (key(c) not in known, c))
    return ranked[:count]


def generate_examples(out: Path, class_names: tuple[str, ...], count: int = 4, seed: int = 0) -> list[Path]:
    """Draw `count` food pictures into `out` as JPEG; the same seed gives the same bytes."""
    paths = []
    for i, name in enumerate(_drawable(class_names, count)):
        image = render_image(name, np.random.default_rng([seed, i]), EXAMPLE_SIZE)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=90)
        paths.append(atomic_write_bytes(out / f"{i + 1:02d}-drawn-{name}.jpg", buf.getvalue()))
    return paths


def copy_examples(source: Path, out: Path, count: int, limits: UploadLimits) -> list[Path]:
    """Copy up to `count` images from `source` (one per sub-folder in turn), each checked like an upload."""
    if not source.is_dir():
        raise DataError(f"--examples {source} is not a folder: pass a folder of JPEG/PNG/WebP images")
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    groups: dict[Path, list[Path]] = {}
    for p in files:
        groups.setdefault(p.parent, []).append(p)
    picked: list[Path] = []
    while len(picked) < count and any(groups.values()):
        for folder in sorted(groups):
            if groups[folder] and len(picked) < count:
                picked.append(groups[folder].pop(0))
    if not picked:
        raise DataError(f"--examples {source} holds no images ({', '.join(IMAGE_SUFFIXES)}): add some or leave it out")
    paths = []
    for i, src in enumerate(picked):
        try:
            load_upload(src, limits)
        except UploadError as exc:
            raise DataError(f"example {src} would be refused by the Space: {exc}") from None
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", src.stem)[:60]
        paths.append(atomic_write_bytes(out / f"{i + 1:02d}-{stem}{src.suffix.lower()}", src.read_bytes()))
    log.info("copied %d example image(s) from %s", len(paths), source)
    return paths
