"""Depth pruning: remove whole residual blocks, so the network runs fewer layers, not only thinner ones.

Channel pruning thins every layer but keeps their number, and at batch 1 on a CPU every layer has a
fixed cost (a kernel launch, a pass over its activations, a thread barrier) that does not shrink with
its channels: EfficientNet-B2 with 32 % of its parameters removed runs its OpenVINO int8 artifact at
about 0.87x the unpruned one. Removing blocks removes that cost too.

Which blocks go:
- only blocks whose output is `input + f(input)` (a residual block): replaced by nn.Identity, the network
  keeps every shape, and the block's skip connection already carries its input forward;
- spread over the stages in turn, from the highest-resolution stage (where b=1 CPU time is spent) to
  the lowest, like the EfficientNet family's depth scaling (B2 has one more block per stage than B0, so
  removing 7 gives B0's depth);
- inside a stage, the block that changes its input least on training images: influence
  1 - cos(input, output), averaged over images (ShortGPT's block influence; low = close to identity).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from seefood.errors import ConfigError
from seefood.models.shape_plan import set_module
from seefood.prune.recipes import Block, PruneRecipe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DepthOutcome:
    """Which blocks were removed, and the influence every candidate had."""

    removed: tuple[str, ...]  # module paths, in the order they were chosen
    influence: dict[str, float]  # every candidate block -> mean 1 - cos(input, output) on the images


def block_influence(model: nn.Module, blocks: list[Block], batches: Iterable[torch.Tensor]) -> dict[str, float]:
    """Mean 1 - cos(input, output) of every block, per image, over `batches` (eval mode, no gradients)."""
    sums = {b.path: 0.0 for b in blocks}
    count = 0

    def hook(path: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def record(_module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            x, y = inputs[0].detach().flatten(1).float(), output.detach().flatten(1).float()
            sums[path] += float((1.0 - torch.nn.functional.cosine_similarity(x, y, dim=1)).sum())
        return record

    handles = [model.get_submodule(b.path).register_forward_hook(hook(b.path)) for b in blocks]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                model(batch)
                count += int(batch.shape[0])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if count == 0:
        raise ConfigError("--drop-blocks ranks blocks on training images and got none: add training data")
    return {path: total / count for path, total in sums.items()}


def choose_blocks(blocks: list[Block], influence: dict[str, float], n: int) -> list[str]:
    """`n` blocks: one per stage in turn (stages in forward order), the least influential of each stage."""
    stages: dict[str, list[Block]] = {}
    for b in blocks:
        stages.setdefault(b.stage, []).append(b)
    for members in stages.values():
        members.sort(key=lambda b: influence[b.path])
    chosen: list[str] = []
    n = min(n, len(blocks))
    while len(chosen) < n:
        for members in stages.values():
            if members and len(chosen) < n:
                chosen.append(members.pop(0).path)
    return chosen


def drop_blocks(model: nn.Module, paths: Iterable[str]) -> nn.Module:
    """Replace the blocks at `paths` by nn.Identity (in place, returned)."""
    for path in paths:
        set_module(model, path, nn.Identity())
    return model


def prune_depth(
    model: nn.Module, architecture: str, recipe: PruneRecipe, n: int, batches: Iterable[torch.Tensor]
) -> DepthOutcome:
    """Remove `n` residual blocks of `model` (in place); the error says how many it has."""
    blocks = recipe.blocks(model)
    if n > len(blocks):
        raise ConfigError(
            f"--drop-blocks {n}: {architecture} has {len(blocks)} removable residual block(s)"
            + (" (none: it has no residual blocks)" if not blocks else f"; use at most {len(blocks)}")
        )
    influence = block_influence(model, blocks, batches)
    removed = choose_blocks(blocks, influence, n)
    drop_blocks(model, removed)
    log.info("removed %d block(s): %s", len(removed),
             ", ".join(f"{p} (influence {influence[p]:.4f})" for p in removed))
    return DepthOutcome(tuple(removed), influence)
