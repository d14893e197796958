"""ViT-B/16 from torchvision (224 px crop of a 256 px resize, bilinear)."""

from __future__ import annotations

from typing import Any, cast

from torch import nn
from torchvision.models import vit_b_16
from torchvision.models.vision_transformer import interpolate_embeddings

from seefood.models.registry import ModelSpec, register
from seefood.preprocessing import Preprocessing

PATCH = 16


def _replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    heads = cast(nn.Sequential, model.heads)
    head = cast(nn.Linear, heads.head)
    # torchvision zero-initialises this head, so an untrained ViT outputs all-zero logits; nn.Linear's
    # default init keeps untrained logits informative for parity tests
    heads.head = nn.Linear(head.in_features, num_classes)
    return model


def _build(image_size: int) -> nn.Module:
    if image_size % PATCH:
        raise ValueError(f"vit_b16 needs an image size divisible by {PATCH}, got {image_size}")
    return vit_b_16(weights=None, image_size=image_size)


def _adapt_state(state: dict[str, Any], image_size: int) -> dict[str, Any]:
    """Interpolate the 224-px position embeddings of pretrained weights to another input size."""
    return dict(interpolate_embeddings(image_size, PATCH, state))


VIT_B16 = register(ModelSpec(
    name="vit_b16",
    prune_recipe="seefood.prune.recipes:torchvision_vit",  # how `seefood prune` cuts it
    build=_build,
    preprocessing=Preprocessing(resize=256, crop=224, interpolation="bilinear"),
    replace_head=_replace_head,
    head_prefixes=("heads.",),
    weights_enum="ViT_B_16_Weights.IMAGENET1K_V1",
    description="torchvision ViT-B/16, 86 M parameters",
    family="transformer",
    adapt_state=_adapt_state,
))
