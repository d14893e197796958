"""timm classifiers as registry entries: `--model timm/NAME` builds any timm model by its own config.

The spec is read from timm's records, not typed again: the preprocessing from the model's pretrained
config (input size, crop_pct, interpolation, mean/std), the head from `reset_classifier`, the family
(CNN or transformer: the int8 and pruning rules) from the timm module the model is defined in.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from seefood.errors import ModelError
from seefood.models.registry import ModelSpec, register_resolver
from seefood.preprocessing import Preprocessing

PREFIX = "timm/"

# timm modules (timm.models.<module>) by family. A model from a module in neither set is refused with a
# message rather than guessed: int8 and pruning rules differ between the two and a wrong guess is silent.
CNN_MODULES = frozenset({
    "byobnet", "convnext", "cspnet", "densenet", "dla", "dpn", "efficientnet", "ghostnet", "hardcorenas", "hgnet",
    "inception_v3", "inception_v4", "inception_resnet_v2", "mobilenetv3", "nasnet", "nfnet", "pnasnet", "regnet",
    "repghost", "repvit", "res2net", "resnest", "resnet", "resnetv2", "rexnet", "selecsls", "senet", "sknet",
    "tresnet", "vgg", "vovnet", "xception", "xception_aligned", "fasternet", "starnet", "lcnetv2", "rdnet",
    "inception_next",
})
TRANSFORMER_MODULES = frozenset({
    "beit", "cait", "deit", "eva", "levit", "swin_transformer", "swin_transformer_v2", "tiny_vit", "twins",
    "vision_transformer", "vision_transformer_hybrid", "vision_transformer_relpos", "xcit", "pvt_v2", "davit",
    "efficientformer", "efficientformer_v2", "mvitv2", "pit", "volo", "crossvit", "convit", "gcvit", "maxxvit",
    "mobilevit", "fastvit", "edgenext", "nest", "tnt", "visformer", "hiera", "naflexvit",
})


def _timm() -> Any:
    try:
        import timm
    except ImportError as exc:
        raise ModelError("timm is not installed: pip install timm (a dependency of seefood)") from exc
    return timm


def preprocessing_from_timm(cfg: Any) -> Preprocessing:
    """The eval preprocessing of a timm pretrained config: resize = floor(size / crop_pct), centre crop."""
    size = int(cfg.input_size[-1])
    crop_pct = float(cfg.crop_pct or 1.0)
    if cfg.crop_mode not in (None, "center"):
        raise ModelError(f"timm crop_mode {cfg.crop_mode!r} is not supported: seefood crops the centre")
    return Preprocessing(
        resize=max(size, math.floor(size / crop_pct)), crop=size, interpolation=str(cfg.interpolation or "bilinear"),
        mean=tuple(float(x) for x in cfg.mean),  # type: ignore[arg-type]
        std=tuple(float(x) for x in cfg.std),  # type: ignore[arg-type]
    )


def timm_family(timm_name: str) -> str:
    """'cnn' or 'transformer' from the timm module that defines the model; unknown modules are refused."""
    from timm.models._registry import get_arch_name

    module = _timm().models._registry._model_to_module.get(get_arch_name(timm_name))
    if module in CNN_MODULES:
        return "cnn"
    if module in TRANSFORMER_MODULES:
        return "transformer"
    raise ModelError(
        f"timm model {timm_name!r} (module {module!r}) is neither a known CNN nor a known transformer family in "
        f"seefood.models.timm_models: add its module to CNN_MODULES or TRANSFORMER_MODULES"
    )


def download_timm_weights(timm_name: str) -> dict[str, Any]:
    """ImageNet weights through timm (Hugging Face hub or URL); offline, an error that names the alternatives."""
    try:
        model = _timm().create_model(timm_name, pretrained=True)
    except Exception as exc:  # hub/urllib/ssl errors differ by platform and version
        raise ModelError(
            f"could not fetch timm's pretrained weights for {timm_name} ({type(exc).__name__}: {exc}). It needs "
            f"internet access to the Hugging Face hub. Offline, use --weights none (train from scratch) or "
            f"--weights PATH (a local .pth/.safetensors state dict of this timm model, or a seefood checkpoint)."
        ) from exc
    return dict(model.state_dict())


def _replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    model.reset_classifier(num_classes)  # type: ignore[operator]
    return model


def head_prefixes_of(cfg: Any) -> tuple[str, ...]:
    """State-dict prefixes of the classifier named in a timm config ('head.fc' or a tuple of them)."""
    names = cfg.classifier if isinstance(cfg.classifier, (tuple, list)) else (cfg.classifier,)
    return tuple(f"{n}." for n in names)


def timm_spec(
    name: str, timm_name: str, description: str, imagenet: Any = None, family: str | None = None
) -> ModelSpec:
    """A ModelSpec for the timm model `timm_name`, registered (or resolved) as `name`."""
    timm = _timm()
    if not timm.is_model(timm_name):
        raise ModelError(f"timm has no model {timm_name!r}: list them with python -c \"import timm; "
                         f"print(timm.list_models('*{timm_name[:6]}*'))\"")
    cfg = timm.models.get_pretrained_cfg(timm_name)
    if cfg is None:
        raise ModelError(f"timm model {timm_name!r} has no pretrained config: seefood needs its preprocessing")

    def build(image_size: int) -> nn.Module:
        return timm.create_model(timm_name, pretrained=False)  # type: ignore[no-any-return]

    resolved_family = family or timm_family(timm_name)
    return ModelSpec(
        name=name, build=build, preprocessing=preprocessing_from_timm(cfg), replace_head=_replace_head,
        head_prefixes=head_prefixes_of(cfg), description=description, family=resolved_family,
        imagenet=imagenet or (lambda: download_timm_weights(timm_name)),
        # timm CNNs share one recipe (their residual blocks and conv channels); timm transformers have none yet
        prune_recipe="seefood.prune.recipes:timm_cnn" if resolved_family == "cnn" else None,
    )


def resolve_timm(name: str) -> ModelSpec:
    """The spec of `timm/NAME`."""
    timm_name = name[len(PREFIX):]
    return timm_spec(name, timm_name, f"timm {timm_name}")


register_resolver(PREFIX, resolve_timm)
