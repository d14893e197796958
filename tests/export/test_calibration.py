"""Calibration sampling: seeded, class-stratified, training split only, deployment preprocessing."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seefood.errors import ConfigError, DataError
from seefood.export.calibration import calibration_batches, stratified_order, training_images
from seefood.preprocessing import Preprocessing

PRE = Preprocessing(resize=20, crop=16)


def _write_images(folder: Path, count: int, shade: int, size: tuple[int, int] = (24, 20)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(shade)
    for i in range(count):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        pixels[..., 0] = shade  # red channel tells the class apart
        Image.fromarray(pixels).save(folder / f"img{i:03d}.png")


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "food"
    for k, name in enumerate(("apple_pie", "pizza", "sushi")):
        _write_images(root / "train" / name, 10, shade=40 * (k + 1))
        _write_images(root / "val" / name, 2, shade=250)  # validation and test images are never sampled
        _write_images(root / "test" / name, 3, shade=250)
    return root


def _expected(root: Path, n: int, seed: int) -> np.ndarray:
    paths = list(stratified_order(training_images(root), seed))[:n]
    images = []
    for p in paths:
        with Image.open(p) as im:
            images.append(im.copy())
    return PRE.batch(images)


def test_batches_are_seeded_and_use_the_deployment_preprocessing(dataset: Path) -> None:
    batches = calibration_batches(dataset, PRE, n=7, seed=3, batch_size=3)
    assert [b.shape for b in batches] == [(3, 3, 16, 16), (3, 3, 16, 16), (1, 3, 16, 16)]
    assert all(b.dtype == np.float32 for b in batches)
    stacked = np.concatenate(batches)
    np.testing.assert_array_equal(stacked, _expected(dataset, 7, seed=3))
    again = np.concatenate(calibration_batches(dataset, PRE, n=7, seed=3, batch_size=3))
    np.testing.assert_array_equal(stacked, again)
    other = np.concatenate(calibration_batches(dataset, PRE, n=7, seed=4, batch_size=3))
    assert not np.array_equal(stacked, other)


def test_sample_is_stratified_even_for_unbalanced_classes(tmp_path: Path) -> None:
    by_class = {"a": [tmp_path / f"a{i}" for i in range(2)], "b": [tmp_path / f"b{i}" for i in range(10)],
                "c": [tmp_path / f"c{i}" for i in range(10)]}
    for n in (3, 6, 9):
        counts = Counter(p.name[0] for p in list(stratified_order(by_class, seed=0))[:n])
        assert counts["a"] == min(2, n // 3)
        assert abs(counts["b"] - counts["c"]) <= 1 and sum(counts.values()) == n


def test_only_training_images_are_sampled(dataset: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="seefood.export.calibration"):
        batches = calibration_batches(dataset, PRE, n=300, batch_size=8)
    stacked = np.concatenate(batches)
    assert stacked.shape[0] == 30  # every train image once, no val or test image
    red = stacked[:, 0].mean(axis=(1, 2)) * PRE.std[0] + PRE.mean[0]  # undo Normalize
    assert sorted(Counter(np.round(red * 255).astype(int)).values()) == [10, 10, 10]
    assert any("only 30 calibration image" in r.getMessage() for r in caplog.records)


def test_unreadable_images_are_skipped_and_replaced(dataset: Path, caplog: pytest.LogCaptureFixture) -> None:
    (dataset / "train" / "pizza" / "broken.jpg").write_bytes(b"not a jpeg")
    with caplog.at_level(logging.WARNING, logger="seefood.export.calibration"):
        batches = calibration_batches(dataset, PRE, n=100)
    assert len(batches) == 30 and all(b.shape == (1, 3, 16, 16) for b in batches)
    assert any("broken.jpg" in r.getMessage() for r in caplog.records)
    assert len(calibration_batches(dataset, PRE, n=12)) == 12  # a skipped image is replaced by the next one


def test_flat_layout_samples_only_its_training_part(tmp_path: Path) -> None:
    for k, name in enumerate(("ramen", "steak")):
        _write_images(tmp_path / name, 10, shade=30 * (k + 1))
    train = training_images(tmp_path)
    assert sorted(train) == ["ramen", "steak"]
    n_train = sum(len(v) for v in train.values())
    assert 0 < n_train < 20  # load_data keeps test and validation images out of the training split
    assert sum(b.shape[0] for b in calibration_batches(tmp_path, PRE, n=100, batch_size=4)) == n_train


def test_no_images_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="class sub-folders"):
        calibration_batches(tmp_path, PRE)
    with pytest.raises(DataError, match="no folder"):
        calibration_batches(tmp_path / "missing", PRE)
    for split in ("train", "test"):
        (tmp_path / split / "pizza").mkdir(parents=True)
        (tmp_path / split / "pizza" / "a.jpg").write_bytes(b"\x00" * 10)
    with pytest.raises(DataError, match="could be read"):
        calibration_batches(tmp_path, PRE)


def test_bad_sizes_are_config_errors(dataset: Path) -> None:
    with pytest.raises(ConfigError):
        calibration_batches(dataset, PRE, n=0)
    with pytest.raises(ConfigError):
        calibration_batches(dataset, PRE, batch_size=0)
