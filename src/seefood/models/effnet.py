"""EfficientNet-B2 from torchvision (288 px, bicubic, as its ImageNet weights were evaluated)."""

from __future__ import annotations

from typing import cast

from torch import nn
from torchvision.models import efficientnet_b2

from seefood.models.registry import ModelSpec, register
from seefood.preprocessing import Preprocessing


def _replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    classifier = cast(nn.Sequential, model.classifier)
    linear = cast(nn.Linear, classifier[-1])
    classifier[-1] = nn.Linear(linear.in_features, num_classes)
    return model


EFFNET_B2 = register(ModelSpec(
    name="effnet_b2",
    prune_recipe="seefood.prune.recipes:torchvision_efficientnet",  # how `seefood prune` cuts it
    build=lambda image_size: efficientnet_b2(weights=None),  # any input size works
    preprocessing=Preprocessing(resize=288, crop=288, interpolation="bicubic"),
    replace_head=_replace_head,
    head_prefixes=("classifier.",),
    weights_enum="EfficientNet_B2_Weights.IMAGENET1K_V1",
    description="torchvision EfficientNet-B2, 9.1 M parameters",
))
