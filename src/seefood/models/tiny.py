"""A tiny CNN for fast tests and the demo: learns the generated sample data in seconds on a CPU."""

from __future__ import annotations

from typing import cast

from torch import nn

from seefood.models.registry import ModelSpec, register
from seefood.preprocessing import Preprocessing


class TinyNet(nn.Module):
    """Four conv-bn-relu blocks, global average pooling and a linear classifier."""

    def __init__(self, num_classes: int = 1000, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for i, out in enumerate((width, width * 2, width * 4, width * 8)):
            layers += [
                nn.Conv2d(channels, out, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.classifier(self.flatten(self.pool(self.features(x))))


def _replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    model.classifier = nn.Linear(cast(nn.Linear, model.classifier).in_features, num_classes)
    return model


TINY = register(ModelSpec(
    name="tiny",
    prune_recipe="seefood.prune.recipes:plain_cnn",  # how `seefood prune` cuts it
    build=lambda image_size: TinyNet(),
    preprocessing=Preprocessing(resize=72, crop=64, interpolation="bilinear"),
    replace_head=_replace_head,
    head_prefixes=("classifier.",),
    weights_enum=None,
    description="4-block CNN (~100 k parameters) for tests and the demo",
))
