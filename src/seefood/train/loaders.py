"""DataLoaders for training and evaluation: seeded shuffling, seeded workers, sharding across processes."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from seefood.train.distributed import DistEnv
from seefood.workers import loader_workers

_EPOCH_STRIDE = 1_000_003  # keeps (seed, epoch) pairs from colliding


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffling and worker RNGs: reproducible, and independent of resuming."""
    return seed * _EPOCH_STRIDE + epoch


def seed_worker(worker_id: int) -> None:
    """Seed numpy and `random` in a DataLoader worker from the seed torch gave it."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _loader(dataset: Dataset[Any], batch_size: int, workers: int, pin: bool, seed: int, **kw: Any) -> DataLoader[Any]:
    generator = torch.Generator()
    generator.manual_seed(seed)  # also keeps loaders from drawing from (and shifting) the global RNG
    return DataLoader(
        dataset, batch_size=batch_size, num_workers=loader_workers(workers), pin_memory=pin, worker_init_fn=seed_worker,
        generator=generator, persistent_workers=False, **kw,
    )


def train_loader(
    dataset: Dataset[Any], batch_size: int, workers: int, pin: bool, seed: int, env: DistEnv
) -> tuple[DataLoader[Any], DistributedSampler[Any]]:
    """A shuffling loader; call `start_epoch` before iterating it each epoch."""
    # a DistributedSampler of one replica is a seeded shuffle, so one process and many share a code path
    sampler: DistributedSampler[Any] = DistributedSampler(
        dataset, num_replicas=env.world_size, rank=env.rank, shuffle=True, seed=seed, drop_last=False
    )
    return _loader(dataset, batch_size, workers, pin, seed, sampler=sampler), sampler


def start_epoch(loader: DataLoader[Any], sampler: DistributedSampler[Any], seed: int, epoch: int) -> None:
    """Set the epoch's shuffle order and worker seeds from (seed, epoch) alone."""
    sampler.set_epoch(epoch)
    if loader.generator is not None:
        loader.generator.manual_seed(epoch_seed(seed, epoch))


def eval_loader(
    dataset: Dataset[Any], batch_size: int, workers: int, pin: bool, env: DistEnv
) -> DataLoader[Any]:
    """An in-order loader over this process's shard (every `world_size`-th image, no padding)."""
    shard: Dataset[Any] = dataset
    if env.enabled:
        n = len(dataset)  # type: ignore[arg-type]
        shard = Subset(dataset, range(env.rank, n, env.world_size))
    return _loader(shard, batch_size, workers, pin, seed=0, shuffle=False)


def spread_images(dataset: Dataset[Any], count: int) -> tuple[torch.Tensor, list[int]]:
    """`count` (image, label) pairs spread evenly over a dataset, as a batch (for the predictions grid)."""
    n = len(dataset)  # type: ignore[arg-type]
    picks = sorted({int(i) for i in np.linspace(0, n - 1, num=min(count, n))}) if n else []
    items = [dataset[i] for i in picks]
    if not items:
        return torch.empty(0), []
    return torch.stack([x for x, _ in items]), [int(y) for _, y in items]
