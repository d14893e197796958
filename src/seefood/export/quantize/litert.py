"""Static int8 for LiteRT: PT2E with litert-torch's own quantiser, then the same conversion as fp32.

torch.export -> prepare_pt2e(litert_torch PT2EQuantizer, get_symmetric_quantization_config(is_per_channel=True):
int8 weights per channel, symmetric; int8 activations per tensor, histogram ranges) -> the calibration photos
every int8 recipe gets -> convert_pt2e(fold_quantize=False) -> litert_torch.convert(quant_config=QuantConfig(
pt2e_quantizer=...)), which turns the Q/DQ pairs into int8 TFLite kernels. The program's input and output
tensors are int8 too; the runtime quantises and dequantises them with the tensors' own scales.

Transformers quantise only their convolutions and linear layers (as the other formats' recipes); CNNs every
pattern the quantiser knows, with a conv/linear-only remedy.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seefood.errors import ExportError
from seefood.export.quantize.base import (
    Int8Recipe,
    calibration_images,
    model_family,
    require_file,
    staged_files,
)
from seefood.export.quantize.executorch import (
    annotate_conv_clamp,
    calibrated_pt2e,
    end_modules,
    outside_modules,
    pt2e_example,
)
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

FP32_FILE = FORMATS["litert"].files[0]  # the registry owns the file names
INT8_FILES = ("model.tflite", "ops.json")  # the program and its operator record (formats/litert.py)


@dataclass(frozen=True)
class LiteRTInt8Settings:
    """How one litert-torch PT2E recipe quantises."""

    weights_only: bool = False  # only the conv / linear patterns, no add, mul, pool (always so for transformers)
    keep_ends_float: bool = False  # leave the first Conv2d and the last Linear (the classifier) in float


# the quantiser's patterns without weights: what a weights-only recipe leaves in float (conv / linear with their
# fused activations are what it keeps)
NON_WEIGHT_PATTERNS = frozenset({"add", "add_", "mul", "mul_", "cat", "adaptive_avg_pool2d", "max_pool2d",
                                 "avg_pool2d", "mean"})


def _op_name(node: Any) -> str:
    """'add' for a node calling aten.add.Tensor; '' for anything else."""
    parts = str(node.target).split(".")
    return parts[1] if node.op == "call_function" and len(parts) >= 2 and parts[0] == "aten" else ""


def build_quantizer(model: nn.Module, settings: LiteRTInt8Settings) -> tuple[Any, Any]:
    """(litert-torch's PT2EQuantizer for `settings`, the QuantConfig litert_torch.convert takes).

    Per-channel symmetric int8 weights and per-tensor int8 activations everywhere it annotates. litert-torch
    0.10's module-name / module-type filters compare against the old nn_module_stack layout (names with
    "L__self___", classes instead of type names), so what a recipe leaves in float is chosen by a node filter
    passed to the quantiser's own pattern annotators instead.
    """
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig

    config = get_symmetric_quantization_config(is_per_channel=True)
    outside_ends = outside_modules(end_modules(model)) if settings.keep_ends_float else None

    def keep(node: Any) -> bool:
        if settings.weights_only and _op_name(node) in NON_WEIGHT_PATTERNS:
            return False
        return outside_ends is None or outside_ends(node)

    filtered = settings.weights_only or settings.keep_ends_float

    class SeefoodQuantizer(PT2EQuantizer):  # type: ignore[misc, valid-type]
        def annotate(self, graph: Any) -> Any:
            # conv + ReLU6 as one pattern, like the ExecuTorch recipes (litert-torch fuses conv + ReLU only)
            fused = annotate_conv_clamp(graph, config, keep if filtered else None)
            log.info("LiteRT PT2E int8: %d conv + ReLU6 pairs quantised as one fused op", fused)
            return super().annotate(graph)

        def _annotate_for_static_quantization_config(self, graph: Any) -> Any:
            if not filtered:
                return super()._annotate_for_static_quantization_config(graph)
            return self._annotate_all_static_patterns(graph, self.global_config, keep)

    quantizer = SeefoodQuantizer().set_global(config)
    # QuantConfig reads only the global config (static or dynamic) to pick the converter's Q/DQ mode
    return quantizer, QuantConfig(pt2e_quantizer=quantizer)


def quantize_litert(
    fp32_dir: Path, model: nn.Module, meta: ModelMeta, calib: list[np.ndarray], out_dir: Path,
    settings: LiteRTInt8Settings = LiteRTInt8Settings(),
) -> Path:
    """PT2E-quantise `model` with calibration batches `calib` and convert it to `out_dir/model.tflite`."""
    from torchao.quantization.pt2e import move_exported_model_to_eval

    from seefood.export.formats.litert import convert_to_tflite, import_litert_torch

    import_litert_torch()  # BackendMissingError with the install command, before any work
    require_file(Path(fp32_dir) / FP32_FILE, "the fp32 LiteRT program")
    n_images = calibration_images(calib)
    family = model_family(meta, model)
    if family == "transformer":  # int8 residual adds and LayerNorm inputs wreck ViT, as in the other formats
        settings = dataclasses.replace(settings, weights_only=True)
    model = model.cpu().eval()
    log.info("LiteRT PT2E int8: %s model, %s ops, %d calibration images%s", family,
             "conv/linear" if settings.weights_only else "all", n_images,
             f", kept in float: {', '.join(end_modules(model))}" if settings.keep_ends_float else "")
    example = pt2e_example(calib)  # the program takes one image of it
    quantizer, quant_config = build_quantizer(model, settings)
    out_dir = Path(out_dir)
    with staged_files(out_dir, INT8_FILES) as tmp:
        try:
            converted = move_exported_model_to_eval(calibrated_pt2e(model, example, calib, quantizer, fold_quantize=False))
        except Exception as exc:  # torch.export / torchao raise many unrelated types
            raise ExportError(f"LiteRT PT2E quantisation failed: {type(exc).__name__}: {exc}") from exc
        convert_to_tflite(converted, example[:1], tmp, quant_config=quant_config)
        record = json.loads((tmp / INT8_FILES[1]).read_text(encoding="utf-8"))
        if not record["int8_ops"]:
            raise ExportError("the LiteRT int8 program has no int8 operator: the quantiser annotated nothing "
                              f"(settings {settings}); this is a seefood bug, please report it")
    return out_dir / INT8_FILES[0]


def _recipe(name: str, description: str, settings: LiteRTInt8Settings) -> Int8Recipe:
    return Int8Recipe(name, description, functools.partial(quantize_litert, settings=settings))


LITERT_RECIPES: list[Int8Recipe] = [
    _recipe(
        "litert-pt2e", "PT2E static int8 with litert-torch's quantiser (per-channel symmetric int8 weights, int8 "
        "activations, histogram ranges); CNNs quantise every pattern, transformers only conv/linear",
        LiteRTInt8Settings(),
    ),
    _recipe(
        "litert-pt2e-keep-ends", "as litert-pt2e, with the first Conv2d and the classifier Linear left in float",
        LiteRTInt8Settings(keep_ends_float=True),
    ),
    _recipe(
        "litert-pt2e-conservative", "only conv/linear in int8 and the ends in float: the fewest int8 ops, for a "
        "model that still misses parity", LiteRTInt8Settings(weights_only=True, keep_ends_float=True),
    ),
]
