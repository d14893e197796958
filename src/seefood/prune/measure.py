"""What a pruning run measures: accuracy on a held-out split, and b=1 CPU latency of two models, interleaved."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from seefood.bench.interleave import interleaved_times
from seefood.bench.stats import LatencyStats, summarize
from seefood.preprocessing import Preprocessing
from seefood.runtimes._torch import has_conv2d
from seefood.torch_threads import torch_threads
from seefood.train.metrics import EvalMetrics, evaluate_model

WARMUP = 3  # untimed calls per model first (allocations, kernel selection, caches)
# CPU batches: a GPU-sized batch (64 at 288 px) makes CPU evaluation crawl on memory traffic (14 GB RSS for
# EfficientNet-B2's gradients, mostly kernel time); 16 keeps the CPU busy without that
CPU_BATCH = 16


def cpu_batch(batch_size: int) -> int:
    """The batch to run on the CPU for a configured batch size."""
    return max(1, min(batch_size, CPU_BATCH))


@dataclass(frozen=True)
class EvalData:
    """The images a run measures accuracy on, and how to feed them."""

    split: str  # "test", or "val" when the data has no test split
    samples: tuple[Any, ...]  # seefood.data.Sample, labels in the checkpoint's class order
    preprocessing: Preprocessing
    num_classes: int
    batch_size: int
    workers: int


def top1(model: nn.Module, data: EvalData, device: torch.device) -> EvalMetrics:
    """Top-1/top-5 of `model` (eval mode, moved to `device`) over the evaluation images."""
    from seefood.data import ImageDataset, eval_transform
    from seefood.train.distributed import DistEnv
    from seefood.train.loaders import eval_loader

    dataset = ImageDataset(data.samples, eval_transform(data.preprocessing))
    batch = data.batch_size if device.type == "cuda" else cpu_batch(data.batch_size)
    loader = eval_loader(dataset, batch, data.workers, device.type == "cuda", DistEnv())
    return evaluate_model(model.to(device), loader, data.num_classes, device)


def interleaved_latency(
    models: Sequence[nn.Module], sample: torch.Tensor, runs: int, threads: int | None = None
) -> list[LatencyStats]:
    """b=1 eager CPU latency of each model on `sample`, runs interleaved A B A B so background load hits all alike."""
    with torch_threads(threads):
        calls = [_eager_call(copy.deepcopy(m).cpu().eval(), sample) for m in models]
        with torch.inference_mode():
            times = interleaved_times(calls, rounds=runs, warmup=WARMUP)
    return [summarize(np.asarray(t), batch_size=int(sample.shape[0])) for t in times]


def _eager_call(net: nn.Module, sample: torch.Tensor) -> Callable[[], Any]:
    """One forward pass of `net`; CNNs run channels_last, their fastest eager layout (as PyTorchRuntime does)."""
    if has_conv2d(net) and sample.ndim == 4:
        net = net.to(memory_format=torch.channels_last)
        sample = sample.contiguous(memory_format=torch.channels_last)
    return lambda: net(sample)
