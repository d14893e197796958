"""Channel importance criteria (a registry keyed by the --importance value) and the gradients taylor needs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import nn

from seefood.errors import BackendMissingError, ConfigError

log = logging.getLogger(__name__)


def import_torch_pruning() -> ModuleType:
    """torch_pruning, or a BackendMissingError naming the extra that installs it."""
    try:
        import torch_pruning
    except ImportError as exc:
        raise BackendMissingError("torch-pruning", install="pip install 'seefood[prune]'", reason=str(exc)) from exc
    return torch_pruning


@dataclass(frozen=True)
class Criterion:
    """One way to score channels; the scores only pick WHICH channels go, never how many."""

    make: Callable[[ModuleType], Any]  # torch_pruning module -> a torch_pruning Importance
    needs_gradients: bool  # True: call accumulate_gradients on the model first
    description: str


IMPORTANCES: dict[str, Criterion] = {
    "taylor": Criterion(
        make=lambda tp: tp.importance.GroupTaylorImportance(),
        needs_gradients=True,
        description="first-order Taylor |w x dL/dw| summed over each channel group, on a few training batches",
    ),
    "l2": Criterion(
        make=lambda tp: tp.importance.GroupMagnitudeImportance(p=2),
        needs_gradients=False,
        description="L2 norm of each channel group's weights (no data needed)",
    ),
}


def get_criterion(name: str) -> Criterion:
    """Look a criterion up by its --importance name; the error lists the valid ones."""
    try:
        return IMPORTANCES[name]
    except KeyError:
        raise ConfigError(f"unknown --importance {name!r}: use one of {', '.join(IMPORTANCES)}") from None


def accumulate_gradients(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device
) -> int:
    """Sum cross-entropy gradients over `batches` into the parameters' .grad (eval mode: BN stats untouched).

    Returns the number of images used.
    """
    model.eval()
    model.zero_grad(set_to_none=True)
    loss_fn = nn.CrossEntropyLoss()
    images = 0
    for x, y in batches:
        loss = loss_fn(model(x.to(device)), y.to(device))
        loss.backward()
        images += int(x.shape[0])
    if images == 0:
        raise ConfigError("taylor importance needs training images and got none: use --importance l2 or add data")
    log.info("taylor importance: gradients from %d training images", images)
    return images
