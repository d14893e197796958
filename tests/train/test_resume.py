"""Ctrl-C saves a resumable `last`; --resume continues to the same weights as an uninterrupted run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from seefood.errors import CheckpointError, ConfigError
from seefood.io import read_json
from seefood.train import TrainEvent, train
from seefood.train.config import TrainConfig, resume_config
from tests.train.conftest import fast_config

EPOCHS = 4


class InterruptAt:
    """Raise KeyboardInterrupt (what Ctrl-C raises) at a given step of a given epoch."""

    def __init__(self, epoch: int, step_in_epoch: int) -> None:
        self.epoch, self.step_in_epoch, self.seen = epoch, step_in_epoch, 0

    def __call__(self, event: TrainEvent) -> None:
        if event.kind == "step" and event.epoch == self.epoch:
            self.seen += 1
            if self.seen == self.step_in_epoch:
                raise KeyboardInterrupt


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "last" / "model.safetensors"))


def _config(data: Path, out: Path) -> TrainConfig:
    # augmentation on, so the restored RNG state matters; warm-up spans the interruption
    return fast_config(data, out, epochs=EPOCHS, augment="trivial", warmup_epochs=2.5)


@pytest.mark.slow
def test_resume_after_ctrl_c_matches_an_uninterrupted_run(
    tmp_path: Path, tiny_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    straight = train(_config(tiny_data, tmp_path / "straight"), show_progress=False)

    run = tmp_path / "interrupted"
    with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
        train(_config(tiny_data, run), callbacks=[InterruptAt(epoch=3, step_in_epoch=2)], show_progress=False)
    assert "interrupted in epoch 3" in caplog.text and "holds epoch 2" in caplog.text
    assert read_json(run / "last" / "train_state.json")["progress"]["epoch"] == 2
    assert not (run / "result.json").exists()

    resumed = train(resume_config(run), show_progress=False)
    assert resumed.epochs_run == EPOCHS
    expected, got = _weights(tmp_path / "straight"), _weights(run)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-6, msg=name)
    assert resumed.best_val_top1 == straight.best_val_top1 and resumed.best_epoch == straight.best_epoch
    assert resumed.test_top1 == straight.test_top1
    state_a = read_json(tmp_path / "straight" / "last" / "train_state.json")
    state_b = read_json(run / "last" / "train_state.json")
    assert state_a["progress"] == state_b["progress"] and state_a["scheduler"] == state_b["scheduler"]


def test_ctrl_c_in_the_first_epoch_leaves_a_resumable_last(tmp_path: Path, tiny_data: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(fast_config(tiny_data, run, epochs=1), callbacks=[InterruptAt(1, 1)], show_progress=False)
    assert read_json(run / "last" / "train_state.json")["progress"]["epoch"] == 0
    result = train(resume_config(run), show_progress=False)
    assert result.epochs_run == 1 and (run / "best" / "meta.json").is_file()


def test_resume_config_takes_the_saved_settings_and_warns_on_risky_changes(
    tmp_path: Path, tiny_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    train(fast_config(tiny_data, run, epochs=1), show_progress=False)
    config = resume_config(run / "last", epochs=2, workers=0)
    assert config.resume == str(run) and config.out == str(run) and config.epochs == 2 and config.lr == 3e-3
    assert "resuming with changed" not in caplog.text
    with caplog.at_level(logging.WARNING):
        resume_config(run, lr=0.1)
    assert "resuming with changed lr" in caplog.text
    result = train(config, show_progress=False)  # extending a finished run continues from its last epoch
    assert result.epochs_run == 2


def test_resume_refuses_what_it_cannot_continue(tmp_path: Path, tiny_data: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        resume_config(empty)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(fast_config(tiny_data, empty, resume=str(empty)), show_progress=False)
    with pytest.raises(ConfigError, match="differs from --resume"):
        train(fast_config(tiny_data, tmp_path / "elsewhere", resume=str(empty)), show_progress=False)
    with pytest.raises(ConfigError, match="only one of them"):
        train(fast_config(tiny_data, empty, resume=str(empty), force=True), show_progress=False)
