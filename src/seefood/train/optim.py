"""AdamW with decay only on weight matrices, and a per-step linear warm-up + cosine schedule."""

from __future__ import annotations

import math

import torch
from torch import nn


def make_optimizer(
    model: nn.Module, lr: float, weight_decay: float, head_prefixes: tuple[str, ...] = (),
    backbone_lr_scale: float = 1.0,
) -> torch.optim.AdamW:
    """AdamW over trainable parameters; biases and norm scales (1-D tensors) get no weight decay.

    With `backbone_lr_scale` < 1, parameters outside `head_prefixes` (the backbone) train at that
    fraction of `lr`: the pretrained features move slowly while the new head learns at full rate.
    """
    split = backbone_lr_scale != 1.0 and bool(head_prefixes)
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            backbone = split and not name.startswith(head_prefixes)
            groups.setdefault((backbone, param.ndim >= 2), []).append(param)
    order = [(False, True), (False, False), (True, True), (True, False)]
    return torch.optim.AdamW([
        {"params": groups[key], "weight_decay": weight_decay if key[1] else 0.0,
         "lr": lr * (backbone_lr_scale if key[0] else 1.0)}
        for key in order if key in groups
    ], lr=lr)


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """LR multiplier after `step` steps: linear ramp to 1 over warm-up, then cosine down to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def phased_factor(step: int, steps_per_epoch: int, epochs: int, warmup_epochs: float, head_epochs: int) -> float:
    """LR multiplier with an optional head-only phase: each phase has its own warm-up and cosine decay."""
    head = steps_per_epoch * head_epochs
    if step < head:
        return warmup_cosine_factor(step, head, min(head, round(warmup_epochs * steps_per_epoch)))
    total = steps_per_epoch * (epochs - head_epochs)
    return warmup_cosine_factor(step - head, total, min(total, round(warmup_epochs * steps_per_epoch)))


def make_scheduler(
    optimizer: torch.optim.Optimizer, steps_per_epoch: int, epochs: int, warmup_epochs: float, head_epochs: int = 0
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR stepped once per optimizer step (per phase: warm-up, then cosine to zero)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: phased_factor(step, steps_per_epoch, epochs, warmup_epochs, head_epochs))
