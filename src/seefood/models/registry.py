"""The model registry: one `ModelSpec` per supported architecture, looked up by its CLI name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seefood.errors import ModelError
from seefood.preprocessing import Preprocessing

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What seefood knows about one architecture."""

    name: str  # registry key and CLI value
    build: Callable[[int], nn.Module]  # builds the torchvision-shaped model for an input size, random weights
    preprocessing: Preprocessing  # the eval preprocessing of its pretrained weights
    replace_head: Callable[[nn.Module, int], nn.Module]  # swap the classifier for N classes (in place)
    head_prefixes: tuple[str, ...]  # state-dict prefixes of the classifier (trained with --freeze backbone)
    weights_enum: str | None = None  # torchvision weights enum, e.g. "EfficientNet_B2_Weights.IMAGENET1K_V1"
    description: str = ""
    # adapts pretrained tensors to another input size (ViT's position embeddings); None: not needed
    adapt_state: Callable[[dict[str, Any], int], dict[str, Any]] | None = None

    def load_imagenet_weights(self) -> dict[str, Any]:
        """Download (or read from the torch hub cache) the torchvision ImageNet weights."""
        import torchvision

        if self.weights_enum is None:
            raise ModelError(f"{self.name} has no pretrained weights: use --weights none or --weights PATH")
        enum_name, member = self.weights_enum.split(".")
        weights = getattr(getattr(torchvision.models, enum_name), member)
        try:
            return dict(weights.get_state_dict(progress=False, check_hash=True))
        except Exception as exc:  # urllib/ssl/socket errors differ by platform
            raise ModelError(
                f"could not fetch {self.weights_enum} ({type(exc).__name__}: {exc}). It needs internet access "
                f"to download.pytorch.org. Offline, use --weights none (train from scratch) or "
                f"--weights PATH (a local torchvision .pth state dict or a seefood checkpoint folder)."
            ) from exc


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    """Look a model up by name; the error lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}: use one of {', '.join(sorted(_REGISTRY))}") from None


def model_names() -> list[str]:
    """All registered model names."""
    return sorted(_REGISTRY)
