"""Image -> tensor transforms: eval is exactly the deployment `Preprocessing`, train adds augmentation."""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2

from seefood.errors import ConfigError
from seefood.preprocessing import Preprocessing, to_rgb

_INTERPOLATION = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "lanczos": InterpolationMode.LANCZOS,
}

# augmentation policy name (CLI value) -> builder of the policy transform; None: no policy
AUGMENTATIONS: dict[str, Callable[[], v2.Transform] | None] = {
    "trivial": v2.TrivialAugmentWide,
    "randaugment": v2.RandAugment,
    "none": None,
}


class EvalTransform:
    """PIL image -> float32 tensor (3, crop, crop) through `Preprocessing.apply` (what deployment does)."""

    def __init__(self, pre: Preprocessing) -> None:
        self.pre = pre

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(self.pre.apply(image))

    def __repr__(self) -> str:
        return f"EvalTransform({self.pre})"


class TrainTransform:
    """PIL image -> augmented, normalised float32 tensor (3, crop, crop) for training."""

    def __init__(self, pre: Preprocessing, augment: str = "trivial", scale: tuple[float, float] = (0.08, 1.0)) -> None:
        if augment not in AUGMENTATIONS:
            raise ConfigError(f"unknown augmentation {augment!r}: use one of {', '.join(AUGMENTATIONS)}")
        self.pre, self.augment = pre, augment
        policy = AUGMENTATIONS[augment]
        steps: list[v2.Transform] = [
            v2.RandomResizedCrop(pre.crop, scale=scale, interpolation=_INTERPOLATION[pre.interpolation], antialias=True),
            v2.RandomHorizontalFlip(),
        ]
        if policy is not None:
            steps.append(policy())
        steps += [
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean=list(pre.mean), std=list(pre.std)),
        ]
        self.pipeline = v2.Compose(steps)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        out: torch.Tensor = self.pipeline(to_rgb(image))
        return out.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return f"TrainTransform(augment={self.augment!r}, {self.pipeline})"


def eval_transform(pre: Preprocessing) -> EvalTransform:
    """The evaluation transform: identical to deployment preprocessing (`pre.apply`)."""
    return EvalTransform(pre)


def train_transform(
    pre: Preprocessing, augment: str = "trivial", scale: tuple[float, float] = (0.08, 1.0)
) -> TrainTransform:
    """The training transform: RandomResizedCrop(`scale` of the area) + flip + `augment` policy + normalise."""
    return TrainTransform(pre, augment, scale)
