"""Pruning the paper ViT (vit_ti16_paper, random weights, 32 px): heads, MLP width and whole blocks.

Mirrors the vit_b16 tests in test_structured.py / test_depth.py. Its attention reads the head count
from the projections' width, so a pruned model needs no head-count bookkeeping to run or reload.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from seefood.checkpoint import load_checkpoint, save_checkpoint
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.models.shape_plan import apply_shape_plan
from seefood.models.vit_paper import EncoderBlock, MultiHeadSelfAttention
from seefood.prune.recipes import get_recipe
from seefood.prune.structured import PruneOutcome, count_parameters, prune_model

from .conftest import export_and_compare

ARCH = "vit_ti16_paper"
CLASSES = ("a", "b", "c", "d")
SIZE = 32


def _model() -> nn.Module:
    torch.manual_seed(0)
    return create_model(ARCH, len(CLASSES), image_size=SIZE).eval()


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 3, SIZE, SIZE, generator=generator), torch.tensor([0, 1, 2, 3])) for _ in range(2)]


def _meta(outcome: PruneOutcome) -> ModelMeta:
    return ModelMeta(ARCH, CLASSES, get_spec(ARCH).preprocessing.with_size(SIZE), sparsity=outcome.sparsity,
                     shape_plan=outcome.shape_plan)


def _heads_kept(original: nn.Linear, pruned: nn.Linear, head_dim: int) -> list[int]:
    """Which of the original heads' rows the pruned projection still holds, in order."""
    return [h for h in range(original.out_features // head_dim) for j in range(pruned.out_features // head_dim)
            if torch.equal(pruned.weight[j * head_dim:(j + 1) * head_dim],
                           original.weight[h * head_dim:(h + 1) * head_dim])]


def test_the_recipe_protects_the_embedding_width_and_lists_every_block() -> None:
    model = _model()
    recipe = get_recipe(ARCH)
    assert recipe.keep(model) == [model.patch_embedding.projection, model.head]
    assert len(recipe.heads(model)) == 3 * 12 and set(recipe.heads(model).values()) == {3}
    assert [b.path for b in recipe.blocks(model)] == [f"blocks.{i}" for i in range(12)]
    assert get_recipe("vit_b16_paper").notes == recipe.notes


@pytest.mark.slow
def test_loses_whole_heads_and_mlp_width_but_keeps_its_embedding(tmp_path: Path) -> None:
    original = _model()
    outcome = prune_model(original, ARCH, 0.3, torch.zeros(1, 3, SIZE, SIZE), "l2", round_to=8,
                          fresh=create_model(ARCH, len(CLASSES), image_size=SIZE))
    assert abs(outcome.sparsity - 0.3) <= 0.03, outcome.trials
    assert count_parameters(original) == outcome.params_before
    model = outcome.model
    for before, block in zip(original.blocks, model.blocks):
        attention = block.attention
        assert isinstance(attention, MultiHeadSelfAttention) and attention.head_dim == 64
        assert attention.num_heads < 3 and attention.out.in_features == attention.q.out_features
        # q, k and v lose the same heads: the pairs left still belong together
        kept = _heads_kept(before.attention.q, attention.q, 64)
        assert kept == _heads_kept(before.attention.k, attention.k, 64) == _heads_kept(before.attention.v,
                                                                                         attention.v, 64)
        assert block.mlp.fc1.out_features < 768 and block.mlp.fc1.out_features % 8 == 0
    assert model.patch_embedding.projection.out_channels == 192 and model.position_embedding.shape[-1] == 192
    assert model.head.in_features == 192 and model.head.out_features == len(CLASSES)
    x = torch.randn(3, 3, SIZE, SIZE)
    meta = _meta(outcome)
    save_checkpoint(tmp_path / "ckpt", model, meta)
    with torch.no_grad():
        assert torch.equal(load_checkpoint(tmp_path / "ckpt").model(x), model(x))
    for fmt in ("onnx", "openvino"):
        result = export_and_compare(model, meta, fmt, tmp_path / fmt, x)
        assert result.passed and result.max_abs_diff < 1e-3, (fmt, result)


@pytest.mark.slow
def test_blocks_only_removes_encoder_blocks_reloads_and_exports(tmp_path: Path) -> None:
    model = _model()
    outcome = prune_model(model, ARCH, 0.0, torch.zeros(1, 3, SIZE, SIZE), "l2", gradient_batches=_batches(),
                          drop_blocks=3)
    assert outcome.depth is not None and len(outcome.depth.removed) == 3 and outcome.trials == ()
    blocks = list(outcome.model.blocks)
    assert len(blocks) == 12 and sum(isinstance(m, nn.Identity) for m in blocks) == 3
    assert sum(isinstance(m, EncoderBlock) for m in blocks) == 9
    assert outcome.params_before - outcome.params_after == 3 * count_parameters(model.blocks[0])
    fresh = apply_shape_plan(create_model(ARCH, len(CLASSES), image_size=SIZE), outcome.shape_plan)
    fresh.load_state_dict(outcome.model.state_dict())
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), outcome.model(x))
    result = export_and_compare(outcome.model, _meta(outcome), "onnx", tmp_path / "onnx", x)
    assert result.passed and result.max_abs_diff < 1e-3, result
