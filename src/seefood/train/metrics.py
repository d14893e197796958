"""Classification metrics from one pass over a loader: loss, top-1/top-5, confusion matrix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seefood.train.distributed import DistEnv, all_reduce_sum

AMP_DTYPES: dict[str, torch.dtype | None] = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}


@dataclass(frozen=True)
class EvalMetrics:
    """Metrics of one evaluation pass (summed over every process)."""

    loss: float  # mean cross-entropy (no label smoothing)
    top1: float
    top5: float  # top-min(5, classes) accuracy
    confusion: np.ndarray  # (C, C) int64 counts: rows true class, columns predicted class
    count: int  # images evaluated

    def per_class(self, class_names: tuple[str, ...]) -> dict[str, float | None]:
        """Top-1 accuracy per class (None for a class with no images)."""
        totals = self.confusion.sum(axis=1)
        return {
            name: (float(self.confusion[i, i] / totals[i]) if totals[i] else None)
            for i, name in enumerate(class_names)
        }


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager[object]:
    """Autocast to the run's mixed precision, or a no-op context when amp is off."""
    dtype = AMP_DTYPES[amp]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Number of rows whose label is among the k highest logits."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum()


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    device: torch.device,
    amp: str = "off",
    channels_last: bool = False,
    env: DistEnv | None = None,
) -> EvalMetrics:
    """Run `model` (eval mode) over `batches`; with several processes each passes its own shard."""
    env = env or DistEnv()
    was_training = model.training
    model.eval()
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, top-5 correct
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    for images, labels in batches:
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(device, amp):
            logits = model(images)
        logits = logits.float()
        sums[0] += loss_fn(logits, labels).double()
        sums[1] += topk_correct(logits, labels, 5).double()
        confusion += torch.bincount(labels * num_classes + logits.argmax(1), minlength=num_classes**2)
    all_reduce_sum(confusion, env)
    all_reduce_sum(sums, env)
    model.train(was_training)
    matrix = confusion.view(num_classes, num_classes).cpu().numpy()
    count = int(matrix.sum())
    if count == 0:
        return EvalMetrics(loss=float("nan"), top1=float("nan"), top5=float("nan"), confusion=matrix, count=0)
    loss_sum, top5 = sums.cpu().tolist()
    return EvalMetrics(
        loss=loss_sum / count, top1=float(np.trace(matrix)) / count, top5=top5 / count, confusion=matrix, count=count
    )
