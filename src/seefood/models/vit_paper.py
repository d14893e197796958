"""The Vision Transformer written from the paper, with plain tensor operations.

Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale"
(ICLR 2021), section 3.1, equations 1-4 (and appendix A, equations 5-8, for the self-attention):

    z_0   = [x_class; x_p^1 E; ...; x_p^N E] + E_pos          (1)  patch + class token + positions
    z'_l  = MSA(LN(z_{l-1})) + z_{l-1},       l = 1..L        (2)  pre-norm self-attention, residual
    z_l   = MLP(LN(z'_l)) + z'_l,             l = 1..L        (3)  pre-norm GELU MLP, residual
    y     = LN(z_L^0)                                         (4)  the class token's final state

and a linear head on y (the paper's fine-tuning head). No fused kernels: attention is matmul + softmax
+ matmul, so every exporter (TorchScript, both ONNX exporters, OpenVINO's direct conversion) sees the
same ordinary graph, with no fast-path switch.

It is weight-compatible with torchvision's `vit_b_16`: `from_torchvision` renames its state dict by an
explicit table (checked: every tensor used once, every target filled, shapes equal), so
`--weights imagenet` loads torchvision's ImageNet weights and a vit_b16 checkpoint loads into
vit_b16_paper. The packed projection U_qkv of equation 5 is stored as three matrices U_q, U_k, U_v (its
column blocks; torchvision's `in_proj_weight` split in three) so that pruning can remove whole heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from seefood.errors import ModelError
from seefood.models.registry import ModelSpec, register
from seefood.preprocessing import Preprocessing

LN_EPS = 1e-6  # the paper's (JAX) LayerNorm epsilon, as torchvision uses


@dataclass(frozen=True)
class ViTConfig:
    """A model size of the paper's Table 1 (D, L, k, MLP size) and its patch size P."""

    patch: int  # P: side of a square patch, in pixels
    dim: int  # D: the latent width of every token (the residual stream)
    depth: int  # L: number of encoder blocks
    heads: int  # k: attention heads per block (head width D_h = D / k)
    mlp_dim: int  # hidden width of the MLP (4 D in the paper)


B16 = ViTConfig(patch=16, dim=768, depth=12, heads=12, mlp_dim=3072)  # ViT-Base/16, 86 M parameters
TI16 = ViTConfig(patch=16, dim=192, depth=12, heads=3, mlp_dim=768)  # "Tiny" (DeiT's size), 5.7 M parameters


class PatchEmbedding(nn.Module):
    """Equation 1, first part: cut the image into N = HW/P^2 patches x_p and project each with E.

    A P x P convolution with stride P is exactly the linear map E applied to every flattened patch.
    """

    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, N, D), patches in row-major order."""
        return self.projection(images).flatten(2).transpose(1, 2)


class MultiHeadSelfAttention(nn.Module):
    """Appendix A, equations 5-8: k heads of scaled dot-product attention, concatenated and projected.

    q, k, v = z U_q, z U_k, z U_v (5); A = softmax(q k^T / sqrt(D_h)) (6); SA(z) = A v (7);
    MSA(z) = [SA_1(z); ...; SA_k(z)] U_msa (8). The head count is read from the projections' width,
    so a model whose heads were pruned runs as it is.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"the width {dim} does not split into {heads} heads")
        self.head_dim = dim // heads  # D_h
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)  # U_msa

    @property
    def num_heads(self) -> int:
        """k, the number of heads the projections hold now."""
        return self.q.out_features // self.head_dim

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, N, k * D_h) -> (B, k, N, D_h)
        return x.reshape(x.shape[0], x.shape[1], -1, self.head_dim).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        q, k, v = self._split_heads(self.q(z)), self._split_heads(self.k(z)), self._split_heads(self.v(z))
        attention = (q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.head_dim))).softmax(dim=-1)  # (6)
        heads = attention @ v  # (7), (B, k, N, D_h)
        concatenated = heads.transpose(1, 2).reshape(z.shape[0], z.shape[1], -1)  # (8): [SA_1; ...; SA_k]
        return self.out(concatenated)


class MLP(nn.Module):
    """The block's MLP (section 3.1): two linear layers with a GELU between them."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) GELU, as the paper's implementation
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, D)."""
        return self.fc2(self.act(self.fc1(x)))


class EncoderBlock(nn.Module):
    """Equations 2 and 3: pre-norm self-attention and pre-norm MLP, each added back to its input."""

    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attention = MultiHeadSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = MLP(dim, mlp_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z_{l-1} -> z_l."""
        z = z + self.attention(self.norm1(z))  # (2)
        return z + self.mlp(self.norm2(z))  # (3)


class VisionTransformer(nn.Module):
    """Equations 1-4 and a linear head: image (B, 3, H, W) -> logits (B, classes).

    The position embeddings are learned for one input size (H = W = image_size, a multiple of P);
    `adapt_state` interpolates pretrained ones to another size in 2-D, as section 3.2 describes.
    """

    def __init__(self, config: ViTConfig, image_size: int, num_classes: int = 1000) -> None:
        super().__init__()
        if image_size % config.patch:
            raise ValueError(f"the image size must be divisible by the patch size {config.patch}, got {image_size}")
        self.config, self.image_size = config, image_size
        tokens = (image_size // config.patch) ** 2 + 1  # N patches and the class token
        self.patch_embedding = PatchEmbedding(config.patch, config.dim)  # E
        self.class_token = nn.Parameter(torch.zeros(1, 1, config.dim))  # x_class (z_0^0)
        self.position_embedding = nn.Parameter(torch.empty(1, tokens, config.dim).normal_(std=0.02))  # E_pos
        self.blocks = nn.Sequential(*(EncoderBlock(config.dim, config.heads, config.mlp_dim)
                                      for _ in range(config.depth)))
        self.norm = nn.LayerNorm(config.dim, eps=LN_EPS)
        self.head = nn.Linear(config.dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # close to torchvision's (patch projection, xavier-uniform linears, zero biases, class token 0, E_pos
        # N(0, 0.02)), so training from scratch starts about where vit_b16 does; the head keeps nn.Linear's
        # default init, which keeps untrained logits informative (torchvision zeroes it)
        stem = self.patch_embedding.projection
        nn.init.trunc_normal_(stem.weight, std=math.sqrt(1 / (stem.in_channels * stem.kernel_size[0] ** 2)))
        nn.init.zeros_(cast(torch.Tensor, stem.bias))
        for block in self.blocks:
            for layer in block.modules():
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Equations 1-4, then the head."""
        patches = self.patch_embedding(images)
        class_token = self.class_token.expand(patches.shape[0], -1, -1)
        z = torch.cat([class_token, patches], dim=1) + self.position_embedding  # (1)
        z = self.blocks(z)  # (2), (3) for l = 1..L
        y = self.norm(z[:, 0])  # (4)
        return self.head(y)


# torchvision vit_b_16 name -> this module's name. Per block (encoder.layers.encoder_layer_<i>.<part>) the
# parts below; the packed in_proj (U_qkv) is split into q, k, v in that order.
TORCHVISION_TOP = {
    "conv_proj.weight": "patch_embedding.projection.weight",
    "conv_proj.bias": "patch_embedding.projection.bias",
    "class_token": "class_token",
    "encoder.pos_embedding": "position_embedding",
    "encoder.ln.weight": "norm.weight",
    "encoder.ln.bias": "norm.bias",
    "heads.head.weight": "head.weight",
    "heads.head.bias": "head.bias",
}
TORCHVISION_BLOCK = {
    "ln_1": "norm1",
    "self_attention.out_proj": "attention.out",
    "ln_2": "norm2",
    "mlp.0": "mlp.fc1",
    "mlp.3": "mlp.fc2",
}
TORCHVISION_PACKED = {"self_attention.in_proj_weight": "weight", "self_attention.in_proj_bias": "bias"}
_BLOCK_PREFIX = "encoder.layers.encoder_layer_"


def _rename(key: str) -> list[str] | None:
    """This module's name(s) for one torchvision key (three for a packed q/k/v tensor), None if unknown."""
    if key in TORCHVISION_TOP:
        return [TORCHVISION_TOP[key]]
    if not key.startswith(_BLOCK_PREFIX):
        return None
    index, _, rest = key[len(_BLOCK_PREFIX):].partition(".")
    if not index.isdigit():
        return None
    if rest in TORCHVISION_PACKED:
        return [f"blocks.{index}.attention.{p}.{TORCHVISION_PACKED[rest]}" for p in ("q", "k", "v")]
    part, _, leaf = rest.rpartition(".")
    return [f"blocks.{index}.{TORCHVISION_BLOCK[part]}.{leaf}"] if part in TORCHVISION_BLOCK else None


def is_torchvision_state(state: dict[str, Any]) -> bool:
    """Whether a state dict is in torchvision's ViT naming (rather than this module's)."""
    return "conv_proj.weight" in state or "encoder.pos_embedding" in state


def from_torchvision(state: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Rename a torchvision ViT state dict onto `model`'s names, checked both ways.

    Every source tensor is used exactly once, every tensor of `model` is filled, and shapes are equal;
    anything else is a ModelError listing the first offenders. `model` may live on the meta device.
    """
    out: dict[str, Any] = {}
    unmapped: list[str] = []
    for key, tensor in state.items():
        names = _rename(key)
        if names is None:
            unmapped.append(key)
            continue
        parts = tensor.chunk(3) if len(names) == 3 else (tensor,)
        for name, part in zip(names, parts):
            if name in out:
                unmapped.append(f"{key} (maps onto {name} twice)")
            out[name] = part.clone() if len(names) == 3 else part  # split views would share one storage
    target = model.state_dict()
    missing = [k for k in target if k not in out]
    extra = [k for k in out if k not in target]
    shapes = [f"{k} {tuple(out[k].shape)} vs {tuple(target[k].shape)}" for k in target
              if k in out and tuple(out[k].shape) != tuple(target[k].shape)]
    problems = [(what, items) for what, items in (("unmapped", unmapped), ("missing", missing),
                                                  ("unexpected", extra), ("shape", shapes)) if items]
    if problems:
        raise ModelError("the torchvision ViT weights do not fit this paper ViT: " +
                         "; ".join(f"{len(items)} {what} (first: {items[:3]})" for what, items in problems) +
                         ". Check --model matches the weights (vit_b16 weights load into vit_b16_paper).")
    return out


def _source_shape(state: dict[str, Any], position_key: str, head_key: str, patch: int) -> tuple[int, int]:
    """(image size, classes) a state dict was made for, read from its position embeddings and head."""
    tokens = int(state[position_key].shape[1]) - 1
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise ModelError(f"{position_key} holds {tokens} patch positions, not a square grid: not a ViT state dict")
    return side * patch, int(state[head_key].shape[0]) if head_key in state else 1000


def _interpolate_positions(state: dict[str, Any], image_size: int, patch: int) -> dict[str, Any]:
    """Section 3.2: resample the patch position embeddings in 2-D to another grid (torchvision's bicubic)."""
    from torchvision.models.vision_transformer import interpolate_embeddings

    resized = interpolate_embeddings(image_size, patch, {"encoder.pos_embedding": state["position_embedding"]})
    return {**state, "position_embedding": resized["encoder.pos_embedding"]}


def adapt_state(config: ViTConfig, state: dict[str, Any], image_size: int) -> dict[str, Any]:
    """Pretrained weights -> this module's names at `image_size`: torchvision's are renamed, then positions resized."""
    if is_torchvision_state(state):
        size, classes = _source_shape(state, "encoder.pos_embedding", "heads.head.weight", config.patch)
        with torch.device("meta"):  # only the names and shapes are needed
            source_model = VisionTransformer(config, size, classes)
        state = from_torchvision(state, source_model)
    if "position_embedding" in state:
        state = _interpolate_positions(state, image_size, config.patch)
    return state


def _build(config: ViTConfig, name: str, image_size: int) -> nn.Module:
    if image_size % config.patch:
        raise ValueError(f"{name} needs an image size divisible by {config.patch}, got {image_size}")
    return VisionTransformer(config, image_size)


def _replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    model.head = nn.Linear(cast(nn.Linear, model.head).in_features, num_classes)
    return model


def _spec(name: str, config: ViTConfig, description: str, weights_enum: str | None) -> ModelSpec:
    return ModelSpec(
        name=name,
        build=partial(_build, config, name),
        preprocessing=Preprocessing(resize=256, crop=224, interpolation="bilinear"),  # torchvision's ViT_B_16
        replace_head=_replace_head,
        head_prefixes=("head.",),
        weights_enum=weights_enum,  # torchvision's file, renamed by adapt_state
        description=description,
        adapt_state=partial(adapt_state, config),
        family="transformer",
        prune_recipe="seefood.prune.recipes:paper_vit",
    )


VIT_B16_PAPER = register(_spec(
    "vit_b16_paper", B16, "ViT-B/16 written from the paper with plain ops (torchvision vit_b16 weights), 86 M "
    "parameters", "ViT_B_16_Weights.IMAGENET1K_V1"))
VIT_TI16_PAPER = register(_spec(
    "vit_ti16_paper", TI16, "ViT-Ti/16 from the paper (D 192, 3 heads), 5.7 M parameters, for tests and CPU training",
    None))
