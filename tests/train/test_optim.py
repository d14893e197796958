"""Warm-up + cosine learning-rate schedule and the weight-decay split."""

from __future__ import annotations

import itertools

import pytest
from torch import nn

from seefood.train.optim import make_optimizer, make_scheduler, warmup_cosine_factor


def test_warmup_rises_linearly_then_cosine_decays_to_zero() -> None:
    total, warmup = 100, 10
    factors = [warmup_cosine_factor(s, total, warmup) for s in range(total)]
    assert factors[0] == pytest.approx(1 / warmup) and factors[warmup - 1] == pytest.approx(1.0)
    assert all(a < b for a, b in itertools.pairwise(factors[:warmup]))
    assert all(a >= b for a, b in itertools.pairwise(factors[warmup:]))
    assert factors[warmup + (total - warmup) // 2] == pytest.approx(0.5)
    assert warmup_cosine_factor(total, total, warmup) == pytest.approx(0.0)
    assert warmup_cosine_factor(0, 10, 0) == pytest.approx(1.0)  # no warm-up


def test_scheduler_steps_per_batch() -> None:
    optimizer = make_optimizer(nn.Linear(3, 2), lr=0.1, weight_decay=0.0)
    scheduler = make_scheduler(optimizer, steps_per_epoch=4, epochs=2, warmup_epochs=0.5)
    lrs = []
    for _ in range(8):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.05) and lrs[1] == pytest.approx(0.1) and lrs[-1] < 0.02


def test_no_weight_decay_on_biases_and_norms_and_frozen_parameters_left_out() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))  # never run, only inspected
    model[0].weight.requires_grad = False
    groups = make_optimizer(model, lr=1e-3, weight_decay=0.05).param_groups
    decayed = [p for g in groups if g["weight_decay"] > 0 for p in g["params"]]
    plain = [p for g in groups if g["weight_decay"] == 0 for p in g["params"]]
    assert all(p.ndim >= 2 for p in decayed) and all(p.ndim == 1 for p in plain)
    assert not any(p is model[0].weight for g in groups for p in g["params"])


def test_backbone_trains_at_a_fraction_of_the_heads_rate() -> None:
    model = nn.Sequential()
    model.add_module("features", nn.Conv2d(3, 4, 3))
    model.add_module("classifier", nn.Linear(4, 2))
    optimizer = make_optimizer(model, lr=1e-2, weight_decay=0.05, head_prefixes=("classifier.",),
                               backbone_lr_scale=0.1)
    rates = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert rates[id(model.classifier.weight)] == rates[id(model.classifier.bias)] == pytest.approx(1e-2)
    assert rates[id(model.features.weight)] == rates[id(model.features.bias)] == pytest.approx(1e-3)
    plain = make_optimizer(model, lr=1e-2, weight_decay=0.05, head_prefixes=("classifier.",))
    assert len(plain.param_groups) == 2  # no split without a scale: checkpoints of older runs still resume


def test_head_phase_and_full_phase_each_warm_up_and_decay() -> None:
    from seefood.train.optim import phased_factor

    factors = [phased_factor(s, steps_per_epoch=4, epochs=5, warmup_epochs=0.5, head_epochs=2) for s in range(20)]
    assert factors[0] == pytest.approx(0.5) and factors[1] == pytest.approx(1.0)  # head warm-up: 2 steps
    assert factors[7] < 0.1  # the head phase decays to ~0 by its end (step 8)
    assert factors[8] == pytest.approx(0.5) and factors[9] == pytest.approx(1.0)  # the full phase warms up again
    assert all(a >= b for a, b in itertools.pairwise(factors[9:]))
    assert [phased_factor(s, 4, 5, 0.5, 0) for s in range(20)] == [warmup_cosine_factor(s, 20, 2) for s in range(20)]
