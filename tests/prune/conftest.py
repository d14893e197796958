"""Fixtures of the pruning tests: a tiny checkpoint on the shared sample data, and an export + parity helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from seefood.checkpoint import save_checkpoint
from seefood.export.formats import EXPORTERS, ExportSpec
from seefood.export.metadata import artifact_meta, write_sidecar
from seefood.export.parity import ParityResult, ParitySet, ParityThresholds, compare_logits
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.runtimes import load_runtime
from tests.conftest import SAMPLE_CLASSES


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Path:
    """A random tiny checkpoint whose training data is the shared sample dataset; read-only."""
    torch.manual_seed(0)
    model = create_model("tiny", len(SAMPLE_CLASSES))
    meta = ModelMeta("tiny", SAMPLE_CLASSES, get_spec("tiny").preprocessing,
                     config={"data": str(sample_data), "batch_size": 16, "lr": 3e-3, "val_fraction": 0.2})
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "best", model, meta)


def export_and_compare(model: nn.Module, meta: ModelMeta, fmt: str, folder: Path, inputs: torch.Tensor) -> ParityResult:
    """Export `model` with the project's exporter, load it with its runtime, and compare with the model's logits."""
    model = model.eval()
    EXPORTERS[fmt].export(model, meta, inputs[:2], folder, ExportSpec("fp32", "cpu", True, 18))
    write_sidecar(folder, artifact_meta(meta, fmt, "fp32", "0" * 64, {"batch": "dynamic"}))
    runtime = load_runtime(folder, threads=1, exact=True)
    with torch.no_grad():
        reference = model(inputs).numpy()
    n = len(inputs)
    parity = ParitySet(str(folder), tuple(f"x{i}" for i in range(n)), np.full(n, -1), inputs.numpy(), reference)
    return compare_logits(runtime.run(inputs.numpy()), parity, ParityThresholds(min_agreement=1.0))
