"""ExportConfig validation: every problem in one ConfigError, each saying what to pass instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from seefood.errors import ConfigError
from seefood.export.config import ExportConfig


def test_defaults_are_the_documented_ones(checkpoint: Path, tmp_path: Path) -> None:
    config = ExportConfig(checkpoint, tmp_path / "out")
    assert (config.batch, config.device, config.calib_size, config.max_drop) == ("dynamic", "cpu", 300, 1.0)
    assert config.dynamic_batch and config.resolved_threads >= 1 and config.opset >= 18
    assert config.to_dict()["checkpoint"] == str(checkpoint)


def test_all_problems_are_reported_at_once(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        ExportConfig(checkpoint, tmp_path / "out", formats=("onnx", "tflite"), batch="8", opset=17,
                     min_agreement=99.0, threads=0)
    message = str(info.value)
    for part in ("tflite", "--batch", "--opset", "min_agreement", "--threads"):
        assert part in message
