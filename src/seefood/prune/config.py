"""PruneConfig: every setting of `seefood prune` (and of `seefood-export --prune`), with its default."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seefood.errors import ConfigError

IMPORTANCE_CHOICES = ("taylor", "l2")  # keys of seefood.prune.importance.IMPORTANCES
DEVICE_CHOICES = ("auto", "cpu", "cuda")
PRUNE_JSON = "prune.json"  # the run's report, written last: a folder without it is an unfinished run


@dataclass(frozen=True)
class PruneConfig:
    """What to prune, how hard, how to recover, and where the results go."""

    checkpoint: Path  # a checkpoint folder written by `seefood train`
    ratio: float  # fraction of the parameters channel pruning removes, 0 < ratio < 1 (e.g. 0.3); 0: blocks only
    out: Path  # DIR: pruned/, finetune/, checkpoint/ (the result) and prune.json
    data: str | None = None  # data spec to fine-tune and measure on; None: the checkpoint's training data
    data_root: str | None = None  # dataset cache folder (None: seefood.data's default)
    drop_blocks: int = 0  # whole residual blocks removed before channel pruning (seefood.prune.depth)
    finetune_epochs: int = 3  # recovery fine-tuning epochs (0: keep the model as pruned)
    baseline: bool = False  # also fine-tune the *unpruned* model with the same recipe and epochs (same budget)
    importance: str = "taylor"  # taylor (|weight x gradient| on training batches) or l2 (weight magnitude)
    max_drop: float = 1.0  # top-1 points the pruned, fine-tuned model may lose; more marks it "failed"
    round_to: int = 8  # kept channel counts are multiples of this (fast kernels)
    grad_batches: int = 4  # training batches whose gradients feed taylor importance
    # BatchNorm statistics re-estimated on this many training images right after pruning (0: keep the source's).
    # Off by default: a model fine-tuned with frozen BatchNorm (the small-data recipe) co-adapted its weights to the
    # pretrained statistics, and re-estimating them cost effnet_lite2 17.5 points (80.25 % -> 62.75 %) right after
    # a 10 % channel prune; it helps a model whose statistics were trained on the same data and lost blocks.
    recalibrate_images: int = 0
    distill: bool = True  # recovery fine-tuning also learns the unpruned model's soft predictions (seefood.train.distill)
    lr: float | None = None  # fine-tuning peak learning rate (None: the checkpoint's own training lr)
    batch_size: int | None = None  # fine-tuning / evaluation batch (None: the checkpoint's own)
    threads: int | None = None  # torch intra-op CPU threads (None: seefood.threads' default, what the process may use)
    device: str = "auto"  # fine-tuning device: auto (CUDA when available), cpu, cuda; pruning runs on the CPU
    workers: int = 2  # DataLoader worker processes (0: load in the main process)
    latency_runs: int = 30  # timed b=1 CPU runs of each model, interleaved (0: skip the latency check)
    seed: int = 0  # seeds the fine-tuning and the choice of gradient batches
    force: bool = False  # replace the outputs of an earlier run in DIR

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoint", Path(self.checkpoint))
        object.__setattr__(self, "out", Path(self.out))
        checks = [
            (math.isfinite(self.ratio) and 0 <= self.ratio < 1 and (self.ratio > 0 or self.drop_blocks > 0),
             f"--ratio is the fraction of parameters to remove, between 0 and 1 (e.g. 0.3; 0 only with --drop-blocks), got {self.ratio}"),
            (self.drop_blocks >= 0, f"--drop-blocks must be >= 0, got {self.drop_blocks}"),
            (self.finetune_epochs >= 0, f"--finetune-epochs must be >= 0, got {self.finetune_epochs}"),
            (not self.baseline or self.finetune_epochs > 0,
             "--baseline fine-tunes the unpruned model for --finetune-epochs: it needs --finetune-epochs >= 1"),
            (self.importance in IMPORTANCE_CHOICES,
             f"--importance must be one of {', '.join(IMPORTANCE_CHOICES)}, got {self.importance!r}"),
            (math.isfinite(self.max_drop) and self.max_drop >= 0,
             f"--max-drop is in top-1 points and must be >= 0, got {self.max_drop}"),
            (self.round_to >= 1, f"round_to must be >= 1, got {self.round_to}"),
            (self.recalibrate_images >= 0, f"--recalibrate-images must be >= 0, got {self.recalibrate_images}"),
            (self.grad_batches >= 1, f"grad_batches must be >= 1, got {self.grad_batches}"),
            (self.lr is None or self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.batch_size is None or self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.threads is None or self.threads >= 1, f"--threads must be >= 1, got {self.threads}"),
            (self.device in DEVICE_CHOICES, f"--device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}"),
            (self.workers >= 0, f"--workers must be >= 0, got {self.workers}"),
            (self.latency_runs >= 0, f"--latency-runs must be >= 0, got {self.latency_runs}"),
        ]
        problems = [msg for ok, msg in checks if not ok]
        if not self.checkpoint.is_dir():
            problems.append(f"checkpoint {self.checkpoint} is not a folder: pass one written by `seefood train`, "
                            f"e.g. runs/NAME/best")
        if problems:
            raise ConfigError("; ".join(problems))

    def evolve(self, **changes: Any) -> PruneConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (recorded in prune.json)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}

