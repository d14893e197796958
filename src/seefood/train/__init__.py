"""Fine-tuning, evaluation, checkpoints and TensorBoard logging.

The loop and evaluation are imported on first use, so importing `seefood.train` stays light
(the checkpoint contract itself lives in `seefood.checkpoint`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seefood.train.config import EvalOptions, TrainConfig, resume_config
    from seefood.train.evaluation import EvalResult, evaluate
    from seefood.train.loop import TrainCallback, TrainEvent, train
    from seefood.train.result import TrainResult

_LAZY = {
    "TrainConfig": "seefood.train.config",
    "resume_config": "seefood.train.config",
    "EvalOptions": "seefood.train.config",
    "EvalResult": "seefood.train.evaluation",
    "evaluate": "seefood.train.evaluation",
    "TrainCallback": "seefood.train.loop",
    "TrainEvent": "seefood.train.loop",
    "train": "seefood.train.loop",
    "TrainResult": "seefood.train.result",
}

__all__ = [
    "EvalOptions", "EvalResult", "TrainCallback", "TrainConfig", "TrainEvent", "TrainResult", "evaluate",
    "resume_config", "train",
]


def __getattr__(name: str) -> Any:
    """Import the public names lazily."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seefood.train' has no attribute {name!r}")
