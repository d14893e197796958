"""Structured pruning with Torch-Pruning's DepGraph: channels and heads really leave the network.

--drop-blocks N first removes N whole residual blocks (seefood.prune.depth); --ratio is then the
fraction of the remaining PARAMETERS that channel pruning removes (0 with --drop-blocks: depth only).
Torch-Pruning takes a per-layer CHANNEL ratio, and the two are not proportional (a conv loses
parameters on both its input and output side; round_to and protected layers bend the curve), so the channel ratio is found by a short search on copies of the model.
Per-layer channel counts depend only on that ratio, never on the importance scores, so every trial
already uses the real criterion and the best trial is the result.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seefood.errors import ModelError
from seefood.models.shape_plan import plan_from_model
from seefood.prune.depth import DepthOutcome, prune_depth
from seefood.prune.importance import accumulate_gradients, get_criterion, import_torch_pruning
from seefood.prune.recipes import PruneRecipe, get_recipe, sync_head_counts

log = logging.getLogger(__name__)

MAX_CHANNEL_RATIO = 0.9  # never remove more than this share of any layer's channels
TOLERANCE = 0.02  # stop searching when the removed parameter share is this close to the target
MAX_TRIALS = 6  # pruning passes on copies at most (each builds a dependency graph and prunes)


@dataclass(frozen=True, eq=False)
class PruneOutcome:
    """A pruned model (eval mode, CPU) and what it cost."""

    model: nn.Module
    channel_ratio: float  # the per-layer channel ratio torch_pruning was given
    params_before: int
    params_after: int
    macs_before: int  # multiply-accumulates of one image (conv/linear layers, as torch_pruning counts them)
    macs_after: int
    trials: tuple[tuple[float, float], ...]  # (channel ratio, removed parameter share) of every search step
    shape_plan: dict[str, Any]  # what seefood.models.shape_plan needs to rebuild it
    depth: DepthOutcome | None = None  # --drop-blocks: the blocks removed before channel pruning
    params_after_depth: int | None = None  # parameters once the blocks were removed (before channel pruning)

    @property
    def sparsity(self) -> float:
        """Fraction of parameters removed."""
        return 1.0 - self.params_after / self.params_before


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (every tensor in model.parameters())."""
    return sum(p.numel() for p in model.parameters())


def _copy_with_gradients(model: nn.Module) -> nn.Module:
    """deepcopy keeps parameters but drops .grad; taylor importance needs them on the copy too."""
    clone = copy.deepcopy(model)
    for (_, p), (_, q) in zip(model.named_parameters(), clone.named_parameters()):
        if p.grad is not None:
            q.grad = p.grad.detach().clone()
    return clone


def too_narrow(model: nn.Module, channel_ratio: float, round_to: int) -> list[nn.Module]:
    """Layers too narrow to prune at this ratio: a cut of at least `round_to` channels would remove more than
    twice the asked share (EfficientNet-Lite2's 16- and 24-channel stages lost half their channels at a 4 %
    ratio with round_to 8, and the model fell from 82.5 % to 29 % top-1 before any fine-tuning)."""
    if round_to <= 1 or channel_ratio <= 0:
        return []
    limit = round_to / (2 * channel_ratio)
    return [m for m in model.modules()
            if (isinstance(m, nn.Conv2d) and m.groups == 1 and m.out_channels < limit)
            or (isinstance(m, nn.Linear) and m.out_features < limit)]


def _trial(model: nn.Module, recipe: PruneRecipe, channel_ratio: float, importance: Any, example: torch.Tensor,
           round_to: int) -> nn.Module:
    """A pruned copy of `model` at one channel ratio."""
    tp = import_torch_pruning()
    pruned = _copy_with_gradients(model)
    heads = recipe.heads(pruned)
    keep = recipe.keep(pruned) + too_narrow(pruned, channel_ratio, round_to)
    pruner = tp.pruner.MetaPruner(
        pruned, example, importance=importance, pruning_ratio=channel_ratio, ignored_layers=keep,
        round_to=round_to, num_heads=heads, prune_num_heads=bool(heads), prune_head_dims=False,
        head_pruning_ratio=channel_ratio if heads else 0.0, unwrapped_parameters=recipe.unwrapped(pruned),
        max_pruning_ratio=MAX_CHANNEL_RATIO,
    )
    pruner.step()
    sync_head_counts(pruned, pruner.num_heads)
    return pruned


def _next_ratio(target: float, lo: tuple[float, float], hi: tuple[float, float] | None) -> float:
    """Regula falsi on (channel ratio, removed share): interpolate the bracket, extrapolate before it closes."""
    if hi is None:
        c, f = lo
        return MAX_CHANNEL_RATIO if f <= 0 else min(MAX_CHANNEL_RATIO, c * target / f)
    (c0, f0), (c1, f1) = lo, hi
    guess = c0 + (target - f0) * (c1 - c0) / (f1 - f0) if f1 > f0 else (c0 + c1) / 2
    margin = (c1 - c0) / 10  # stay strictly inside the bracket so every trial narrows it
    return min(max(guess, c0 + margin), c1 - margin)


def prune_model(
    model: nn.Module,
    architecture: str,
    ratio: float,
    example: torch.Tensor,
    importance: str = "taylor",
    round_to: int = 8,
    gradient_batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = (),
    fresh: nn.Module | None = None,
    drop_blocks: int = 0,
) -> PruneOutcome:
    """Remove `drop_blocks` residual blocks, then about `ratio` of the rest's parameters as channels (CPU).

    `model` itself is left as it was. `example` is one input batch (1, 3, H, W) to trace the dependency
    graph; `gradient_batches` feed taylor importance and rank the blocks; `fresh` is an untrained model
    of the same architecture (for the shape plan).
    """
    tp = import_torch_pruning()
    recipe, criterion = get_recipe(architecture), get_criterion(importance)
    work = recipe.prepare(copy.deepcopy(model).cpu().eval())
    example = example.cpu()
    params_before = count_parameters(work)
    macs_before, _ = tp.utils.count_ops_and_params(work, example)
    batches = list(gradient_batches)
    depth = None
    if drop_blocks:
        depth = prune_depth(work, architecture, recipe, drop_blocks, (x for x, _ in batches))
    params_mid = count_parameters(work)
    if ratio > 0:
        if criterion.needs_gradients:
            accumulate_gradients(work, batches, torch.device("cpu"))
        channel_ratio, pruned, trials = _channel_search(work, architecture, recipe, ratio, example,
                                                        criterion.make(tp), round_to)
    elif depth is not None:
        channel_ratio, pruned, trials = 0.0, work, []
    else:
        raise ModelError("prune_model needs ratio > 0 or drop_blocks > 0: nothing would be removed")
    pruned.zero_grad(set_to_none=True)
    pruned.eval()
    macs_after, _ = tp.utils.count_ops_and_params(pruned, example)
    plan = plan_from_model(pruned, fresh if fresh is not None else _fresh_like(model, architecture))
    log.info("pruned %s: %d -> %d parameters (%.1f%% removed; %d block(s), channel ratio %.3f after %d trial(s))",
             architecture, params_before, count_parameters(pruned),
             100 * (1 - count_parameters(pruned) / params_before), drop_blocks, channel_ratio, len(trials))
    return PruneOutcome(
        model=pruned, channel_ratio=channel_ratio, params_before=params_before,
        params_after=count_parameters(pruned), macs_before=int(macs_before), macs_after=int(macs_after),
        trials=tuple(trials), shape_plan=plan, depth=depth,
        params_after_depth=params_mid if depth is not None else None,
    )


def _channel_search(
    work: nn.Module, architecture: str, recipe: PruneRecipe, ratio: float, example: torch.Tensor, scorer: Any,
    round_to: int,
) -> tuple[float, nn.Module, list[tuple[float, float]]]:
    """(channel ratio, pruned copy, trials): the trial closest to removing `ratio` of `work`'s parameters."""
    params_before = count_parameters(work)
    target = ratio
    best: tuple[float, float, nn.Module] | None = None
    trials: list[tuple[float, float]] = []
    lo, hi = (0.0, 0.0), None
    c = min(recipe.first_guess(ratio), MAX_CHANNEL_RATIO)
    for _ in range(MAX_TRIALS):
        pruned = _trial(work, recipe, c, scorer, example, round_to)
        removed = 1.0 - count_parameters(pruned) / params_before
        trials.append((round(c, 4), round(removed, 4)))
        log.debug("channel ratio %.4f removes %.2f%% of the parameters", c, 100 * removed)
        if best is None or abs(removed - target) < abs(best[1] - target):
            best = (c, removed, pruned)
        if abs(removed - target) <= TOLERANCE:
            break
        if removed < target:
            lo = (c, removed)
        else:
            hi = (c, removed)
        if (hi is None and lo[0] >= MAX_CHANNEL_RATIO) or (hi is not None and hi[0] - lo[0] < 1e-3):
            break  # the target is out of reach, or round_to makes nothing in between possible
        c = _next_ratio(target, lo, hi)
    assert best is not None  # the loop ran at least once
    channel_ratio, removed, pruned = best
    if removed <= 0:
        raise ModelError(
            f"pruning {architecture} at --ratio {ratio} removes nothing (round_to={round_to} keeps every layer whole): "
            f"raise --ratio"
        )
    if abs(removed - target) > 0.05:
        log.warning("asked to remove %.0f%% of the parameters; the closest possible is %.1f%%", 100 * target,
                    100 * removed)
    return channel_ratio, pruned, trials


def _fresh_like(model: nn.Module, architecture: str) -> nn.Module:
    """An untrained model of the same architecture and head size as `model` (input size from ViT's own)."""
    from seefood.models import create_model

    head = get_recipe(architecture).keep(model)[-1]  # the classifier: its outputs are never pruned
    classes = head.out_features if isinstance(head, nn.Linear) else None
    if classes is None:
        raise ModelError(f"cannot tell the number of classes of this {architecture}: pass `fresh`")
    return create_model(architecture, classes, weights="none", image_size=getattr(model, "image_size", None))
