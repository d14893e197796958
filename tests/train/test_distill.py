"""Knowledge distillation: the loss, the teacher's checks, and a real run that learns from a teacher."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from seefood.checkpoint import load_checkpoint, read_meta
from seefood.errors import ConfigError
from seefood.train import TrainEvent, TrainResult, train
from seefood.train.distill import distillation_loss, load_teacher
from tests.train.conftest import fast_config


def test_loss_is_zero_kl_when_the_student_matches_the_teacher() -> None:
    logits = torch.randn(6, 5)
    labels = torch.randint(0, 5, (6,))
    ce = nn.CrossEntropyLoss()
    soft_only = distillation_loss(logits, logits.clone(), labels, ce, alpha=1.0, temperature=2.0)
    assert soft_only.item() == pytest.approx(0.0, abs=1e-6)
    mixed = distillation_loss(logits, logits.clone(), labels, ce, alpha=0.25, temperature=3.0)
    assert mixed.item() == pytest.approx(0.75 * ce(logits, labels).item(), rel=1e-5)


def test_soft_term_is_t_squared_times_the_kl_of_softened_distributions() -> None:
    student = torch.tensor([[2.0, 0.0, -1.0]])
    teacher = torch.tensor([[0.0, 1.0, 3.0]])
    t = 2.0
    p = torch.softmax(teacher / t, 1)[0]
    q = torch.softmax(student / t, 1)[0]
    kl = sum(float(p[i] * math.log(p[i] / q[i])) for i in range(3))
    got = distillation_loss(student, teacher, torch.tensor([0]), nn.CrossEntropyLoss(), alpha=1.0, temperature=t)
    assert got.item() == pytest.approx(t * t * kl, rel=1e-5)


def test_bad_distillation_settings_are_refused(tmp_path: Path, tiny_data: Path) -> None:
    with pytest.raises(ConfigError, match="--distill-alpha"):
        fast_config(tiny_data, tmp_path / "r", distill_alpha=0.0)
    with pytest.raises(ConfigError, match="--distill-temperature"):
        fast_config(tiny_data, tmp_path / "r", distill_temperature=-1.0)


def test_a_student_learns_from_a_teacher_and_records_it(trained: tuple[TrainResult, list[TrainEvent]],
                                                       tiny_data: Path, tmp_path: Path) -> None:
    teacher = trained[0].best
    config = fast_config(tiny_data, tmp_path / "student", epochs=3, augment="none", teacher=str(teacher),
                         distill_alpha=0.9)
    result = train(config, show_progress=False)
    assert read_meta(result.best).config["teacher"] == str(teacher)
    # the teacher is frozen: its weights are exactly what it was saved with
    before = load_checkpoint(teacher).model.state_dict()
    again = load_checkpoint(teacher).model.state_dict()
    assert all(torch.equal(before[k], again[k]) for k in before)
    assert result.best_val_top1 > 1 / 4  # learns above chance on the 4-class data from mostly soft targets


def test_a_teacher_of_other_classes_or_normalisation_is_refused(trained: tuple[TrainResult, list[TrainEvent]]) -> None:
    teacher = trained[0].best
    meta = read_meta(teacher)
    with pytest.raises(ConfigError, match="same data"):
        load_teacher(teacher, [*meta.class_names[1:], meta.class_names[0]], meta.preprocessing, torch.device("cpu"),
                     False)
    other = meta.preprocessing.__class__(**{**meta.preprocessing.to_dict(), "mean": (0.5, 0.5, 0.5)})
    with pytest.raises(ConfigError, match="wrongly normalised"):
        load_teacher(teacher, list(meta.class_names), other, torch.device("cpu"), False)
