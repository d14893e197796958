"""The model registry: one `ModelSpec` per supported architecture, looked up by its CLI name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seefood.errors import ModelError, NoPretrainedWeightsError
from seefood.preprocessing import Preprocessing

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What seefood knows about one architecture."""

    name: str  # registry key and CLI value
    build: Callable[[int], nn.Module]  # builds the model (ImageNet-shaped head) for an input size, random weights
    preprocessing: Preprocessing  # the eval preprocessing of its pretrained weights
    replace_head: Callable[[nn.Module, int], nn.Module]  # swap the classifier for N classes (in place)
    head_prefixes: tuple[str, ...]  # state-dict prefixes of the classifier (trained with --freeze backbone)
    weights_enum: str | None = None  # torchvision weights enum, e.g. "EfficientNet_B2_Weights.IMAGENET1K_V1"
    description: str = ""
    # adapts pretrained tensors to another input size (ViT's position embeddings); None: not needed
    adapt_state: Callable[[dict[str, Any], int], dict[str, Any]] | None = None
    # "cnn" or "transformer": which int8 rules (seefood.export.quantize) and pruning recipe family apply
    family: str = "cnn"
    # loads ImageNet weights by another route than a torchvision enum (a pip-packaged file, timm's hub);
    # it raises ModelError naming the offline alternatives when it cannot
    imagenet: Callable[[], dict[str, Any]] | None = None
    # how `seefood prune` cuts it: "module:attr" of a factory (architecture name -> seefood.prune.recipes.PruneRecipe),
    # resolved only when pruning (models/ never imports prune/); None: the model cannot be pruned, said clearly
    prune_recipe: str | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")

    @property
    def has_pretrained(self) -> bool:
        """Whether `--weights imagenet` has a source for this model."""
        return self.imagenet is not None or self.weights_enum is not None

    def load_imagenet_weights(self) -> dict[str, Any]:
        """ImageNet weights: the spec's own loader, else torchvision's (downloaded or from the hub cache)."""
        if self.imagenet is not None:
            return self.imagenet()
        import torchvision

        if self.weights_enum is None:
            raise NoPretrainedWeightsError(f"{self.name} has no pretrained weights: use --weights none or --weights PATH")
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


FAMILIES = ("cnn", "transformer")
_REGISTRY: dict[str, ModelSpec] = {}
# name prefix -> resolver that builds a spec on demand (e.g. "timm/" for any timm classifier)
_RESOLVERS: dict[str, Callable[[str], ModelSpec]] = {}
_RESOLVED: dict[str, ModelSpec] = {}  # specs built by a resolver, kept apart from the named registry


def register(spec: ModelSpec) -> ModelSpec:
    """Add a spec to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def register_resolver(prefix: str, resolve: Callable[[str], ModelSpec]) -> None:
    """Let names starting with `prefix` (e.g. "timm/") build their spec on first use."""
    _RESOLVERS[prefix] = resolve


def get_spec(name: str) -> ModelSpec:
    """Look a model up by name (or resolve a prefixed one such as timm/NAME); the error lists the valid names."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _RESOLVED:
        return _RESOLVED[name]
    for prefix, resolve in _RESOLVERS.items():
        if name.startswith(prefix):
            _RESOLVED[name] = resolve(name)
            return _RESOLVED[name]
    prefixes = "".join(f", {p}NAME" for p in sorted(_RESOLVERS))
    raise ModelError(f"unknown model {name!r}: use one of {', '.join(sorted(_REGISTRY))}{prefixes}")


def model_names() -> list[str]:
    """All registered model names."""
    return sorted(_REGISTRY)
