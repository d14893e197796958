"""Per-architecture pruning recipes: what may shrink, what must stay, and how to make a model prunable.

CNNs lose channels everywhere except the classifier's outputs. ViT-B/16 loses attention heads and MLP
width; its embedding width (the residual stream, class token and position embeddings) stays intact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from seefood.errors import ModelError
from seefood.models import get_spec, model_names, vit_paper
from seefood.models.shape_plan import HeadAttention


def _nothing(model: nn.Module) -> nn.Module:
    return model


def _no_heads(model: nn.Module) -> dict[nn.Module, int]:
    return {}


def _no_parameters(model: nn.Module) -> list[tuple[nn.Parameter, int]]:
    return []


@dataclass(frozen=True)
class Block:
    """A removable residual block (output = input + f(input)): its module path and its stage."""

    path: str
    stage: str  # blocks of one stage share a resolution and width; stages come in forward order


def _no_blocks(model: nn.Module) -> list[Block]:
    return []


def conv_guess(ratio: float) -> float:
    """A conv loses channels on both sides, so parameters fall about as 1 - (1 - c)^2."""
    return 1.0 - math.sqrt(1.0 - ratio)


def linear_guess(ratio: float) -> float:
    """Heads and MLP width shrink one side of each layer, so parameters fall about as the channel ratio."""
    return ratio


@dataclass(frozen=True)
class PruneRecipe:
    """How one architecture is pruned without breaking it."""

    keep: Callable[[nn.Module], list[nn.Module]]  # layers whose output channels are never removed
    prepare: Callable[[nn.Module], nn.Module] = _nothing  # same function, prunable form (in place)
    heads: Callable[[nn.Module], dict[nn.Module, int]] = _no_heads  # q/k/v projection -> its head count
    unwrapped: Callable[[nn.Module], list[tuple[nn.Parameter, int]]] = _no_parameters  # bare parameters, dim
    first_guess: Callable[[float], float] = conv_guess  # parameter ratio -> channel ratio to try first
    blocks: Callable[[nn.Module], list[Block]] = _no_blocks  # residual blocks --drop-blocks may remove
    notes: tuple[str, ...] = field(default_factory=tuple)  # what the recipe removes, for the report


def classifier_of(architecture: str) -> Callable[[nn.Module], list[nn.Module]]:
    """A `keep` function: the last Linear under the architecture's head prefixes (the class outputs)."""
    prefixes = tuple(p.rstrip(".") for p in get_spec(architecture).head_prefixes)

    def keep(model: nn.Module) -> list[nn.Module]:
        linears = [m for name, m in model.named_modules()
                   if isinstance(m, nn.Linear) and name.startswith(prefixes)]
        if not linears:
            raise ModelError(f"{architecture} has no Linear classifier under {prefixes}: cannot protect its head")
        return [linears[-1]]

    return keep


def to_head_attention(mha: nn.MultiheadAttention) -> HeadAttention:
    """An exact HeadAttention copy of a batch-first nn.MultiheadAttention (same weights, same outputs)."""
    if not mha.batch_first or mha.bias_k is not None or mha.add_zero_attn or not mha._qkv_same_embed_dim:
        raise ModelError("only batch-first self-attention without bias_kv / zero_attn can be pruned by heads")
    e, bias = mha.embed_dim, mha.in_proj_bias is not None
    attention = HeadAttention(e, mha.num_heads, mha.head_dim, bias=bias, dropout=mha.dropout)
    with torch.no_grad():
        for i, proj in enumerate((attention.q_proj, attention.k_proj, attention.v_proj)):
            proj.weight.copy_(mha.in_proj_weight[i * e:(i + 1) * e])
            if bias:
                proj.bias.copy_(mha.in_proj_bias[i * e:(i + 1) * e])
        attention.out_proj.load_state_dict(mha.out_proj.state_dict())
    attention.train(mha.training)
    return attention


def convert_attention(model: nn.Module) -> nn.Module:
    """Replace every nn.MultiheadAttention by an equivalent HeadAttention (in place)."""
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.MultiheadAttention):
            parent_name, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, leaf, to_head_attention(module))
    return model


def attention_heads(model: nn.Module) -> dict[nn.Module, int]:
    """q, k and v projections of every HeadAttention -> its number of heads (torch_pruning's num_heads)."""
    return {proj: m.num_heads for m in model.modules() if isinstance(m, HeadAttention)
            for proj in (m.q_proj, m.k_proj, m.v_proj)}


def _vit_keep(model: nn.Module) -> list[nn.Module]:
    # conv_proj's outputs are the embedding width: protecting them keeps the whole residual stream intact
    return [model.get_submodule("conv_proj"), *classifier_of("vit_b16")(model)]


def _vit_unwrapped(model: nn.Module) -> list[tuple[nn.Parameter, int]]:
    # class token (1, 1, E) and position embeddings (1, N, E) live on the embedding axis, which is kept
    return [(model.get_parameter("class_token"), 2), (model.get_parameter("encoder.pos_embedding"), 2)]


def _mbconv_blocks(model: nn.Module) -> list[Block]:
    # MBConv adds its input back only with stride 1 and equal widths (use_res_connect); the first block
    # of every stage changes resolution or width and always stays
    from torchvision.models.efficientnet import MBConv

    return [Block(path, path.rsplit(".", 1)[0]) for path, m in model.named_modules()
            if isinstance(m, MBConv) and m.use_res_connect]


def _timm_residual_blocks(model: nn.Module) -> list[Block]:
    # timm's EfficientNet/MobileNet blocks (InvertedResidual, DepthwiseSeparableConv, ...) flag the ones that
    # add their input back with `has_skip` (stride 1, equal widths); paths are blocks.<stage>.<index>
    return [Block(path, path.rsplit(".", 1)[0]) for path, m in model.named_modules()
            if getattr(m, "has_skip", False) is True and path.count(".") == 2]


def _encoder_blocks(model: nn.Module) -> list[Block]:
    # every ViT encoder layer is x + attention(x), then + mlp(x): all of them are residual
    from torchvision.models.vision_transformer import EncoderBlock

    return [Block(path, "encoder") for path, m in model.named_modules() if isinstance(m, EncoderBlock)]


def _paper_vit_keep(architecture: str) -> Callable[[nn.Module], list[nn.Module]]:
    # the patch projection's outputs are the embedding width D: keeping them keeps the residual stream intact
    def keep(model: nn.Module) -> list[nn.Module]:
        return [model.get_submodule("patch_embedding.projection"), *classifier_of(architecture)(model)]

    return keep


def _paper_vit_heads(model: nn.Module) -> dict[nn.Module, int]:
    # seefood.models.vit_paper's attention reads its head count from q's width: nothing to sync after pruning
    return {proj: m.num_heads for m in model.modules() if isinstance(m, vit_paper.MultiHeadSelfAttention)
            for proj in (m.q, m.k, m.v)}


def _paper_vit_unwrapped(model: nn.Module) -> list[tuple[nn.Parameter, int]]:
    return [(model.get_parameter("class_token"), 2), (model.get_parameter("position_embedding"), 2)]


def _paper_vit_blocks(model: nn.Module) -> list[Block]:
    return [Block(path, "blocks") for path, m in model.named_modules() if isinstance(m, vit_paper.EncoderBlock)]


def _paper_vit(architecture: str) -> PruneRecipe:
    """Heads, MLP width and whole encoder blocks of seefood.models.vit_paper; the width D stays."""
    return PruneRecipe(keep=_paper_vit_keep(architecture), heads=_paper_vit_heads, unwrapped=_paper_vit_unwrapped,
                       first_guess=linear_guess, blocks=_paper_vit_blocks,
                       notes=("attention heads", "MLP hidden width", "embedding width kept"))


def torchvision_efficientnet(architecture: str) -> PruneRecipe:
    """torchvision's EfficientNet: MBConv channels (squeeze-excitation included) and whole MBConv blocks."""
    return PruneRecipe(keep=classifier_of(architecture), blocks=_mbconv_blocks,
                       notes=("conv channels (expansion, depthwise, squeeze-excitation, projection)",))


def timm_cnn(architecture: str) -> PruneRecipe:
    """timm CNNs (EfficientNet-Lite2 included): conv channels and whole residual blocks."""
    notes = "conv channels (expansion, depthwise, projection)" if architecture == "effnet_lite2" else "conv channels (timm CNN)"
    return PruneRecipe(keep=classifier_of(architecture), blocks=_timm_residual_blocks, notes=(notes,))


def plain_cnn(architecture: str) -> PruneRecipe:
    """A plain conv stack (the test model): conv channels only."""
    return PruneRecipe(keep=classifier_of(architecture), notes=("conv channels",))


def torchvision_vit(architecture: str) -> PruneRecipe:
    """torchvision's ViT: attention heads (its fused attention converted first), MLP width, whole encoder layers."""
    return PruneRecipe(
        keep=_vit_keep, prepare=convert_attention, heads=attention_heads, unwrapped=_vit_unwrapped,
        first_guess=linear_guess, blocks=_encoder_blocks,
        notes=("attention heads", "MLP hidden width", "embedding width kept"),
    )


paper_vit = _paper_vit


def prunable() -> list[str]:
    """The registered models that have a pruning recipe (timm CNNs, timm/NAME, have one too)."""
    return sorted(name for name in model_names() if get_spec(name).prune_recipe)


def get_recipe(architecture: str) -> PruneRecipe:
    """The recipe the model's registry record names (ModelSpec.prune_recipe); the error names the prunable ones."""
    from seefood.formats import resolve

    spec = get_spec(architecture)
    if spec.prune_recipe is None:
        raise ModelError(
            f"no pruning recipe for {architecture!r} (family {spec.family}): prune one of "
            f"{', '.join(prunable())} or a timm CNN (timm/NAME)"
        )
    factory: Callable[[str], PruneRecipe] = resolve(spec.prune_recipe)
    return factory(architecture)


def sync_head_counts(model: nn.Module, num_heads: dict[nn.Module, int]) -> None:
    """After pruning, tell every HeadAttention how many heads it has left (torch_pruning tracks them)."""
    for m in model.modules():
        if isinstance(m, HeadAttention) and m.q_proj in num_heads:
            m.num_heads = int(num_heads[m.q_proj])
            if m.q_proj.out_features != m.num_heads * m.head_dim:
                raise ModelError(
                    f"pruning left {m.q_proj.out_features} query features for {m.num_heads} heads of {m.head_dim}: "
                    f"heads must be removed whole"
                )
