"""The CUDA paths of the loop: bf16/fp16 autocast (GradScaler), channels_last, torch.compile, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seefood.checkpoint import load_train_state
from seefood.io import read_json
from seefood.train import train
from seefood.train.config import resume_config
from tests.train.conftest import fast_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_channels_last_run(tmp_path: Path, tiny_data: Path, amp: str) -> None:
    out = tmp_path / amp
    result = train(fast_config(tiny_data, out, device="cuda", amp=amp, channels_last=True, epochs=2),
                   show_progress=False)
    assert result.device.startswith("cuda") and result.epochs_run == 2
    assert read_json(out / "config.json")["amp"] == amp
    _, plain = load_train_state(out / "last")
    if amp == "fp16":
        assert plain["scaler"]["scale"] > 0  # the GradScaler ran and its state is saved for resuming
    assert result.test_top1 is not None and 0.0 <= result.test_top1 <= 1.0


def test_auto_resolves_to_cuda_and_resume_continues(tmp_path: Path, tiny_data: Path) -> None:
    out = tmp_path / "run"
    train(fast_config(tiny_data, out, device="auto", amp="auto", epochs=1), show_progress=False)
    saved = read_json(out / "config.json")
    assert saved["device"] == "cuda" and saved["amp"] in ("bf16", "fp16")
    result = train(resume_config(out, epochs=2), show_progress=False)
    assert result.epochs_run == 2


@pytest.mark.slow
def test_compiled_model_trains_and_saves_plain_weights(tmp_path: Path, tiny_data: Path) -> None:
    out = tmp_path / "compiled"
    result = train(fast_config(tiny_data, out, device="cuda", amp="bf16", compile=True, epochs=1),
                   show_progress=False)
    from safetensors.torch import load_file

    keys = load_file(str(result.best / "model.safetensors")).keys()
    assert keys and not any(k.startswith(("_orig_mod.", "module.")) for k in keys)
