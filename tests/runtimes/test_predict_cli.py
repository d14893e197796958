"""`seefood predict ARTIFACT IMAGE...` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from seefood.cli.main import app

runner = CliRunner()


def _photo(path: Path, channel: int) -> Path:
    arr = np.zeros((24, 32, 3), np.uint8)
    arr[..., channel] = 240
    Image.fromarray(arr).save(path)
    return path


def test_prints_the_top_labels_of_each_photo(onnx_artifact: Path, tmp_path: Path) -> None:
    red, blue = _photo(tmp_path / "red.png", 0), _photo(tmp_path / "blue.jpg", 2)
    result = runner.invoke(app, ["predict", str(onnx_artifact), str(red), str(blue), "--top", "2",
                                 "--threads", "1"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    firsts = [row for row in lines if row and row[0] in ("red.png", "blue.jpg")]
    assert [(row[0], row[2]) for row in firsts] == [("red.png", "red"), ("blue.jpg", "blue")]
    assert sum(1 for row in lines if len(row) >= 3 and row[-3] == "2") == 2  # two labels per photo


def test_a_file_that_is_not_an_image_is_a_clear_error(onnx_artifact: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    result = runner.invoke(app, ["predict", str(onnx_artifact), str(bad)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())  # rich wraps long lines
    assert "cannot read" in text and "Traceback" not in text
    missing = runner.invoke(app, ["predict", str(onnx_artifact), str(tmp_path / "gone.png")])
    assert missing.exit_code == 1 and "is not a file" in " ".join(missing.output.split())
    zero = runner.invoke(app, ["predict", str(onnx_artifact), str(bad), "--top", "0"])
    assert zero.exit_code == 2 and "--top" in zero.output
