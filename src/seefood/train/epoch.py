"""One training epoch: mixed-precision steps, gradient clipping, per-step LR, step logging."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from seefood.train.distill import distillation_loss
from seefood.train.distributed import all_reduce_sum, broadcast_buffers
from seefood.train.loaders import start_epoch
from seefood.train.metrics import autocast
from seefood.train.progress import EpochBars

if TYPE_CHECKING:
    from seefood.train.session import Session

Emit = Callable[[str, int, Mapping[str, float]], None]


class EpochRunner:
    """Runs the optimizer steps of one epoch over a Session."""

    def __init__(self, session: Session, bars: EpochBars, emit: Emit) -> None:
        self.s, self.bars, self.emit = session, bars, emit
        self.global_step = session.progress.global_step
        self.criterion = nn.CrossEntropyLoss(label_smoothing=session.config.label_smoothing)
        self.params = list(session.model.parameters())  # clipping skips the frozen ones (their grad is None)

    def _sync(self) -> None:
        if self.s.device.type == "cuda":
            torch.cuda.synchronize(self.s.device)

    def _teacher(self, images: torch.Tensor) -> torch.Tensor | None:
        """The distillation teacher's logits for this batch (None without --teacher)."""
        if self.s.teacher is None:
            return None
        with torch.no_grad():
            return self.s.teacher(images)

    def _step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, backward, clip, optimizer and scheduler step; return (loss, correct) as tensors."""
        s, cfg = self.s, self.s.config
        images = images.to(s.device, non_blocking=True)
        labels = labels.to(s.device, non_blocking=True)
        if s.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(s.device, cfg.amp):
            logits = s.train_net(images)
            teacher_logits = self._teacher(images)
        if teacher_logits is None:
            loss = self.criterion(logits.float(), labels)
        else:
            loss = distillation_loss(logits.float(), teacher_logits.float(), labels, self.criterion,
                                     cfg.distill_alpha, cfg.distill_temperature)
        s.optimizer.zero_grad(set_to_none=True)
        s.scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            s.scaler.unscale_(s.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
        s.scaler.step(s.optimizer)
        s.scaler.update()
        s.scheduler.step()
        return loss.detach(), (logits.detach().argmax(1) == labels).sum()

    def run(self, epoch: int) -> dict[str, float]:
        """Train one epoch; return loss, accuracy, images, seconds and images/s (over all processes)."""
        s, cfg = self.s, self.s.config
        start_epoch(s.train_loader, s.sampler, cfg.seed, epoch)
        s.start_training(epoch)
        steps = len(s.train_loader)
        self.bars.start_epoch(epoch, steps)
        totals = torch.zeros(3, dtype=torch.float64, device=s.device)  # loss sum, correct, images
        window = torch.zeros(3, dtype=torch.float64, device=s.device)  # the same since the last log
        self._sync()
        t_epoch = t_window = time.perf_counter()
        window_steps = 0
        for i, (images, labels) in enumerate(s.train_loader, 1):
            lr = s.optimizer.param_groups[0]["lr"]  # the rate this step uses
            loss, correct = self._step(images, labels)
            n = labels.shape[0]
            window[0] += loss.double() * n
            window[1] += correct.double()
            window[2] += n
            self.global_step += 1
            window_steps += 1
            metrics: dict[str, float] = {}
            if i % cfg.log_every == 0 or i == steps:
                self._sync()
                now = time.perf_counter()
                loss_sum, right, count = window.tolist()
                metrics = {"loss": loss_sum / count, "accuracy": right / count, "lr": lr,
                           "images_per_sec": count * s.env.world_size / max(now - t_window, 1e-9)}
                s.tb.step(self.global_step, metrics)
                self.bars.advance(window_steps, metrics["loss"], metrics["accuracy"], metrics["images_per_sec"])
                totals += window
                window.zero_()
                t_window, window_steps = now, 0
            self.emit("step", epoch, metrics)
        self._sync()
        seconds = time.perf_counter() - t_epoch
        broadcast_buffers(s.model, s.env)
        loss_sum, right, count = all_reduce_sum(totals, s.env).tolist()
        return {"loss": loss_sum / count, "accuracy": right / count, "images": count, "seconds": seconds,
                "images_per_sec": count / seconds}
