"""Multi-process training under torchrun: environment detection, process group, reductions."""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seefood.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the job (a single process is rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints, TensorBoard events and reports."""
        return self.rank == 0


def detect(environ: dict[str, str] | None = None) -> DistEnv:
    """Read RANK / WORLD_SIZE / LOCAL_RANK as torchrun sets them (absent: one process)."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise ConfigError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc}); launch with torchrun") from exc
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"invalid torchrun environment RANK={rank} WORLD_SIZE={world}; launch with torchrun")
    return DistEnv(rank=rank, world_size=world, local_rank=local)


@contextlib.contextmanager
def process_group(env: DistEnv, device: str) -> Iterator[torch.device]:
    """Join the process group (nccl on CUDA, gloo on CPU) and yield this process's device."""
    if device == "cuda":
        torch.cuda.set_device(env.local_rank)
        dev = torch.device("cuda", env.local_rank)
    else:
        dev = torch.device("cpu")
    owns = env.enabled and not dist.is_initialized()
    if owns:
        backend = "nccl" if device == "cuda" else "gloo"
        dist.init_process_group(backend, rank=env.rank, world_size=env.world_size, timeout=_dt.timedelta(minutes=30))
        log.info("joined %s process group as rank %d of %d", backend, env.rank, env.world_size)
    try:
        yield dev
    finally:
        if owns and dist.is_initialized():
            dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    """Wait for every process (a no-op for one process)."""
    if env.enabled:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum a tensor over processes in place and return it."""
    if env.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_buffers(module: torch.nn.Module, env: DistEnv) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every process.

    DDP broadcasts them before each forward, so after the last step of an epoch each process
    still holds its own update; this makes validation and checkpoints agree across processes.
    """
    if env.enabled:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)
