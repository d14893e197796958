"""Build a model for N classes from a registry entry, with ImageNet, no, or local weights."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seefood.errors import ModelError
from seefood.models.registry import get_spec

if TYPE_CHECKING:
    from seefood.metadata import ModelMeta

log = logging.getLogger(__name__)


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict without unpickling code: .safetensors, a seefood checkpoint folder, or .pth/.pt.

    `.pth` files are opened with `torch.load(weights_only=True)`, which refuses arbitrary objects.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.exists():
        raise ModelError(f"weights file {path} not found: pass --weights none, imagenet or an existing file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"could not read {path} as a weights-only state dict ({exc}); seefood never unpickles code. "
            f"Convert it to .safetensors or save only model.state_dict()."
        ) from exc
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path} does not hold a state dict of tensors")
    return obj


def _load_backbone(model: nn.Module, state: dict[str, torch.Tensor], head_prefixes: tuple[str, ...]) -> None:
    """Load every tensor whose name and shape match; the classifier head keeps its fresh init."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped_head = [k for k in state if k.startswith(head_prefixes) and k not in usable]
    missing = [k for k in own if k not in usable and not k.startswith(head_prefixes)]
    if missing:
        raise ModelError(
            f"the weights do not fit this architecture: {len(missing)} backbone tensors missing or of another "
            f"shape (first: {missing[:3]}). Check --model matches the weights file."
        )
    model.load_state_dict(usable, strict=False)
    if skipped_head:
        log.info("kept a fresh classifier head (the weights' head has another number of classes)")


def create_model(
    name: str, num_classes: int, weights: str = "none", freeze: str | None = None, image_size: int | None = None
) -> nn.Module:
    """Build `name` with a head for `num_classes`.

    weights: "none" (random init), "imagenet" (torchvision enum, needs internet) or a local path
    (torchvision .pth state dict, .safetensors, or a seefood checkpoint folder).
    freeze: None (full fine-tuning) or "backbone" (only the head trains).
    image_size: input size (default: the spec's crop); ViT's position embeddings are sized for it.
    """
    if num_classes < 2:
        raise ModelError(f"need at least 2 classes, got {num_classes}")
    spec = get_spec(name)
    size = image_size or spec.preprocessing.crop
    try:
        model = spec.build(size)
    except ValueError as exc:
        raise ModelError(f"--image-size {size}: {exc}") from exc
    pretrained: dict[str, torch.Tensor] | None = None
    if weights == "imagenet":
        pretrained = spec.load_imagenet_weights()
    elif weights not in ("none", "", None):
        pretrained = load_weights_file(weights)
    if pretrained is not None and spec.adapt_state is not None:
        pretrained = spec.adapt_state(pretrained, size)
    if pretrained is not None and any(k.startswith(spec.head_prefixes) for k in pretrained):
        # load the full model first when the head already has num_classes outputs (a seefood checkpoint)
        spec.replace_head(model, num_classes)
        _load_backbone(model, pretrained, spec.head_prefixes)
    else:
        spec.replace_head(model, num_classes)
        if pretrained is not None:
            _load_backbone(model, pretrained, spec.head_prefixes)
    if freeze == "backbone":
        for pname, param in model.named_parameters():
            param.requires_grad = pname.startswith(spec.head_prefixes)
    elif freeze not in (None, "none"):
        raise ModelError(f"unknown --freeze {freeze!r}: use 'backbone' or leave it out")
    return model


def build_from_meta(meta: ModelMeta) -> nn.Module:
    """An untrained model of the architecture, head size and (pruned) shapes the metadata describes."""
    model = create_model(meta.architecture, meta.num_classes, weights="none", image_size=meta.preprocessing.crop)
    if meta.shape_plan:
        from seefood.models.shape_plan import apply_shape_plan  # written by the pruning feature

        model = apply_shape_plan(model, meta.shape_plan)
    return model
