"""`seefood train` / `seefood evaluate` through typer's runner: smoke, resume, refusals, clean errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seefood.cli import evaluate as evaluate_cli
from seefood.cli import train as train_cli
from seefood.train.config import TrainConfig

runner = CliRunner()
FAST = ["--model", "tiny", "--weights", "none", "--image-size", "32", "--batch-size", "16", "--workers", "0",
        "--threads", "1", "--device", "cpu", "--val-fraction", "0.2"]


def _text(result: object) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())  # type: ignore[attr-defined]


def _app() -> typer.Typer:
    app = typer.Typer()
    train_cli.register(app)
    evaluate_cli.register(app)
    return app


def test_options_map_one_to_one_onto_train_config() -> None:
    from seefood.cli.main import app

    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    options = {name for param in command.params for name in param.opts}
    for field in dataclasses.fields(TrainConfig):
        assert f"--{field.name.replace('_', '-')}" in options, field.name
    assert "evaluate" in typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.slow
def test_train_refuse_resume_and_evaluate(tmp_path: Path, sample_data: Path) -> None:
    out = tmp_path / "run"
    args = ["train", *FAST, "--data", str(sample_data), "--epochs", "1", "--out", str(out)]
    first = runner.invoke(_app(), args)
    assert first.exit_code == 0, first.output
    assert "best val top-1" in _text(first) and "test top-1" in _text(first)
    assert json.loads((out / "result.json").read_text())["epochs_run"] == 1

    again = runner.invoke(_app(), args)
    assert again.exit_code == 1 and "--resume" in _text(again) and "Traceback" not in again.output

    resumed = runner.invoke(_app(), ["train", "--resume", str(out), "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "result.json").read_text())["epochs_run"] == 2
    assert json.loads((out / "config.json").read_text())["epochs"] == 2

    report = tmp_path / "eval"
    evaluated = runner.invoke(_app(), ["evaluate", str(out / "best"), "--data", str(sample_data), "--out",
                                       str(report), "--workers", "0", "--device", "cpu"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "top-1" in _text(evaluated) and (report / "confusion.png").is_file()
    assert json.loads((report / "eval.json").read_text())["count"] == 4 * 8

    flat = tmp_path / "my_photos"  # a user's <class>/<photo> folder: evaluated whole, printed, nothing written
    shutil.copytree(sample_data / "test", flat)
    printed = runner.invoke(_app(), ["evaluate", str(out / "best"), "--data", str(flat), "--workers", "0",
                                     "--device", "cpu"])
    assert printed.exit_code == 0, printed.output
    assert "all: 32 images" in _text(printed) and "top-1" in _text(printed) and "least accurate" in _text(printed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval", "my_photos", "run"]


@pytest.mark.parametrize(("extra", "code", "message"), [
    (["--amp", "fp8"], 2, "--amp must be one of"),
    (["--model", "resnet"], 2, "unknown model 'resnet': use one of"),  # checked before the data is scanned
    (["--weights", "imagenet"], 2, "tiny has no pretrained weights"),
    (["--weights", "/no/such/file.pth"], 2, "--weights /no/such/file.pth does not exist"),
])
def test_bad_options_are_one_line_errors(tmp_path: Path, sample_data: Path, extra: list[str], code: int,
                                         message: str) -> None:
    args = ["train", *FAST, "--data", str(sample_data), "--out", str(tmp_path / "run"), *extra]
    result = runner.invoke(_app(), args)
    assert result.exit_code == code, result.output
    assert message in _text(result) and "Traceback" not in result.output


def test_imagenet_download_failure_reaches_the_user_cleanly(tmp_path: Path, sample_data: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision.models._api import WeightsEnum

    def offline(self: object, *args: object, **kwargs: object) -> None:
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    args = ["train", *FAST, "--model", "effnet_b2", "--weights", "imagenet", "--data", str(sample_data),
            "--out", str(tmp_path / "run")]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 1, result.output
    assert "could not fetch EfficientNet_B2_Weights.IMAGENET1K_V1" in _text(result)
    assert "--weights none" in _text(result) and "Traceback" not in result.output


def test_evaluate_refuses_a_folder_that_is_not_a_checkpoint(tmp_path: Path, sample_data: Path) -> None:
    result = runner.invoke(_app(), ["evaluate", str(tmp_path), "--data", str(sample_data), "--out",
                                    str(tmp_path / "eval")])
    assert result.exit_code == 1 and "not a seefood checkpoint" in _text(result)
    missing = runner.invoke(_app(), ["evaluate", str(tmp_path / "gone"), "--data", str(sample_data)])
    assert missing.exit_code == 2 and "CHECKPOINT" in _text(missing)


def test_train_on_cuda_without_a_gpu_says_what_to_pass(tmp_path: Path, sample_data: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    args = ["train", *FAST, "--data", str(sample_data), "--out", str(tmp_path / "run")]
    result = runner.invoke(_app(), [*args, "--device", "cuda"])
    assert result.exit_code == 1 and "pass --device cpu" in _text(result) and "install it" not in _text(result)
