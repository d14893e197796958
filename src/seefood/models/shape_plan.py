"""Layer-shape plans: how a structurally pruned model differs from a fresh one, as plain JSON.

A pruned checkpoint stores its plan in `ModelMeta.shape_plan`:
`{"version": 1, "layers": {"<module path>": {"type": "Conv2d", "args": {...constructor args...}}}}`;
a whole block removed by depth pruning is `{"type": "Identity", "args": {}}` at the block's path.
`apply_shape_plan` swaps those modules into a freshly built model of the same architecture, so the
pruned weights load with `load_state_dict(strict=True)`, without unpickling any code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seefood.errors import ModelError

PLAN_VERSION = 1


class HeadAttention(nn.Module):
    """Batch-first self-attention whose heads can be removed without changing the embedding width.

    nn.MultiheadAttention ties its inner width to `embed_dim` (the residual width), so pruning heads
    there would shrink the whole network; here q/k/v map embed_dim -> num_heads * head_dim and
    out_proj maps back. It accepts nn.MultiheadAttention's call as torchvision's ViT makes it.
    """

    def __init__(self, embed_dim: int, num_heads: int, head_dim: int, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if num_heads < 1 or head_dim < 1:
            raise ModelError(f"HeadAttention needs >= 1 head of >= 1 dims, got {num_heads} x {head_dim}")
        self.embed_dim, self.num_heads, self.head_dim, self.dropout = embed_dim, num_heads, head_dim, dropout
        inner = num_heads * head_dim
        self.q_proj = nn.Linear(embed_dim, inner, bias=bias)
        self.k_proj = nn.Linear(embed_dim, inner, bias=bias)
        self.v_proj = nn.Linear(embed_dim, inner, bias=bias)
        self.out_proj = nn.Linear(inner, embed_dim, bias=bias)

    @property
    def bias(self) -> bool:
        """Whether the projections have biases."""
        return self.q_proj.bias is not None

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, N, H*D) -> (B, H, N, D); the head count is read from the layer, which pruning updates
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(  # type: ignore[override]
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, key_padding_mask: Any = None,
        need_weights: bool = False, attn_mask: Any = None, **_: Any,
    ) -> tuple[torch.Tensor, None]:
        """(B, N, E) inputs -> ((B, N, E) output, None), like nn.MultiheadAttention with need_weights=False."""
        if need_weights or key_padding_mask is not None or attn_mask is not None:
            raise ModelError("HeadAttention supports plain self-attention only (no masks, need_weights=False)")
        q, k, v = self._heads(self.q_proj(query)), self._heads(self.k_proj(key)), self._heads(self.v_proj(value))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(query.shape[0], query.shape[1], self.num_heads * self.head_dim)
        return self.out_proj(out), None


@dataclass(frozen=True)
class LayerType:
    """A module class the plan can rebuild, and how to read its constructor arguments back."""

    cls: type[nn.Module]
    describe: Callable[[Any], dict[str, Any]]  # module -> constructor keyword arguments (JSON values)


def _conv(m: nn.Conv2d) -> dict[str, Any]:
    return {"in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": m.kernel_size,
            "stride": m.stride, "padding": m.padding, "dilation": m.dilation, "groups": m.groups,
            "bias": m.bias is not None, "padding_mode": m.padding_mode}


def _linear(m: nn.Linear) -> dict[str, Any]:
    return {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None}


def _batchnorm(m: nn.BatchNorm2d) -> dict[str, Any]:
    return {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum, "affine": m.affine,
            "track_running_stats": m.track_running_stats}


def _layernorm(m: nn.LayerNorm) -> dict[str, Any]:
    return {"normalized_shape": m.normalized_shape, "eps": m.eps, "elementwise_affine": m.elementwise_affine,
            "bias": getattr(m, "bias", None) is not None}


def _mha(m: nn.MultiheadAttention) -> dict[str, Any]:
    return {"embed_dim": m.embed_dim, "num_heads": m.num_heads, "dropout": m.dropout,
            "bias": m.in_proj_bias is not None, "add_bias_kv": m.bias_k is not None,
            "add_zero_attn": m.add_zero_attn, "kdim": m.kdim, "vdim": m.vdim, "batch_first": m.batch_first}


def _head_attention(m: HeadAttention) -> dict[str, Any]:
    return {"embed_dim": m.embed_dim, "num_heads": m.num_heads, "head_dim": m.head_dim, "bias": m.bias,
            "dropout": m.dropout}


def _identity(m: nn.Identity) -> dict[str, Any]:
    return {}


# timm's activations by the name timm.layers.get_act_layer takes back
_TIMM_ACTS = {"ReLU": "relu", "ReLU6": "relu6", "SiLU": "silu", "Hardswish": "hard_swish", "GELU": "gelu",
              "Hardsigmoid": "hard_sigmoid", "Sigmoid": "sigmoid", "Tanh": "tanh", "LeakyReLU": "leaky_relu"}


def _conv_same(m: nn.Conv2d) -> dict[str, Any]:
    # timm's Conv2dSame pads at run time (TensorFlow "same"); its constructor takes no padding_mode
    args = _conv(m)
    del args["padding"], args["padding_mode"]
    return args


def _batchnorm_act(m: nn.Module) -> dict[str, Any]:
    # timm's BatchNormAct2d: a BatchNorm2d with its activation (and an optional dropout, not supported here)
    act, drop = m.get_submodule("act"), m.get_submodule("drop")
    if not isinstance(drop, nn.Identity) or type(act).__name__ not in {*_TIMM_ACTS, "Identity"}:
        raise ModelError(f"cannot describe {m}: only BatchNormAct2d without dropout and with a plain activation")
    return {**_batchnorm(m), "apply_act": not isinstance(act, nn.Identity),  # type: ignore[arg-type]
            "act_layer": _TIMM_ACTS.get(type(act).__name__, "relu")}


def _timm_layer_types() -> dict[str, LayerType]:
    """The layer types of timm's CNNs that pruning resizes (timm is a dependency: it builds effnet_lite2)."""
    from timm.layers import BatchNormAct2d, Conv2dSame

    return {"timm.Conv2dSame": LayerType(Conv2dSame, _conv_same),
            "timm.BatchNormAct2d": LayerType(BatchNormAct2d, _batchnorm_act)}


# plan "type" value -> how to rebuild it; exact class match (a subclass is not described as its base)
LAYER_TYPES: dict[str, LayerType] = {
    "Identity": LayerType(nn.Identity, _identity),  # a residual block removed by depth pruning
    "Conv2d": LayerType(nn.Conv2d, _conv),
    "Linear": LayerType(nn.Linear, _linear),
    "BatchNorm2d": LayerType(nn.BatchNorm2d, _batchnorm),
    "LayerNorm": LayerType(nn.LayerNorm, _layernorm),
    "MultiheadAttention": LayerType(nn.MultiheadAttention, _mha),
    "HeadAttention": LayerType(HeadAttention, _head_attention),
    **_timm_layer_types(),
}
_BY_CLASS = {lt.cls: name for name, lt in LAYER_TYPES.items()}


def describe_layer(module: nn.Module) -> dict[str, Any] | None:
    """{"type", "args"} of a module the plan can rebuild (JSON-normalised), None for any other module."""
    name = _BY_CLASS.get(type(module))
    if name is None:
        return None
    args = json.loads(json.dumps(LAYER_TYPES[name].describe(module)))  # tuples -> lists, as stored
    return {"type": name, "args": args}


def _build_layer(path: str, entry: Any) -> nn.Module:
    if not isinstance(entry, dict) or not isinstance(entry.get("args"), dict):
        raise ModelError(f"shape plan entry for {path!r} is malformed ({entry!r}): the checkpoint metadata is damaged")
    layer = LAYER_TYPES.get(str(entry.get("type")))
    if layer is None:
        raise ModelError(
            f"shape plan entry {path!r} has layer type {entry.get('type')!r}, which this seefood cannot build "
            f"(known: {', '.join(LAYER_TYPES)}): upgrade seefood to the version that pruned the checkpoint"
        )
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in entry["args"].items()}
    try:
        return layer.cls(**args)
    except (TypeError, ValueError, RuntimeError, ModelError) as exc:  # torch rejects bad sizes with any of these
        raise ModelError(f"shape plan entry {path!r} cannot build a {entry['type']}({args}): {exc}") from exc


def set_module(model: nn.Module, path: str, new: nn.Module) -> None:
    """Replace the submodule at `path`; the new layer keeps the old one's trainability and train/eval mode."""
    parent_path, _, leaf = path.rpartition(".")
    try:
        parent = model.get_submodule(parent_path) if parent_path else model
        old = parent.get_submodule(leaf)
    except AttributeError:
        raise ModelError(
            f"the shape plan names layer {path!r}, which this model does not have: the checkpoint was pruned from "
            f"another architecture or image size than its metadata says"
        ) from None
    old_params = list(old.parameters())
    if old_params and not any(p.requires_grad for p in old_params):
        new.requires_grad_(False)  # a frozen layer (--freeze backbone) stays frozen
    new.train(old.training)
    setattr(parent, leaf, new)


def apply_shape_plan(model: nn.Module, plan: dict[str, Any]) -> nn.Module:
    """Swap the plan's layers into a freshly built model (in place, returned) so pruned weights load strictly."""
    if not isinstance(plan, dict) or not isinstance(plan.get("layers"), dict):
        raise ModelError("the shape plan is malformed (no 'layers' mapping): the checkpoint metadata is damaged")
    version = plan.get("version", PLAN_VERSION)
    if version != PLAN_VERSION:
        raise ModelError(f"shape plan version {version} is not supported (this seefood reads {PLAN_VERSION}): "
                         f"upgrade seefood")
    for path, entry in plan["layers"].items():  # parents come before their children (module order)
        set_module(model, path, _build_layer(path, entry))
    return model


def plan_from_model(pruned: nn.Module, fresh: nn.Module) -> dict[str, Any]:
    """The shape plan that turns `fresh` (a new model of the same architecture) into `pruned`'s shapes.

    `fresh` is changed along the way and ends with the pruned shapes; every parameter and buffer shape
    is then compared, so a change the plan cannot describe fails here, not when the checkpoint loads.
    """
    layers: dict[str, Any] = {}
    fresh_modules = dict(fresh.named_modules())
    for path, module in pruned.named_modules():
        desc = describe_layer(module)
        if desc is None or not path:
            continue
        current = fresh_modules.get(path)
        if current is not None and describe_layer(current) == desc:
            continue
        layers[path] = desc
        set_module(fresh, path, _build_layer(path, desc))
        fresh_modules = dict(fresh.named_modules())  # the new layer may bring new children
    plan = {"version": PLAN_VERSION, "layers": layers}
    want = {k: tuple(v.shape) for k, v in pruned.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
    if want != got:
        diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        raise ModelError(
            f"pruning changed tensors the shape plan cannot describe ({diff[:4]}): keep those layers out of "
            f"pruning (ignored layers) or teach seefood.models.shape_plan their type"
        )
    return plan


def checkpoint_shape_plan(path: str | Path | None) -> tuple[dict[str, Any] | None, float]:
    """(shape plan, sparsity) of a pruned checkpoint folder; (None, 0.0) for anything else (a file, "none")."""
    from seefood.io import read_json
    from seefood.metadata import ModelMeta

    if not path or not (Path(path) / "meta.json").is_file():
        return None, 0.0
    try:
        meta = ModelMeta.from_dict(read_json(Path(path) / "meta.json"))
    except (ValueError, OSError) as exc:
        raise ModelError(f"{Path(path) / 'meta.json'} is damaged ({exc}): pass a checkpoint written by seefood") from exc
    return meta.shape_plan, meta.sparsity
