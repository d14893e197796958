"""`seefood predict ARTIFACT IMAGE...` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
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
    assert missing.exit_code == 2 and "is not a file" in " ".join(missing.output.split())  # a bad argument
    zero = runner.invoke(app, ["predict", str(onnx_artifact), str(bad), "--top", "0"])
    assert zero.exit_code == 2 and "--top" in zero.output


def test_folders_and_globs_are_expanded_and_json_gives_one_object_per_photo(onnx_artifact: Path,
                                                                           tmp_path: Path) -> None:
    import json

    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    red, green = _photo(folder / "red.png", 0), _photo(folder / "more" / "green.png", 1)
    (folder / "notes.txt").write_text("not a photo: left out of a folder")
    (folder / ".hidden.png").write_bytes(b"left out too")
    loose = tmp_path / "loose"
    loose.mkdir()
    blue = _photo(loose / "blue.jpg", 2)
    result = runner.invoke(app, ["predict", str(onnx_artifact), str(folder), str(loose / "*.jpg"), str(red),
                                 "--json", "--top-k", "2", "--threads", "1", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [Path(d["path"]) for d in lines] == [green, red, blue]  # folder sorted, then the glob; red only once
    assert [d["top"][0]["label"] for d in lines] == ["green", "red", "blue"]
    assert all(len(d["top"]) == 2 and d["ms"] >= 0 and 0 < d["top"][0]["probability"] <= 1 for d in lines)
    table = runner.invoke(app, ["predict", str(onnx_artifact), str(folder), "--top", "1", "--threads", "1"])
    assert table.exit_code == 0 and "more/green.png" in table.output and "red.png" in table.output
    nothing = runner.invoke(app, ["predict", str(onnx_artifact), str(tmp_path / "*.webp")])
    assert nothing.exit_code == 2 and "matches no" in " ".join(nothing.output.split())


def test_photos_outside_the_spaces_pixel_limits_are_refused_before_the_model_loads(
    onnx_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seefood.runtimes import classify
    from tests.space.helpers import png_header_only

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded for a refused photo")

    monkeypatch.setattr(classify, "load_runtime", no_model)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 6)).save(tiny)  # the Space refuses it: so does predict
    small = runner.invoke(app, ["predict", str(onnx_artifact), str(tiny)])
    assert small.exit_code == 1 and "at least 16 pixels" in " ".join(small.output.split())
    bomb = png_header_only(tmp_path / "bomb.png", 13_000, 13_000)  # 169 MP, 0 decoded bytes
    big = runner.invoke(app, ["predict", str(onnx_artifact), str(bomb)])
    assert big.exit_code == 1 and "the limit is 40 MP" in " ".join(big.output.split())


def test_photos_are_decoded_a_batch_at_a_time(onnx_artifact: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from seefood.runtimes import classify

    live: list[int] = []
    real_top_k = classify.top_k

    def counting_top_k(runtime: object, photos: list[Image.Image], k: int) -> object:
        live.append(len(photos))
        return real_top_k(runtime, photos, k)  # type: ignore[arg-type]

    monkeypatch.setattr(classify, "top_k", counting_top_k)
    paths = [_photo(tmp_path / f"{i}.png", i % 3) for i in range(5)]
    results = classify.classify_files(classify.PredictConfig(onnx_artifact, tuple(paths), top=1, threads=1,
                                                             batch_size=2))
    assert live == [2, 2, 1] and [r.path for r in results] == paths


def test_a_big_jpeg_is_decoded_at_the_size_the_model_needs(tmp_path: Path) -> None:
    from seefood.runtimes.classify import open_photo

    rng = np.random.default_rng(0)
    path = tmp_path / "big.jpg"
    Image.fromarray(rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)).save(path, quality=85)
    drafted = open_photo(path, draft=64)
    assert drafted.mode == "RGB" and min(drafted.size) >= 64 and drafted.size[0] * drafted.size[1] <= 250 * 188
    assert open_photo(path).size == (2000, 1500)  # without a target size: the full photo
