"""Post-training int8 quantisation recipes per artifact format, default first, then remedies.

The export pipeline tries `INT8_RECIPES[format]` in order and keeps the first int8 model that passes
parity against the fp32 PyTorch model; each later recipe trades some speed for accuracy.
"""

from __future__ import annotations

from seefood.export.quantize.base import Int8Recipe, QuantizeFn, model_family
from seefood.formats import FORMATS, int8_formats, resolve

# artifact format -> recipes in the order the pipeline tries them: a view of the format registry's
# `int8_recipes` references (importing this needs no OpenVINO, ExecuTorch or torch)
INT8_RECIPES: dict[str, list[Int8Recipe]] = {name: resolve(str(FORMATS[name].int8_recipes)) for name in int8_formats()}

__all__ = ["INT8_RECIPES", "Int8Recipe", "QuantizeFn", "model_family"]
