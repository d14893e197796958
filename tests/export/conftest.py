"""Fixtures of the export tests: a tiny random checkpoint whose dataset is the shared generated sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from seefood.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seefood.export.config import ExportConfig
from seefood.export.report import ArtifactRow, ExportReport
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from tests.conftest import SAMPLE_CLASSES

QUICK: dict[str, Any] = {"min_parity_images": 16, "threads": 1, "latency_runs": 3}


def make_checkpoint(path: Path, data: Path | None = None, seed: int = 0) -> Path:
    """A random tiny model saved as a checkpoint; `data` is recorded as its training dataset."""
    torch.manual_seed(seed)
    model = create_model("tiny", len(SAMPLE_CLASSES))
    with torch.no_grad():  # wide logit margins: fp16 / bf16 rounding must not flip a random model's top-1
        model.classifier.weight.mul_(20.0)
    meta = ModelMeta("tiny", SAMPLE_CLASSES, get_spec("tiny").preprocessing,
                     config={"data": str(data)} if data else {})
    return save_checkpoint(path, model, meta)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Path:
    """A tiny checkpoint trained (nominally) on the shared sample dataset; read-only."""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "best", data=sample_data)


@pytest.fixture(scope="session")
def parity_photos(sample_data: Path) -> Path:
    """Labelled photos: the sample dataset (its test/ split is what parity reads)."""
    return sample_data


@pytest.fixture
def quick_config(checkpoint: Path, parity_photos: Path, tmp_path: Path) -> Any:
    """An ExportConfig factory with small parity and latency settings, exporting to tmp_path/export."""

    def make(**changes: Any) -> ExportConfig:
        settings = {"parity_data": parity_photos, **QUICK, **changes}
        return ExportConfig(checkpoint=checkpoint, out=tmp_path / "export", **settings)

    return make


@pytest.fixture(scope="module")
def tiny(checkpoint: Path) -> Checkpoint:
    """The shared tiny random checkpoint (4 classes, 64 px, wide logit margins), loaded."""
    torch.set_num_threads(1)
    return load_checkpoint(checkpoint)


@pytest.fixture(scope="module")
def test_photos(sample_data: Path, tiny: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """The sample's test photos (never used for calibration), preprocessed, and the fp32 PyTorch logits on them."""
    images = []
    for path in sorted((sample_data / "test").rglob("*.jpg")):
        with Image.open(path) as im:
            images.append(im.convert("RGB"))
    batch = tiny.meta.preprocessing.batch(images)
    with torch.no_grad():
        logits = tiny.model.eval()(torch.from_numpy(batch)).numpy()
    return batch, logits


def quick_int8_export(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path, sample_data: Path,
                      fmt: str) -> ExportReport:
    """`seefood export --formats FMT --int8` of the tiny checkpoint, quick settings, 48 calibration photos."""
    from seefood.export.pipeline import run_export

    torch.set_num_threads(1)
    config = ExportConfig(checkpoint=checkpoint, out=tmp_path_factory.mktemp(fmt) / "export", formats=(fmt,),
                          int8=True, calib_data=sample_data, calib_size=48, parity_data=sample_data, **QUICK)
    return run_export(config)


def row_named(report: ExportReport, name: str) -> ArtifactRow:
    """The report's row of artifact `name` (e.g. onnx-int8)."""
    return next(r for r in report.rows if r.name == name)
