"""Fixtures of the runtime tests: torch-free ONNX / OpenVINO artifacts built from a hand-written graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seefood.metadata import ModelMeta
from seefood.preprocessing import Preprocessing

CLASSES = ("red", "green", "blue")
# logits = W @ mean-colour + b: class i wins when channel i is the brightest, so predictions are checkable
WEIGHT = np.eye(3, dtype=np.float32) * 4.0
BIAS = np.zeros(3, dtype=np.float32)
PRE = Preprocessing(resize=8, crop=8, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def expected_logits(batch: np.ndarray) -> np.ndarray:
    """What the hand-written graph computes."""
    return batch.mean(axis=(2, 3)) @ WEIGHT.T + BIAS


def write_onnx(folder: Path, batch: int | str = "N", precision: str = "fp32") -> Path:
    """A mean-colour classifier as model.onnx (opset 18) plus its seefood.json."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("Gemm", ["flat", "W", "B"], ["logits"], transB=1)],
        "mean_colour",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 3])],
        [numpy_helper.from_array(WEIGHT, "W"), numpy_helper.from_array(BIAS, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    write_meta(folder, "onnx", precision, batch)
    return folder


def write_meta(folder: Path, fmt: str, precision: str = "fp32", batch: int | str = "N") -> None:
    """The sidecar seefood.json of a test artifact."""
    meta = ModelMeta("mean_colour", CLASSES, PRE, format=fmt, precision=precision,
                     extra={"batch": batch if isinstance(batch, int) else "dynamic"})
    (folder / "seefood.json").write_text(json.dumps(meta.to_dict()))


@pytest.fixture(scope="session")
def onnx_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dynamic-batch ONNX artifact (read-only)."""
    return write_onnx(tmp_path_factory.mktemp("rt") / "onnx-fp32")


@pytest.fixture(scope="session")
def openvino_artifact(tmp_path_factory: pytest.TempPathFactory, onnx_artifact: Path) -> Path:
    """The same graph as OpenVINO IR (read-only)."""
    import openvino as ov

    folder = tmp_path_factory.mktemp("rt") / "openvino-fp32"
    folder.mkdir()
    ov.save_model(ov.convert_model(str(onnx_artifact / "model.onnx")), str(folder / "model.xml"),
                  compress_to_fp16=False)
    write_meta(folder, "openvino")
    return folder
