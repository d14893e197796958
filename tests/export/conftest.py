"""Fixtures of the export tests: a tiny random checkpoint whose dataset is the shared generated sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from seefood.checkpoint import save_checkpoint
from seefood.export.config import ExportConfig
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
