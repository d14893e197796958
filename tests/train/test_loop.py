"""The training loop end to end on generated data: learning, outputs, checkpoints, TensorBoard, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from seefood.checkpoint import load_checkpoint, load_train_state, read_meta
from seefood.errors import ConfigError, DataError, ModelError, OutputExistsError
from seefood.io import read_json
from seefood.train import TrainEvent, TrainResult, train
from tests.train.conftest import TINY_CLASSES, fast_config
from tests.train.conftest import TRAINED_EPOCHS as EPOCHS


def test_training_learns_the_generated_data(trained: tuple[TrainResult, list[TrainEvent]]) -> None:
    result, events = trained
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.epoch for e in epochs] == list(range(1, EPOCHS + 1))
    assert epochs[-1].metrics["train_loss"] < epochs[0].metrics["train_loss"]
    assert epochs[-1].metrics["train_top1"] > epochs[0].metrics["train_top1"]
    chance = 1 / len(TINY_CLASSES)
    assert result.best_val_top1 >= chance + 0.25
    assert result.test_top1 is not None and result.test_top1 >= chance + 0.15
    assert result.epochs_run == EPOCHS and not result.stopped_early
    assert result.best_val_top1 == max(e.metrics["val_top1"] for e in epochs)
    assert epochs[result.best_epoch - 1].metrics["val_top1"] == result.best_val_top1
    assert result.images_per_sec > 0 and result.num_classes == len(TINY_CLASSES)


def test_callbacks_see_every_step_and_the_end(trained: tuple[TrainResult, list[TrainEvent]]) -> None:
    result, events = trained
    steps = [e for e in events if e.kind == "step"]
    per_epoch = len(steps) // EPOCHS
    assert len(steps) == per_epoch * EPOCHS and per_epoch >= 2
    assert [e.global_step for e in steps] == list(range(1, len(steps) + 1))
    logged = [e for e in steps if e.metrics]
    assert logged and all(set(e.metrics) == {"loss", "accuracy", "lr", "images_per_sec"} for e in logged)
    assert events[-1].kind == "end" and events[-1].metrics["test_top1"] == result.test_top1


def test_run_folder_holds_resolved_config_and_result(trained: tuple[TrainResult, list[TrainEvent]]) -> None:
    result, _ = trained
    config = read_json(result.out / "config.json")
    assert config["device"] == "cpu" and config["amp"] == "off" and config["image_size"] == 32
    assert config["model"] == "tiny" and config["epochs"] == EPOCHS
    saved = TrainResult.from_dict(read_json(result.out / "result.json"))
    assert saved == result


def test_checkpoints_carry_metadata_and_load_back(trained: tuple[TrainResult, list[TrainEvent]]) -> None:
    result, _ = trained
    meta = read_meta(result.best)
    assert meta.architecture == "tiny" and meta.class_names == TINY_CLASSES and meta.format == "pytorch"
    assert meta.preprocessing.crop == 32 and meta.preprocessing.resize == 36  # tiny's 72/64 ratio kept
    assert meta.metrics["val_top1"] == result.best_val_top1 and meta.metrics["epoch"] == result.best_epoch
    assert meta.metrics["test_top1"] == result.test_top1 and meta.metrics["test_top5"] == result.test_top5
    assert meta.data_fingerprint and len(meta.data_fingerprint) == 64
    assert meta.versions["torch"] == torch.__version__.split("+")[0] or meta.versions["torch"].startswith(
        torch.__version__.split("+")[0])
    assert meta.config["model"] == "tiny"
    checkpoint = load_checkpoint(result.best)
    assert not checkpoint.model.training
    logits = checkpoint.model(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, len(TINY_CLASSES))
    assert not (result.best / "train_state.json").exists()
    tensors, plain = load_train_state(result.last)
    assert plain["progress"]["epoch"] == EPOCHS and plain["progress"]["global_step"] > 0
    assert "rng.torch" in tensors and tensors["rng.torch"].dtype == torch.uint8
    assert any(k.startswith("optimizer.state.") and k.endswith(".exp_avg") for k in tensors)
    assert read_meta(result.last).metrics["epoch"] == EPOCHS


def test_test_report_matches_the_result(trained: tuple[TrainResult, list[TrainEvent]]) -> None:
    result, _ = trained
    report = read_json(result.out / "test" / "eval.json")
    assert report["top1"] == result.test_top1 and report["split"] == "test"
    confusion = np.asarray(report["confusion"])
    assert confusion.shape == (4, 4) and confusion.sum() == report["count"] == 4 * 5
    assert np.trace(confusion) / confusion.sum() == pytest.approx(result.test_top1)
    assert (result.out / "test" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tensorboard_scalars_images_and_hparams(trained: tuple[TrainResult, list[TrainEvent]]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result, events = trained
    acc = EventAccumulator(str(result.out / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    for name in ("loss", "accuracy", "lr", "images_per_sec"):
        assert f"step/{name}" in tags["scalars"]
    val = acc.Scalars("epoch/val_accuracy")
    epoch_events = [e for e in events if e.kind == "epoch"]
    assert [s.step for s in val] == list(range(1, EPOCHS + 1))
    assert [s.value for s in val] == pytest.approx([e.metrics["val_top1"] for e in epoch_events])
    lrs = [s.value for s in acc.Scalars("step/lr")]
    assert max(lrs) <= 3e-3 + 1e-9 and lrs[-1] < max(lrs)  # warm-up then cosine decay
    assert {"val/confusion_matrix", "val/predictions"} <= set(tags["images"])
    assert len(acc.Images("val/confusion_matrix")) == EPOCHS
    hparams = EventAccumulator(str(result.out / "tb" / "hparams"))
    hparams.Reload()
    assert hparams.Scalars("hparam/best_val_top1")[0].value == pytest.approx(result.best_val_top1)


def test_refuses_a_non_empty_out_without_resume_or_force(tmp_path: Path, tiny_data: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--resume .* --force"):
        train(fast_config(tiny_data, out), show_progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_force_replaces_only_run_files(tmp_path: Path, tiny_data: Path) -> None:
    out = tmp_path / "run"
    (out / "best").mkdir(parents=True)
    (out / "best" / "stale.bin").write_bytes(b"old")
    (out / "notes.txt").write_text("mine")
    result = train(fast_config(tiny_data, out, epochs=1, force=True), show_progress=False)
    assert (out / "notes.txt").read_text() == "mine" and not (out / "best" / "stale.bin").exists()
    assert result.epochs_run == 1 and (out / "last" / "train_state.json").is_file()


def test_early_stopping_counts_epochs_without_improvement(
    tmp_path: Path, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seefood.train import loop
    from seefood.train.metrics import EvalMetrics

    flat = EvalMetrics(loss=1.0, top1=0.5, top5=1.0, confusion=np.eye(4, dtype=np.int64), count=4)
    monkeypatch.setattr(loop, "evaluate_model", lambda *args, **kwargs: flat)
    result = train(fast_config(tiny_data, tmp_path / "run", epochs=6, patience=2), show_progress=False)
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1
    assert json.loads((tmp_path / "run" / "last" / "train_state.json").read_text())["progress"]["bad_epochs"] == 2


def test_bad_settings_fail_before_any_work(tmp_path: Path, tiny_data: Path) -> None:
    with pytest.raises(ModelError, match="unknown model 'resnet'.*tiny"):
        train(fast_config(tiny_data, tmp_path / "a", model="resnet"), show_progress=False)
    with pytest.raises(ModelError, match="tiny has no pretrained weights.*--weights none"):
        train(fast_config(tiny_data, tmp_path / "b", weights="imagenet"), show_progress=False)
    with pytest.raises(DataError, match="no dataset named"):
        train(fast_config(tmp_path / "missing", tmp_path / "c"), show_progress=False)
    with pytest.raises(ConfigError, match="fp16 needs CUDA"):
        train(fast_config(tiny_data, tmp_path / "d", amp="fp16"), show_progress=False)


def test_weights_path_starts_from_a_previous_run(trained: tuple[TrainResult, list[TrainEvent]], tmp_path: Path,
                                                 tiny_data: Path) -> None:
    result, _ = trained
    events: list[TrainEvent] = []
    config = fast_config(tiny_data, tmp_path / "ft", epochs=1, weights=str(result.best), freeze="backbone")
    before = load_file(str(result.best / "model.safetensors"))
    train(config, callbacks=[events.append], show_progress=False)
    after = load_file(str(tmp_path / "ft" / "last" / "model.safetensors"))
    frozen = [k for k in before if k.startswith("features.") and "running" not in k and "num_batches" not in k]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])


def test_head_epochs_keep_the_backbone_and_its_batchnorm_statistics_fixed(tiny_data: Path, tmp_path: Path) -> None:
    """The small-data recipe: epoch 1 trains only the head, epoch 2 everything (backbone at a tenth of --lr)."""
    states: dict[tuple[str, int], dict[str, torch.Tensor]] = {}

    def keep(event: TrainEvent) -> None:
        if event.kind in ("step", "epoch"):
            states[(event.kind, event.epoch if event.kind == "epoch" else event.global_step)] = {
                k: v.detach().clone() for k, v in event.model.state_dict().items()}

    config = fast_config(tiny_data, tmp_path / "r", epochs=2, head_epochs=1, backbone_lr_scale=0.1)
    train(config, callbacks=[keep], show_progress=False)
    first_step, after_head, after_all = states[("step", 1)], states[("epoch", 1)], states[("epoch", 2)]
    backbone = [k for k in first_step if not k.startswith("classifier.") and "num_batches" not in k]
    assert any("running_mean" in k for k in backbone)
    assert all(torch.equal(first_step[k], after_head[k]) for k in backbone)  # weights and BN statistics
    assert not torch.equal(first_step["classifier.weight"], after_head["classifier.weight"])
    assert not all(torch.equal(after_head[k], after_all[k]) for k in backbone)  # epoch 2 trains the backbone
    with pytest.raises(ConfigError, match="--head-epochs must be >= 0 and below --epochs"):
        config.evolve(head_epochs=2)
