"""The fine-tuning loop: `train(config) -> TrainResult` (one process, or several under torchrun)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from rich.console import Console
from torch import nn

from seefood.io import atomic_write_json
from seefood.torch_threads import torch_threads
from seefood.train.config import CONFIG_FILE, TrainConfig, resolve
from seefood.train.distributed import barrier, detect, process_group
from seefood.train.epoch import EpochRunner
from seefood.train.metrics import evaluate_model
from seefood.train.progress import EpochBars, summary_line
from seefood.train.result import RESULT_FILE, TrainResult
from seefood.train.rundir import BEST, LAST, TEST, check_run_dir, clear_run_dir
from seefood.train.session import Session, build_session
from seefood.train.state import Progress, pack_train_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainEvent:
    """What a callback sees: after every step, after every epoch, and once at the end."""

    kind: str  # "step", "epoch" or "end"
    epoch: int  # 1-based epoch (the last completed one for "end")
    global_step: int
    model: nn.Module  # the underlying model (not the DDP / compile wrapper)
    metrics: Mapping[str, float]  # step: filled on logging steps only; epoch: train/val metrics; end: test


class TrainCallback(Protocol):
    """A hook called with every TrainEvent (tests use it to interrupt a run or fingerprint weights)."""

    def __call__(self, event: TrainEvent) -> None:
        """React to one event; raising KeyboardInterrupt behaves like Ctrl-C."""
        ...


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python `random`."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@dataclass(frozen=True)
class _Pending:
    """An epoch boundary that must reach disk (kept to re-save it when Ctrl-C lands during the save)."""

    progress: Progress
    state: tuple[dict[str, torch.Tensor], dict[str, Any]]
    metrics: dict[str, float]
    improved: bool


class _Trainer:
    """Runs epochs over a built Session; only the main process writes files."""

    def __init__(self, s: Session, callbacks: Sequence[TrainCallback], bars: EpochBars) -> None:
        self.s, self.callbacks, self.bars = s, callbacks, bars
        self.saved_epoch = s.progress.epoch
        self.runner = EpochRunner(s, bars, self.emit)

    def emit(self, kind: str, epoch: int, metrics: Mapping[str, float]) -> None:
        """Call every callback with one event."""
        for callback in self.callbacks:
            callback(TrainEvent(kind, epoch, self.runner.global_step, self.s.model, metrics))

    def _save(self, pending: _Pending) -> None:
        s = self.s
        meta = s.meta(pending.metrics)
        if pending.improved:  # best before last: a crash in between leaves last one epoch behind, never best
            s.save(BEST, meta)
        s.save(LAST, meta, pending.state)
        self.saved_epoch = pending.progress.epoch

    def fit(self) -> tuple[bool, float, float]:
        """Train until --epochs or early stopping; return (stopped_early, images, seconds of training)."""
        s, cfg = self.s, self.s.config
        pending: _Pending | None = None
        stopped, images, seconds = False, 0.0, 0.0
        epoch = s.progress.epoch
        try:
            for epoch in range(s.progress.epoch + 1, cfg.epochs + 1):
                if cfg.patience and s.progress.bad_epochs >= cfg.patience:
                    stopped = True
                    log.info("early stop: val top-1 has not improved for %d epochs", s.progress.bad_epochs)
                    break
                stats = self.runner.run(epoch)
                images, seconds = images + stats["images"], seconds + stats["seconds"]
                val = evaluate_model(s.model, s.val_loader, s.num_classes, s.device, cfg.amp, s.channels_last, s.env)
                improved = val.top1 > s.progress.best_top1
                s.progress = Progress(
                    epoch=epoch, global_step=self.runner.global_step, best_top1=max(val.top1, s.progress.best_top1),
                    best_epoch=epoch if improved else s.progress.best_epoch,
                    bad_epochs=0 if improved else s.progress.bad_epochs + 1,
                )
                self.bars.end_epoch(val.top1, val.loss)
                metrics = {"epoch": epoch, "val_top1": val.top1, "val_top5": val.top5, "val_loss": val.loss,
                           "train_loss": stats["loss"], "train_top1": stats["accuracy"]}
                if s.env.is_main:
                    pending = _Pending(s.progress, pack_train_state(s.optimizer, s.scheduler, s.scaler, s.progress),
                                       metrics, improved)
                    self._save(pending)
                    s.log_epoch(epoch, stats, val)
                self.emit("epoch", epoch, metrics)
        except KeyboardInterrupt:
            if s.env.is_main:
                if pending is not None and self.saved_epoch < pending.progress.epoch:
                    self._save(pending)
                s.tb.close()
                log.warning(
                    "interrupted in epoch %d: %s holds epoch %d, the last completed one (later steps are dropped); "
                    "continue with: seefood train --resume %s", epoch, s.out / LAST, self.saved_epoch, s.out,
                )
            raise
        return stopped, images, seconds

    def test(self) -> tuple[float | None, float | None]:
        """Evaluate the best checkpoint on the test split (written to OUT/test/ and best's metadata)."""
        s = self.s
        barrier(s.env)  # best/ is complete before any process reads it
        if not s.test_loader:
            log.info("the data has no test split: skipping the test evaluation")
            return None, None
        s.load_weights(s.out / BEST)
        test = evaluate_model(s.model, s.test_loader, s.num_classes, s.device, s.config.amp, s.channels_last, s.env)
        if s.env.is_main:
            s.record_test(test)
        return test.top1, test.top5


def train(
    config: TrainConfig,
    callbacks: Sequence[TrainCallback] = (),
    console: Console | None = None,
    show_progress: bool = True,
) -> TrainResult:
    """Fine-tune config.model on config.data; write OUT/{config.json,last,best,tb,test,result.json}."""
    from seefood.models import get_spec

    env = detect()
    config = resolve(config, get_spec(config.model))
    out = check_run_dir(config)
    start = time.perf_counter()
    # the one thread policy: threads None is seefood.threads.default_threads()
    with torch_threads(config.threads), process_group(env, config.device) as device:
        if env.is_main and config.force and not config.resume:
            clear_run_dir(out)
        barrier(env)
        seed_everything(config.seed)
        session = build_session(config, env, device, out)
        if env.is_main:
            atomic_write_json(out / CONFIG_FILE, config.to_dict())
        with EpochBars(console, show_progress and env.is_main, config.epochs) as bars:
            trainer = _Trainer(session, callbacks, bars)
            stopped, images, seconds = trainer.fit()
        test_top1, test_top5 = trainer.test()
        return _finish(session, trainer, stopped, images, seconds, test_top1, test_top5, start)


def _finish(
    s: Session, trainer: _Trainer, stopped: bool, images: float, seconds: float,
    test_top1: float | None, test_top5: float | None, start: float,
) -> TrainResult:
    """Build the result (images are counted over all processes); the main process writes it out."""
    result = TrainResult(
        out=s.out, best=s.out / BEST, last=s.out / LAST, best_val_top1=s.progress.best_top1,
        best_epoch=s.progress.best_epoch, test_top1=test_top1, test_top5=test_top5, epochs_run=s.progress.epoch,
        images_per_sec=images / seconds if seconds > 0 else 0.0, stopped_early=stopped,
        seconds=time.perf_counter() - start, num_classes=s.num_classes, device=str(s.device),
    )
    if s.env.is_main:
        final = {"best_val_top1": result.best_val_top1}
        if test_top1 is not None and test_top5 is not None:
            final.update(test_top1=test_top1, test_top5=test_top5)
        s.tb.hparams(s.config.to_dict(), final)
        s.tb.close()
        atomic_write_json(s.out / RESULT_FILE, result.to_dict())
        log.info("%s (test report: %s)", summary_line(result), s.out / TEST)
    trainer.emit("end", s.progress.epoch, {"test_top1": float("nan") if test_top1 is None else test_top1})
    return result
