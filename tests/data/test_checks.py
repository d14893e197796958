"""Corrupt and empty images are found up front: left out with a log line, or an error with --strict."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from seefood.data import Sample, check_images, load_data
from seefood.errors import DataError
from tests.data.helpers import write_tree


def _damage(folder: Path) -> dict[str, Path]:
    """Empty, truncated, garbage and wrong-extension files among good ones."""
    good = min(folder.glob("*.jpg")).read_bytes()
    damaged = {
        "empty": folder / "empty.jpg",
        "truncated": folder / "truncated.jpg",
        "garbage": folder / "garbage.png",
    }
    damaged["empty"].write_bytes(b"")
    damaged["truncated"].write_bytes(good[: len(good) // 2])
    damaged["garbage"].write_bytes(b"\x89PNG not really" * 10)
    return damaged


def test_check_images_splits_good_from_bad(tmp_path: Path, tiny_images: dict[str, Path],
                                           caplog: pytest.LogCaptureFixture) -> None:
    damaged = _damage(tiny_images["rgb.jpg"].parent)
    samples = [Sample(p, 0) for p in tiny_images.values()] + [Sample(p, 1) for p in damaged.values()]
    with caplog.at_level(logging.WARNING):
        good, bad = check_images(samples)
    too_small = {tiny_images["one_pixel.bmp"], tiny_images["wide.webp"]}  # the Space refuses them too
    assert good == tuple(s for s in samples[: len(tiny_images)] if s.path not in too_small)
    assert {b.path for b in bad} == set(damaged.values()) | too_small
    reasons = {b.path.stem: b.reason for b in bad}
    assert reasons["empty"] == "empty file" and "truncated" in reasons["truncated"].lower()
    assert reasons["wide"] == "only 120x8 pixels; a photo needs at least 16 pixels on each side"
    assert all(str(p) in caplog.text for p in damaged.values())
    with pytest.raises(DataError, match=r"5 image\(s\) cannot be used.*empty.jpg.*--strict"):
        check_images(samples, strict=True)


def test_the_pixel_cap_is_read_from_the_header_without_decoding(tmp_path: Path) -> None:
    from seefood.preprocessing import PixelLimits
    from tests.space.helpers import png_header_only

    bomb = png_header_only(tmp_path / "bomb.png", 13_000, 13_000)  # 169 MP in a few bytes: never decoded
    good, bad = check_images([Sample(bomb, 0)])
    assert good == () and bad[0].reason == "13000x13000 pixels (169 MP); the limit is 40 MP"
    assert check_images([Sample(bomb, 0)], limits=PixelLimits(max_pixels=200_000_000))[1][0].reason != bad[0].reason


def test_load_data_leaves_bad_files_out_or_fails_when_strict(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"train/a": 4, "train/b": 4, "test/a": 2, "test/b": 2})
    damaged = _damage(root / "train" / "a")
    data = load_data(str(root), val_fraction=0.0)
    assert {b.path for b in data.bad} == set(damaged.values())
    assert data.counts()["train"] == [4, 4]
    assert not {s.path for s in data.train} & set(damaged.values())
    assert load_data(str(root), val_fraction=0.0, check=False).counts()["train"] == [7, 4]
    with pytest.raises(DataError, match="truncated.jpg"):
        load_data(str(root), strict=True)


def test_a_class_with_only_bad_training_images_is_an_error(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"train/a": 3, "test/a": 1, "test/b": 1})
    (root / "train" / "b").mkdir()
    (root / "train" / "b" / "x.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"no usable training images for class\(es\) \['b'\]"):
        load_data(str(root))
