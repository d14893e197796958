"""The paper ViT exports with torch's fused-attention fast path left ON, where torchvision's ViT needs it off.

nn.MultiheadAttention (torchvision's ViT) takes a fused kernel, aten::_native_multi_head_attention, in
eval mode without gradients when its head count is even; seefood's exporters switch that fast path off
(`mha_fastpath_disabled`). seefood.models.vit_paper writes attention as matmul + softmax + matmul, so
TorchScript, both ONNX exporters and OpenVINO's direct conversion see ordinary ops with the switch on.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

from seefood.checkpoint import read_meta
from seefood.export.config import ExportConfig
from seefood.export.pipeline import run_export
from seefood.export.quantize.base import model_family
from seefood.models import create_model
from seefood.models.vit_paper import VisionTransformer, ViTConfig, from_torchvision
from seefood.runtimes import read_artifact_meta
from tests.conftest import SAMPLE_CLASSES

from .conftest import QUICK

FUSED = "aten::_native_multi_head_attention"
SIZE = 32  # 2 x 2 patches: the whole graph, at a fraction of the cost
openvino_missing = pytest.mark.skipif(importlib.util.find_spec("openvino") is None,
                                      reason="OpenVINO is not installed: pip install 'seefood[openvino]'")


@contextlib.contextmanager
def fast_path_on() -> Iterator[None]:
    """torch's default, stated: nn.MultiheadAttention may take its fused kernel."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(True)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    return create_model("vit_ti16_paper", len(SAMPLE_CLASSES), image_size=SIZE).eval()


@pytest.fixture(scope="module")
def inputs() -> torch.Tensor:
    return torch.randn(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _ort_logits(path: Path, x: torch.Tensor) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def _expected(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(x).numpy()


def test_torchscript_trace_holds_plain_ops_and_reloads(model: nn.Module, inputs: torch.Tensor, tmp_path: Path) -> None:
    with fast_path_on(), torch.no_grad():
        traced = torch.jit.freeze(torch.jit.trace(model, inputs[:2], check_trace=False))
    torch.jit.save(traced, str(tmp_path / "model.pt"))
    loaded = torch.jit.load(str(tmp_path / "model.pt"))
    ops = {node.kind() for node in loaded.inlined_graph.nodes()}
    assert "aten::matmul" in ops and "aten::softmax" in ops and not any("attention" in op for op in ops)
    with torch.no_grad():  # a batch of 3 through a trace of 2: the batch axis is not baked in
        np.testing.assert_allclose(loaded(inputs).numpy(), _expected(model, inputs), atol=1e-5)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript-based", "dynamo"])
def test_both_onnx_exporters(model: nn.Module, inputs: torch.Tensor, tmp_path: Path, dynamo: bool) -> None:
    path = tmp_path / "model.onnx"
    with fast_path_on(), torch.no_grad(), contextlib.redirect_stdout(None):
        if dynamo:
            program = torch.onnx.export(model, (inputs[:2],), dynamo=True, opset_version=18, verbose=False,
                                        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},))
            assert program is not None
            program.save(str(path))
        else:
            torch.onnx.export(model, (inputs[:2],), str(path), dynamo=False, opset_version=18,
                              input_names=["input"], dynamic_axes={"input": {0: "batch"}})
    np.testing.assert_allclose(_ort_logits(path, inputs), _expected(model, inputs), atol=1e-4)


@openvino_missing
def test_openvino_direct_conversion(model: nn.Module, inputs: torch.Tensor) -> None:
    import openvino as ov

    with fast_path_on(), torch.no_grad():
        converted = ov.convert_model(model, example_input=inputs[:2], input=[[-1, 3, SIZE, SIZE]])
    compiled = ov.Core().compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})  # no bf16 rounding
    np.testing.assert_allclose(compiled(inputs.numpy())[0], _expected(model, inputs), atol=1e-4)


def test_torchvision_vit_needs_the_switch_where_the_paper_vit_does_not(tmp_path: Path) -> None:
    """The same weights (an even head count: the fused kernel's condition) in both implementations."""
    torch.manual_seed(0)
    reference = TorchvisionViT(SIZE, 16, 2, 4, 64, 128, num_classes=3).eval()
    paper = VisionTransformer(ViTConfig(16, 64, 2, 4, 128), SIZE, num_classes=3).eval()
    paper.load_state_dict(from_torchvision(reference.state_dict(), paper))
    x = torch.randn(2, 3, SIZE, SIZE)
    with fast_path_on(), torch.no_grad(), contextlib.redirect_stdout(None):
        assert FUSED in str(torch.jit.trace(reference, x).inlined_graph)  # the fused kernel is baked in
        with pytest.raises(Exception, match="_native_multi_head_attention"):
            torch.onnx.export(reference, (x,), str(tmp_path / "torchvision.onnx"), dynamo=False, opset_version=18)
        assert FUSED not in str(torch.jit.trace(paper, x).inlined_graph)
        torch.onnx.export(paper, (x,), str(tmp_path / "paper.onnx"), dynamo=False, opset_version=18)
        expected = reference(x).numpy()
    np.testing.assert_allclose(_ort_logits(tmp_path / "paper.onnx", x), expected, atol=1e-4)


@pytest.mark.slow
def test_train_export_bench_pick_and_space(tmp_path: Path, sample_data: Path) -> None:
    """The whole path with vit_ti16_paper: one epoch at 32 px, every CPU format with int8 (transformer rules),
    bench, pick among the Space's formats, and a torch-free Space that classifies its examples."""
    from seefood.bench import BenchConfig, PickRules, pick, run_bench
    from seefood.space.builder import SpaceConfig, build_space
    from seefood.space.card import SPACE_FORMATS
    from seefood.train import TrainConfig, train

    run = train(TrainConfig(model="vit_ti16_paper", weights="none", image_size=SIZE, data=str(sample_data), epochs=1,
                            batch_size=32, augment="none", workers=0, threads=1, patience=None,
                            out=str(tmp_path / "run")))
    meta = read_meta(run.best)
    assert meta.architecture == "vit_ti16_paper" and model_family(meta) == "transformer"
    formats = ("torchscript", "onnx", "openvino") if importlib.util.find_spec("openvino") else ("torchscript", "onnx")
    # int8 of a one-epoch model is judged loosely: this checks the wiring, not quantisation quality
    report = run_export(ExportConfig(checkpoint=run.best, out=tmp_path / "export", formats=formats, int8=True,
                                     calib_size=30, min_agreement_int8=0.8, max_drop=25.0, **QUICK))
    rows = {r.name: r for r in report.rows}
    passing = [f"{f}-fp32" for f in formats] + [f"{f}-int8" for f in formats if f != "torchscript"]
    for name in passing:
        assert rows[name].status == "passed", (name, rows[name].reason)
    assert read_artifact_meta(tmp_path / "export" / "onnx-int8").architecture == "vit_ti16_paper"
    measured = run_bench(BenchConfig(export_dirs=(tmp_path / "export",), data=sample_data, out=tmp_path / "report",
                                     threads=1, min_runs=3, min_time_s=0.1, warmup=1, progress=False))
    assert {r.name for r in measured.rows if r.ok} >= set(passing)
    decision = pick(tmp_path / "report", PickRules(max_drop=25.0, formats=tuple(SPACE_FORMATS)))
    assert decision.chosen is not None, decision.explain()
    space = build_space(SpaceConfig(decision=tmp_path / "report" / "decision.json", out=tmp_path / "space"))
    assert space.verification is not None and (space.path / "app.py").is_file()
