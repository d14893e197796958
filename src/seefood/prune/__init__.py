"""Structured pruning with Torch-Pruning: a smaller, faster network (not masked weights), fine-tuned to recover.

`prune_checkpoint(PruneConfig(...))` writes DIR/checkpoint (rebuildable from its metadata's shape
plan), DIR/prune.json and the fine-tuning run; `prune_model` prunes an in-memory model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seefood.prune.config import IMPORTANCE_CHOICES, PRUNE_JSON, PruneConfig

if TYPE_CHECKING:
    from seefood.prune.export import prune_then_export
    from seefood.prune.pipeline import prune_checkpoint
    from seefood.prune.report import PruneReport, summary_table
    from seefood.prune.structured import PruneOutcome, prune_model

_LAZY = {
    "prune_checkpoint": "seefood.prune.pipeline",
    "prune_then_export": "seefood.prune.export",
    "PruneReport": "seefood.prune.report",
    "summary_table": "seefood.prune.report",
    "PruneOutcome": "seefood.prune.structured",
    "prune_model": "seefood.prune.structured",
}

__all__ = [
    "IMPORTANCE_CHOICES", "PRUNE_JSON", "PruneConfig", "PruneOutcome", "PruneReport", "prune_checkpoint",
    "prune_model", "prune_then_export", "summary_table",
]


def __getattr__(name: str) -> Any:
    """Import the torch-dependent names on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seefood.prune' has no attribute {name!r}")
