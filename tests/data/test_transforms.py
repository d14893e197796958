"""Transforms: eval == deployment preprocessing, train gives normalised tensors of the model's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seefood.data import AUGMENTATIONS, eval_transform, train_transform
from seefood.errors import ConfigError
from seefood.preprocessing import Preprocessing

PRE = Preprocessing(resize=40, crop=32, interpolation="bicubic", mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))


def test_eval_transform_is_exactly_preprocessing_apply(tiny_images: dict[str, Path]) -> None:
    transform = eval_transform(PRE)
    for name, path in tiny_images.items():
        with Image.open(path) as im:
            im.load()
            out = transform(im)
            expected = PRE.apply(im)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32, name
        assert out.shape == (3, 32, 32), name
        assert np.array_equal(out.numpy(), expected), name


@pytest.mark.parametrize("augment", sorted(AUGMENTATIONS))
def test_train_transform_shapes_for_every_policy_and_mode(augment: str, tiny_images: dict[str, Path]) -> None:
    torch.manual_seed(0)
    transform = train_transform(PRE, augment)
    for name, path in tiny_images.items():
        with Image.open(path) as im:
            out = transform(im)
        assert type(out) is torch.Tensor and out.dtype == torch.float32, name
        assert out.shape == (3, 32, 32), name
        assert torch.isfinite(out).all(), name


def test_train_transform_normalises_with_the_preprocessing_statistics() -> None:
    colour = (255, 128, 0)
    image = Image.new("RGB", (50, 70), colour)  # a flat colour survives crop, flip and resize unchanged
    out = train_transform(PRE, "none")(image)
    expected = (torch.tensor(colour) / 255.0 - torch.tensor(PRE.mean)) / torch.tensor(PRE.std)
    assert torch.allclose(out.mean(dim=(1, 2)), expected.float(), atol=1e-5)


def test_train_transform_is_random_and_seedable() -> None:
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8))
    transform = train_transform(PRE)
    torch.manual_seed(3)
    a = transform(image)
    torch.manual_seed(3)
    assert torch.equal(transform(image), a)
    assert not torch.equal(transform(image), a)


def test_unknown_augmentation_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="trivial, randaugment, none"):
        train_transform(PRE, "mixup")


def test_crop_scale_and_interpolation_follow_the_arguments() -> None:
    crop = train_transform(PRE, "none", scale=(0.5, 1.0)).pipeline.transforms[0]
    assert crop.scale == (0.5, 1.0) and tuple(crop.size) == (32, 32)
    assert crop.interpolation.value == PRE.interpolation
