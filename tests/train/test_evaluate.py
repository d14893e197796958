"""`evaluate`: a checkpoint on a data split -> eval.json + confusion.png, consistent with training's test."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from seefood.errors import CheckpointError, DataError, OutputExistsError
from seefood.io import read_json
from seefood.preprocessing import Preprocessing
from seefood.train import EvalOptions, TrainEvent, TrainResult, evaluate
from seefood.train.figures import confusion_figure, figure_to_png, predictions_grid
from tests.train.conftest import TINY_CLASSES


@pytest.fixture
def run(trained: tuple[TrainResult, list[TrainEvent]]) -> TrainResult:
    """The shared 6-epoch run; the tests evaluate its best checkpoint."""
    return trained[0]


def test_evaluate_writes_report_matching_the_training_test_split(run: TrainResult, tiny_data: Path,
                                                                 tmp_path: Path) -> None:
    result = evaluate(run.best, str(tiny_data), tmp_path / "eval", EvalOptions(workers=0, threads=1, device="cpu"))
    assert result.count == 4 * 5 and result.split == "test"
    assert result.top1 == pytest.approx(run.test_top1) and result.top5 == pytest.approx(run.test_top5)
    report = read_json(result.report)
    assert report["class_names"] == list(TINY_CLASSES) and report["architecture"] == "tiny"
    confusion = np.asarray(report["confusion"])
    assert confusion.sum() == result.count and np.trace(confusion) / result.count == pytest.approx(result.top1)
    for i, name in enumerate(TINY_CLASSES):
        assert report["per_class"][name] == pytest.approx(confusion[i, i] / confusion[i].sum())
    assert result.per_class == report["per_class"]
    assert result.confusion_png.read_bytes()[:4] == b"\x89PNG"


def test_evaluate_maps_classes_by_name_and_refuses_unknown_ones(run: TrainResult, tiny_data: Path,
                                                                tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    for split in ("train", "test"):  # only two of the four classes, as in a sample of a bigger dataset
        for name in ("pizza", "sushi"):
            shutil.copytree(tiny_data / split / name, partial / split / name)
    options = EvalOptions(workers=0, device="cpu")
    result = evaluate(run.best, str(partial), tmp_path / "eval", options)
    assert result.count == 10 and result.per_class["donut"] is None and result.per_class["pizza"] is not None
    shutil.copytree(tiny_data / "test" / "pizza", partial / "test" / "pasta")
    shutil.copytree(tiny_data / "train" / "pizza", partial / "train" / "pasta")
    with pytest.raises(DataError, match="not trained on.*pasta"):
        evaluate(run.best, str(partial), tmp_path / "eval2", options)


def test_evaluate_refuses_to_overwrite_and_non_checkpoints(run: TrainResult, tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    out.mkdir()
    with pytest.raises(OutputExistsError, match="--force"):
        evaluate(run.best, str(tiny_data), out)
    with pytest.raises(CheckpointError, match="not a seefood checkpoint"):
        evaluate(tmp_path, str(tiny_data), tmp_path / "other")
    result = evaluate(run.best, str(tiny_data), out, EvalOptions(split="val", workers=0, force=True, device="cpu"))
    assert result.split == "val" and result.count > 0 and (out / "eval.json").is_file()


def test_figures_render_for_few_and_many_classes() -> None:
    rng = np.random.default_rng(0)
    for n in (3, 40):  # 40 classes: no tick labels or cell counts
        png = figure_to_png(confusion_figure(rng.integers(0, 9, (n, n)), tuple(f"c{i}" for i in range(n)), "t"))
        assert png[:4] == b"\x89PNG"
    pre = Preprocessing(36, 32)
    grid = predictions_grid(rng.normal(size=(5, 3, 32, 32)).astype(np.float32), [0, 1, 2, 0, 1], [0, 2, 2, 0, 1],
                            ("a", "b", "c"), pre, cell=48)
    assert grid.dtype == np.uint8 and grid.shape[2] == 3 and grid.shape[1] == 4 * 48  # 4 across, 2 rows
    assert grid.shape[0] == 2 * (48 + 28)
