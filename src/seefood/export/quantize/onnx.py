"""Static int8 quantisation of an fp32 ONNX export with ONNX Runtime (QDQ, per-channel weights).

Measured on this project's CPUs (2 threads, b=1): uint8 activations + int8 weights run about 1.4x faster
than fp32 in ONNX Runtime, int8 activations about 3x *slower* (no fast u8s8 kernels for them), and
`quant_pre_process` made the model slower, so it is not used. Quantising every op type keeps
EfficientNet accurate but wrecks ViT (LayerNorm/Softmax/GELU in int8); ViT keeps only Conv/MatMul/Gemm.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seefood.errors import ConfigError, ExportError
from seefood.export.quantize.base import (
    Int8Recipe,
    calibration_images,
    model_family,
    require_file,
    staged_files,
)
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta

if TYPE_CHECKING:
    import onnx
    from torch import nn

log = logging.getLogger(__name__)

FP32_FILE = INT8_FILE = FORMATS["onnx"].files[0]  # the registry owns the file names
WEIGHT_OPS = ("Conv", "MatMul", "Gemm")  # the ops that carry weights and most of the compute
# which op types to quantise by default, per model family (None: every op ONNX Runtime can quantise)
DEFAULT_OP_TYPES: dict[str, tuple[str, ...] | None] = {"cnn": None, "transformer": WEIGHT_OPS}


@dataclass(frozen=True)
class OrtInt8Settings:
    """How one ONNX Runtime recipe quantises."""

    op_types: str = "auto"  # "auto": DEFAULT_OP_TYPES for the family; "weights": only Conv/MatMul/Gemm
    keep_ends_float: bool = False  # leave the first Conv and the classifier Gemm/MatMul in float
    # activation ranges: "mean" of the per-batch min/max (NNCF's default; one odd photo cannot stretch a
    # range) or the "global" min/max over every batch (ONNX Runtime's default)
    ranges: str = "mean"

    def __post_init__(self) -> None:
        if self.op_types not in ("auto", "weights") or self.ranges not in ("mean", "global"):
            raise ConfigError(
                f"OrtInt8Settings: op_types must be auto or weights and ranges mean or global, "
                f"got {self.op_types!r} / {self.ranges!r}"
            )


class _BatchReader:
    """ONNX Runtime CalibrationDataReader over a list of NCHW batches."""

    def __init__(self, input_name: str, calib: list[np.ndarray]) -> None:
        self._input_name = input_name
        self._batches = iter(calib)

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next calibration batch as an input feed, or None at the end."""
        batch = next(self._batches, None)
        return None if batch is None else {self._input_name: np.ascontiguousarray(batch, dtype=np.float32)}


def end_nodes(graph: onnx.GraphProto) -> list[str]:
    """Names of the first Conv (the stem) and the last Gemm/MatMul (the classifier) in topological order."""
    names: list[str] = []
    first_conv = next((n for n in graph.node if n.op_type == "Conv"), None)
    last_dense = next((n for n in reversed(graph.node) if n.op_type in ("Gemm", "MatMul")), None)
    for node in (first_conv, last_dense):
        if node is not None and node.name:
            names.append(node.name)
    return names


def _op_types(settings: OrtInt8Settings, family: str) -> list[str] | None:
    chosen = WEIGHT_OPS if settings.op_types == "weights" else DEFAULT_OP_TYPES[family]
    return None if chosen is None else list(chosen)


def quantize_onnx(
    fp32_dir: Path, model: nn.Module, meta: ModelMeta, calib: list[np.ndarray], out_dir: Path,
    settings: OrtInt8Settings = OrtInt8Settings(),
) -> Path:
    """Quantise `fp32_dir/model.onnx` statically to `out_dir/model.onnx` (QDQ, u8 activations, s8 weights)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    source = require_file(Path(fp32_dir) / FP32_FILE, "the fp32 ONNX model")
    n_images = calibration_images(calib)
    fp32 = onnx.load(str(source), load_external_data=False)
    input_name = fp32.graph.input[0].name
    family = model_family(meta, model)
    excluded = end_nodes(fp32.graph) if settings.keep_ends_float else []
    op_types = _op_types(settings, family)
    log.info(
        "ONNX Runtime int8: %s model, ops %s, %d calibration images%s", family,
        "all" if op_types is None else "/".join(op_types), n_images,
        f", kept in float: {', '.join(excluded)}" if excluded else "",
    )
    # The calibrator keeps only per-batch min/max per tensor, so 300 images fit in memory. Do not set
    # CalibMaxIntermediateOutputs: ONNX Runtime <= 1.32 drops every full chunk unmeasured (onnxruntime#32577).
    extra: dict[str, Any] = {"CalibMovingAverage": settings.ranges == "mean"}
    out_dir = Path(out_dir)
    with staged_files(out_dir, (INT8_FILE,)) as tmp:
        try:
            quantize_static(
                str(source), str(tmp / INT8_FILE), _BatchReader(input_name, calib),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=op_types,
                per_channel=True,
                activation_type=QuantType.QUInt8,  # u8 activations hit the fast u8s8 kernels on x86
                weight_type=QuantType.QInt8,
                nodes_to_exclude=excluded,
                calibrate_method=CalibrationMethod.MinMax,
                calibration_providers=["CPUExecutionProvider"],
                extra_options=extra,
            )
        except Exception as exc:  # onnxruntime raises bare Exception/RuntimeError/ValueError subclasses
            raise ExportError(f"ONNX Runtime could not quantise {source}: {type(exc).__name__}: {exc}") from exc
    # the fp32 file's metadata_props are not copied: the pipeline embeds the int8 artifact's own metadata
    return out_dir / INT8_FILE


def _recipe(name: str, description: str, settings: OrtInt8Settings) -> Int8Recipe:
    return Int8Recipe(name, description, functools.partial(quantize_onnx, settings=settings))


ONNX_RECIPES: list[Int8Recipe] = [
    _recipe(
        "ort-static", "ONNX Runtime static QDQ int8 (u8 activations, per-channel s8 weights, mean min/max "
        "ranges); CNNs quantise every op, transformers only Conv/MatMul/Gemm", OrtInt8Settings(),
    ),
    _recipe(
        "ort-static-keep-ends", "as ort-static, with the first Conv and the classifier left in float",
        OrtInt8Settings(keep_ends_float=True),
    ),
    _recipe(
        "ort-static-conservative", "only Conv/MatMul/Gemm in int8 and the ends in float: the fewest int8 ops, "
        "for a model that still misses parity", OrtInt8Settings(op_types="weights", keep_ends_float=True),
    ),
]
