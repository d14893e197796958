"""TrainConfig validation, round trip and resolution of the `auto` values."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from seefood.errors import BackendMissingError, ConfigError
from seefood.models import get_spec
from seefood.train.config import EvalOptions, TrainConfig, resolve, resolve_amp


def test_defaults_are_valid_and_frozen() -> None:
    config = TrainConfig()
    assert config.weights == "auto" and config.amp == "auto" and config.device == "auto"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("changes", "message"), [
    ({"epochs": 0}, "--epochs must be >= 1"),
    ({"lr": 0.0}, "--lr must be > 0"),
    ({"amp": "fp8"}, "--amp must be one of auto, bf16, fp16, off"),
    ({"device": "tpu"}, "--device must be one of auto, cpu, cuda"),
    ({"freeze": "head"}, "--freeze must be 'backbone'"),
    ({"subset": 1.5}, "--subset must be a fraction"),
    ({"label_smoothing": 1.0}, "--label-smoothing"),
    ({"grad_clip": 0.0}, "--grad-clip must be > 0"),
    ({"patience": 0}, "--patience must be >= 1"),
])
def test_invalid_settings_name_the_option(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)  # type: ignore[arg-type]


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError, match="--epochs.*--batch-size"):
        TrainConfig(epochs=0, batch_size=0)


def test_dict_round_trip_and_unknown_keys() -> None:
    config = TrainConfig(model="tiny", classes=("pizza", "sushi"), grad_clip=None)
    d = config.to_dict()
    assert d["classes"] == ["pizza", "sushi"]
    assert TrainConfig.from_dict(d) == config
    with pytest.raises(ConfigError, match=r"unknown training settings \['learning_rate'\]"):
        TrainConfig.from_dict({**d, "learning_rate": 1})


def test_resolve_fills_image_size_device_amp_and_weights() -> None:
    effnet, tiny = get_spec("effnet_b2"), get_spec("tiny")
    config = resolve(TrainConfig(device="cpu"), effnet)
    assert (config.device, config.amp, config.image_size, config.weights) == ("cpu", "off", 288, "imagenet")
    config = resolve(TrainConfig(model="tiny", device="cpu", image_size=32, amp="bf16"), tiny)
    assert (config.image_size, config.amp, config.weights) == (32, "bf16", "none")
    assert resolve(TrainConfig(model="tiny", weights="imagenet", device="cpu"), tiny).weights == "imagenet"
    assert resolve_amp("bf16", "cpu") == "bf16"
    with pytest.raises(ConfigError, match="fp16 needs CUDA"):
        resolve_amp("fp16", "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_says_what_to_do() -> None:
    with pytest.raises(BackendMissingError, match="CUDA is not available.*--device cpu"):
        resolve(TrainConfig(device="cuda"), get_spec("tiny"))


def test_eval_options_check_the_split() -> None:
    with pytest.raises(ConfigError, match="--split must be one of train, val, test"):
        EvalOptions(split="holdout")
