"""Fixtures for the training tests: a very small generated dataset and a fast TrainConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seefood.data import make_sample_dataset
from seefood.train import TrainEvent, TrainResult, train
from seefood.train.config import TrainConfig

TINY_CLASSES = ("donut", "pizza", "salad", "sushi")
TRAINED_EPOCHS = 6


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 classes x (20 train + 5 test) JPEGs of 32 px: a few dozen images, seconds to train on."""
    out = tmp_path_factory.mktemp("seefood-train-data") / "tiny"
    return make_sample_dataset(out, per_class_train=20, per_class_test=5, size=32, seed=0, classes=TINY_CLASSES)


def fast_config(data: Path, out: Path, **changes: Any) -> TrainConfig:
    """The tiny model on `data` at 32 px, one CPU thread, no workers: deterministic and quick."""
    base = TrainConfig(
        model="tiny", weights="none", data=str(data), image_size=32, epochs=2, batch_size=8, lr=3e-3,
        val_fraction=0.2, workers=0, threads=1, device="cpu", patience=None, log_every=2, out=str(out),
    )
    return base.evolve(**changes)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> tuple[TrainResult, list[TrainEvent]]:
    """One real 6-epoch run (and every event it emitted), shared by the tests that only read its outputs."""
    events: list[TrainEvent] = []
    out = tmp_path_factory.mktemp("trained") / "run"
    config = fast_config(tiny_data, out, epochs=TRAINED_EPOCHS, augment="none")
    return train(config, callbacks=[events.append], show_progress=False), events
