"""Moved to `seefood.checkpoint` (the checkpoint contract is not training's own); kept as a re-export only so
older imports (`seefood.train.checkpoint.load_checkpoint`, scripts) keep working. New code imports
`seefood.checkpoint`."""

from __future__ import annotations

from seefood.checkpoint import (
    META,
    STATE_JSON,
    STATE_TENSORS,
    WEIGHTS,
    Checkpoint,
    load_checkpoint,
    load_train_state,
    read_meta,
    save_checkpoint,
    update_meta,
)

__all__ = [
    "META", "STATE_JSON", "STATE_TENSORS", "WEIGHTS", "Checkpoint", "load_checkpoint",
    "load_train_state", "read_meta", "save_checkpoint", "update_meta",
]
