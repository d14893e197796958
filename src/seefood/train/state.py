"""Training state for --resume, split into tensors (safetensors) and plain values (JSON): nothing is pickled."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from seefood.errors import CheckpointError

STATE_VERSION = 1
_OPT = "optimizer.state"  # tensor-name prefix of flattened optimizer state
_CUDA_RNG = "rng.cuda"


@dataclass(frozen=True)
class Progress:
    """Where a run stands at an epoch boundary."""

    epoch: int  # epochs completed
    global_step: int  # optimizer steps taken
    best_top1: float  # best validation top-1 so far (-1 before the first validation)
    best_epoch: int  # epoch that reached best_top1 (0: none yet)
    bad_epochs: int  # epochs since best_top1 last improved (early-stopping counter)


def flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state_dict -> (named tensors, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}  # str(param index) -> non-tensor state
    for idx, per_param in state["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{_OPT}.{idx}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                plain.setdefault(str(idx), {})[key] = value
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state["param_groups"]]
    return tensors, {"param_groups": groups, "plain_state": plain}


def unflatten_optimizer(
    tensors: dict[str, torch.Tensor], plain: dict[str, Any], template: dict[str, Any]
) -> dict[str, Any]:
    """Inverse of flatten_optimizer; `template` (the fresh optimizer's state_dict) restores tuple types."""
    per_param: dict[int, dict[str, Any]] = {}
    prefix = f"{_OPT}."
    for name, value in tensors.items():
        if name.startswith(prefix):
            idx, key = name[len(prefix):].split(".", 1)
            per_param.setdefault(int(idx), {})[key] = value
    for idx, values in plain.get("plain_state", {}).items():
        per_param.setdefault(int(idx), {}).update(values)
    groups = []
    for saved, fresh in zip(plain["param_groups"], template["param_groups"], strict=True):
        groups.append({k: tuple(v) if isinstance(fresh.get(k), tuple) else v for k, v in saved.items()})
    return {"state": per_param, "param_groups": groups}


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """RNG states of torch (CPU, every CUDA device), numpy and python `random`."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"{_CUDA_RNG}.{i}"] = s
    np_state: Any = np.random.get_state()  # the legacy 5-tuple
    py_version, py_internal, py_gauss = random.getstate()
    plain = {
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_version, list(py_internal), py_gauss],
    }
    return tensors, plain


def restore_rng(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> None:
    """Inverse of capture_rng (CUDA states only when the same number of devices is visible)."""
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith(_CUDA_RNG)]
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    name, keys, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))


def pack_train_state(
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    progress: Progress,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything `last` needs beyond the weights to continue a run exactly."""
    tensors, plain_opt = flatten_optimizer(optimizer.state_dict())
    rng_tensors, rng_plain = capture_rng()
    tensors.update(rng_tensors)
    plain = {
        "version": STATE_VERSION,
        "progress": asdict(progress),
        "optimizer": plain_opt,
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng_plain,
    }
    return tensors, plain


def unpack_train_state(
    tensors: dict[str, torch.Tensor],
    plain: dict[str, Any],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
) -> Progress:
    """Load optimizer, scheduler, scaler and RNG states in place; return the saved progress."""
    if plain.get("version") != STATE_VERSION:
        raise CheckpointError(
            f"training state version {plain.get('version')!r} is not {STATE_VERSION}: resume it with the seefood "
            f"version that wrote it, or start a new run from its weights with --weights RUN/last"
        )
    try:
        optimizer.load_state_dict(unflatten_optimizer(tensors, plain["optimizer"], optimizer.state_dict()))
        scheduler.load_state_dict(plain["scheduler"])
        if plain["scaler"]:
            scaler.load_state_dict(plain["scaler"])
        restore_rng(tensors, plain["rng"])
        return Progress(**plain["progress"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"the training state does not fit this model/optimizer ({type(exc).__name__}: {exc}); "
            f"resume with the run's own settings (its config.json), or start a new run"
        ) from exc
