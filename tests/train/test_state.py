"""Training state survives a safetensors + JSON round trip without pickling: optimizer, scheduler, RNG."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from seefood.checkpoint import load_train_state, save_checkpoint
from seefood.errors import CheckpointError
from seefood.metadata import ModelMeta
from seefood.preprocessing import Preprocessing
from seefood.train.optim import make_optimizer, make_scheduler
from seefood.train.state import Progress, capture_rng, pack_train_state, restore_rng, unpack_train_state


def _setup(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    optimizer = make_optimizer(model, lr=1e-2, weight_decay=0.05)
    return model, optimizer, make_scheduler(optimizer, steps_per_epoch=5, epochs=3, warmup_epochs=1)


def _steps(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
           n: int) -> None:
    for _ in range(n):
        loss = model(torch.randn(6, 4)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def test_rng_capture_and_restore_replays_every_generator() -> None:
    tensors, plain = capture_rng()
    json.dumps(plain)  # plain values only
    first = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng(tensors, plain)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]


def test_train_state_round_trip_through_a_checkpoint_continues_identically(tmp_path: Path) -> None:
    model, optimizer, scheduler = _setup(0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    _steps(model, optimizer, scheduler, 4)
    progress = Progress(epoch=1, global_step=4, best_top1=0.5, best_epoch=1, bad_epochs=0)
    meta = ModelMeta("tiny", ("a", "b", "c"), Preprocessing(72, 64))
    save_checkpoint(tmp_path / "last", model, meta, pack_train_state(optimizer, scheduler, scaler, progress))
    _steps(model, optimizer, scheduler, 3)  # the uninterrupted continuation
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    model2, optimizer2, scheduler2 = _setup(1)  # different init: everything must come from the files
    from safetensors.torch import load_file
    model2.load_state_dict(load_file(str(tmp_path / "last" / "model.safetensors")))
    tensors, plain = load_train_state(tmp_path / "last")
    assert unpack_train_state(tensors, plain, optimizer2, scheduler2, scaler) == progress
    assert optimizer2.param_groups[0]["betas"] == (0.9, 0.999)  # tuples come back as tuples
    assert scheduler2.last_epoch == 4
    _steps(model2, optimizer2, scheduler2, 3)
    for name, value in model2.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_unknown_state_version_is_refused(tmp_path: Path) -> None:
    _, optimizer, scheduler = _setup(0)
    tensors, plain = pack_train_state(optimizer, scheduler, torch.amp.GradScaler("cpu", enabled=False),
                                      Progress(0, 0, -1.0, 0, 0))
    with pytest.raises(CheckpointError, match="version 99"):
        unpack_train_state(tensors, {**plain, "version": 99}, optimizer, scheduler,
                           torch.amp.GradScaler("cpu", enabled=False))


def test_state_of_another_model_is_a_checkpoint_error() -> None:
    model, optimizer, scheduler = _setup(0)
    _steps(model, optimizer, scheduler, 1)
    tensors, plain = pack_train_state(optimizer, scheduler, torch.amp.GradScaler("cpu", enabled=False),
                                      Progress(1, 1, 0.1, 1, 0))
    other = nn.Linear(4, 3)
    other_opt = torch.optim.AdamW(other.parameters())
    with pytest.raises(CheckpointError, match="does not fit"):
        unpack_train_state(tensors, plain, other_opt, make_scheduler(other_opt, 5, 3, 1),
                           torch.amp.GradScaler("cpu", enabled=False))
