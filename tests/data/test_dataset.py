"""ImageDataset: (tensor, label) pairs, and a clear error for a file broken after the check."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from seefood.data import ImageDataset, Sample, eval_transform, load_data
from seefood.errors import DataError
from seefood.preprocessing import Preprocessing

PRE = Preprocessing(resize=36, crop=32)


def test_items_are_transformed_images_and_labels(sample_data: Path) -> None:
    data = load_data(str(sample_data), subset=0.25, check=False)
    dataset = ImageDataset(data.test, eval_transform(PRE))
    assert len(dataset) == len(data.test) and dataset.labels == [s.label for s in data.test]
    x, y = dataset[len(dataset) - 1]
    assert x.shape == (3, 32, 32) and y == data.test[-1].label
    batch, labels = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch.shape == (4, 3, 32, 32) and labels.dtype == torch.int64


def test_without_transform_gives_rgb_images(tiny_images: dict[str, Path]) -> None:
    dataset = ImageDataset([Sample(p, 0) for p in tiny_images.values()])
    modes = {dataset[i][0].mode for i in range(len(dataset))}
    assert modes == {"RGB"}
    rotated = dataset[list(tiny_images).index("exif_rotated.jpg")][0]
    assert rotated.size == (40, 60)  # EXIF orientation applied: 60x40 stored, shown upright


def test_file_broken_after_the_check_raises_data_error_naming_it(
    tmp_path: Path, tiny_images: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    good = tiny_images["rgb.jpg"]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good.read_bytes()[:200])
    dataset = ImageDataset([Sample(good, 0), Sample(broken, 1), Sample(tmp_path / "gone.jpg", 1)], eval_transform(PRE))
    assert dataset[0][0].shape == (3, 32, 32)
    with caplog.at_level(logging.ERROR), pytest.raises(DataError, match="broken.jpg"):
        dataset[1]
    assert "broken.jpg" in caplog.text
    with pytest.raises(DataError, match="gone.jpg"):
        dataset[2]
