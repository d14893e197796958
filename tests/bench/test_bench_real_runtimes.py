"""Bench with the real runtimes: a tiny PyTorch checkpoint as the reference and its ONNX export."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from seefood.bench import PickRules, pick, run_bench

from .conftest import CLASSES
from .fakes import make_eval_data, tiny_export

pytest.importorskip("onnxruntime", reason="the ONNX runtime test needs onnxruntime")


def _export_tiny(root: Path) -> Path:
    """runs/best (tiny model checkpoint) + export/onnx-fp32 (model.onnx + seefood.json) + export.json."""
    import torch

    def to_onnx(model: Any, x: Any, folder: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter warns that it is legacy; it is fast
            torch.onnx.export(model, (x,), str(folder / "model.onnx"), input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "batch"}}, dynamo=False)

    return tiny_export(root, CLASSES, "onnx-fp32", to_onnx)


@pytest.mark.slow
def test_bench_onnx_against_pytorch_reference(tmp_path: Path, quick: Any) -> None:
    pytest.importorskip("seefood.runtimes.onnx", reason="the ONNX runtime module has not landed")
    pytest.importorskip("seefood.runtimes.pytorch", reason="the PyTorch runtime module has not landed")
    export = _export_tiny(tmp_path)
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=2)
    out = tmp_path / "report"
    run = run_bench(quick((export,), data, out, batch_sizes=(1, 4)))
    rows = {(r.name, r.batch_size): r for r in run.rows}
    assert set(rows) == {("pytorch-fp32", 1), ("pytorch-fp32", 4), ("onnx-fp32", 1), ("onnx-fp32", 4)}
    for r in run.rows:
        assert r.ok, r.reason
        assert r.latency is not None and r.latency.p50_ms > 0 and r.size_bytes > 0 and r.threads_ran == 1
    ref, onnx = rows["pytorch-fp32", 1], rows["onnx-fp32", 1]
    assert ref.is_reference and onnx.reference == ref.path
    # the same weights through two runtimes give the same predictions on these 8 images
    assert onnx.top1 == pytest.approx(ref.top1) and onnx.top5 == pytest.approx(ref.top5)
    decision = pick(out, PickRules(device="cpu", max_drop=0.0))
    assert decision.chosen is not None and decision.chosen.name == "onnx-fp32"
