"""Post-training int8 quantisation recipes per artifact format, default first, then remedies.

The export pipeline tries `INT8_RECIPES[format]` in order and keeps the first int8 model that passes
parity against the fp32 PyTorch model; each later recipe trades some speed for accuracy.
"""

from __future__ import annotations

from seefood.export.quantize.base import Int8Recipe, QuantizeFn, model_family
from seefood.export.quantize.executorch import EXECUTORCH_RECIPES
from seefood.export.quantize.onnx import ONNX_RECIPES
from seefood.export.quantize.openvino import OPENVINO_RECIPES

# artifact format -> recipes in the order the pipeline tries them (importing this needs no OpenVINO, ExecuTorch or torch)
INT8_RECIPES: dict[str, list[Int8Recipe]] = {
    "onnx": ONNX_RECIPES,
    "openvino": OPENVINO_RECIPES,
    "executorch": EXECUTORCH_RECIPES,
}

__all__ = ["INT8_RECIPES", "Int8Recipe", "QuantizeFn", "model_family"]
