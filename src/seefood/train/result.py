"""The record a training run returns and writes as OUT/result.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seefood.io import to_jsonable

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced and how well it did."""

    out: Path  # the run folder
    best: Path  # checkpoint with the best validation top-1 (evaluated on test)
    last: Path  # checkpoint of the last completed epoch, with training state for --resume
    best_val_top1: float
    best_epoch: int
    test_top1: float | None  # None when the data has no test split
    test_top5: float | None
    epochs_run: int  # epochs completed in total, including those before a resume
    images_per_sec: float  # mean training throughput of this invocation (all processes together)
    stopped_early: bool  # early stopping ended the run before --epochs
    seconds: float  # wall time of this invocation
    num_classes: int
    device: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(to_jsonable(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainResult:
        """Inverse of to_dict."""
        paths = {k: Path(d[k]) for k in ("out", "best", "last")}
        return cls(**{**d, **paths})
