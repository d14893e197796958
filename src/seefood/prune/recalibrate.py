"""BatchNorm re-calibration: fresh running statistics for a network whose layers were removed or narrowed.

Dropping residual blocks changes what every later BatchNorm sees, so its stored running mean and variance
no longer describe its inputs; re-estimating them on a few hundred training images (no gradients, weights
unchanged) restores much of the accuracy lost right after pruning, and lets the recovery fine-tuning keep
BatchNorm frozen as the source recipe did (Li et al., "Revisiting BatchNorm in training deep networks",
and the re-calibration step of NNCF / AMC pruning).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers that track running statistics."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Re-estimate every BatchNorm's running statistics over `batches` (a cumulative average); return the images used.

    Only the statistics change: weights stay as they are, the model is left in eval mode, and a model without
    BatchNorm is returned untouched (0 images).
    """
    norms = batchnorms(model)
    if not norms:
        return 0
    saved = [(m.momentum, m.training) for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches, not an exponential one
        m.train()
    seen = 0
    try:
        for images in batches:
            model(images)
            seen += images.shape[0]
    finally:
        for m, (momentum, _) in zip(norms, saved, strict=True):
            m.momentum = momentum
            m.eval()
    return seen
