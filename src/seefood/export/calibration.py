"""Calibration data for post-training int8 quantisation: a seeded, class-stratified sample of training photos.

The images go through the *deployment* preprocessing (`Preprocessing.batch`), so the activation ranges
the quantiser measures are the ones the exported model sees in production.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from seefood.errors import ConfigError, DataError
from seefood.preprocessing import Preprocessing

log = logging.getLogger(__name__)

RECOMMENDED_IMAGES = 100  # fewer calibration images than this give noticeably noisier activation ranges


def calibration_batches(
    data: str | os.PathLike[str], pre: Preprocessing, n: int = 300, seed: int = 0, batch_size: int = 1
) -> list[np.ndarray]:
    """A seeded, class-stratified sample of `n` training images as float32 NCHW batches of `batch_size`."""
    if n < 1:
        raise ConfigError(f"calibration needs at least 1 image, got n={n}; 300 is a good default")
    if batch_size < 1:
        raise ConfigError(f"calibration batch size must be >= 1, got {batch_size}")
    by_class = training_images(data)
    batches: list[np.ndarray] = []
    pending: list[Image.Image] = []
    taken = skipped = 0
    for path in stratified_order(by_class, seed):
        if taken == n:
            break
        image = _read_image(path)
        if image is None:
            skipped += 1
            continue
        pending.append(image)
        taken += 1
        if len(pending) == batch_size:
            batches.append(pre.batch(pending))
            pending = []
    if pending:
        batches.append(pre.batch(pending))
    if taken == 0:
        raise DataError(
            f"none of the {skipped} images under {data} could be read: check the files are valid JPEG/PNG photos"
        )
    if skipped:
        log.warning("skipped %d unreadable image(s) while sampling calibration data from %s", skipped, data)
    if taken < RECOMMENDED_IMAGES:
        log.warning(
            "only %d calibration image(s) (asked for %d); int8 ranges from fewer than %d images are noisy: "
            "add training images or raise --calib-size", taken, n, RECOMMENDED_IMAGES,
        )
    log.info("calibration set: %d images from %d classes in %d batch(es)", taken, len(by_class), len(batches))
    return batches


def training_images(data: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """Class name -> image paths of the training split, as `seefood.data.load_data` splits the folder.

    `train/<class>/*` (+ `test/`) folders give their train/ images less the validation carve-out;
    a flat `<class>/*` folder gives the training part of its seeded split, so calibration never
    sees the images parity and benchmarks are measured on.
    """
    from seefood.data import load_data

    splits = load_data(os.fspath(data), check=False, download=False)
    by_class: dict[str, list[Path]] = {}
    for sample in splits.train:
        by_class.setdefault(splits.class_names[sample.label], []).append(Path(sample.path))
    if not by_class:
        raise DataError(f"no training images found in {data}: expected train/<class>/*.jpg or <class>/*.jpg")
    return {name: sorted(paths) for name, paths in sorted(by_class.items())}


def stratified_order(by_class: dict[str, list[Path]], seed: int) -> Iterator[Path]:
    """Yield images round-robin over classes (each class shuffled, each round's class order shuffled).

    Any prefix of the result is as balanced over classes as the class sizes allow, so taking the
    first n readable images gives a stratified sample and an unreadable image is replaced by one of
    another class in the same round, never dropping a class.
    """
    rng = np.random.default_rng(seed)
    queues = {name: [files[i] for i in rng.permutation(len(files))] for name, files in sorted(by_class.items())}
    rounds = max((len(files) for files in queues.values()), default=0)
    names = sorted(queues)
    for r in range(rounds):
        for k in rng.permutation(len(names)):
            files = queues[names[k]]
            if r < len(files):
                yield files[r]


def _read_image(path: Path) -> Image.Image | None:
    """Decode a photo fully (so truncated files fail here), or None with a warning."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("skipping unreadable calibration image %s (%s)", path, exc)
        return None
