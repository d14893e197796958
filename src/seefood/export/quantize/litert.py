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

import functools
import logging
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
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

FP32_FILE = FORMATS["litert"].files[0]  # the registry owns the file names
INT8_FILES = ("model.tflite", "ops.json")  # the program and its operator record (formats/litert.py)


def build_quantizer(model: nn.Module, weights_only: bool) -> tuple[Any, Any]:
    """(litert-torch's PT2EQuantizer, the QuantConfig litert_torch.convert takes) for every known pattern or
    only the model's Conv2d / Linear modules."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torch import nn

    config = get_symmetric_quantization_config(is_per_channel=True)
    # QuantConfig reads only the global config (static or dynamic) to pick the converter's Q/DQ mode
    static = PT2EQuantizer().set_global(config)
    if not weights_only:
        return static, QuantConfig(pt2e_quantizer=static)
    quantizer = PT2EQuantizer()
    # the quantiser matches module types exactly, so subclasses (timm's Conv2dSame) are named one by one
    for kind in sorted({type(m) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))}, key=str):
        quantizer.set_module_type(kind, config)
    return quantizer, QuantConfig(pt2e_quantizer=static)


def quantize_litert(
    fp32_dir: Path, model: nn.Module, meta: ModelMeta, calib: list[np.ndarray], out_dir: Path,
    weights_only: bool = False,
) -> Path:
    """PT2E-quantise `model` with calibration batches `calib` and convert it to `out_dir/model.tflite`."""
    import torch
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from seefood.export.formats.executorch import export_program
    from seefood.export.formats.litert import convert_to_tflite, import_litert_torch

    import_litert_torch()  # BackendMissingError with the install command, before any work
    require_file(Path(fp32_dir) / FP32_FILE, "the fp32 LiteRT program")
    n_images = calibration_images(calib)
    family = model_family(meta, model)
    weights_only = weights_only or family == "transformer"
    model = model.cpu().eval()
    log.info("LiteRT PT2E int8: %s model, %s ops, %d calibration images", family,
             "conv/linear" if weights_only else "all", n_images)
    # calibration batches come in any size, so the graph to observe takes a dynamic batch; the program, one image
    example = torch.from_numpy(np.ascontiguousarray(calib[0][:1], dtype=np.float32)).repeat(2, 1, 1, 1)
    quantizer, quant_config = build_quantizer(model, weights_only)
    out_dir = Path(out_dir)
    with staged_files(out_dir, INT8_FILES) as tmp:
        try:
            graph = export_program(model, example, dynamic=True).module()
            prepared = prepare_pt2e(graph, quantizer)
            with torch.no_grad():
                for batch in calib:
                    prepared(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
            converted = move_exported_model_to_eval(convert_pt2e(prepared, fold_quantize=False))
        except Exception as exc:  # torch.export / torchao raise many unrelated types
            raise ExportError(f"LiteRT PT2E quantisation failed: {type(exc).__name__}: {exc}") from exc
        convert_to_tflite(converted, example[:1], tmp, quant_config=quant_config)
    return out_dir / INT8_FILES[0]


LITERT_RECIPES: list[Int8Recipe] = [
    Int8Recipe(
        "litert-pt2e", "PT2E static int8 with litert-torch's quantiser (per-channel symmetric int8 weights, int8 "
        "activations, histogram ranges); CNNs quantise every pattern, transformers only conv/linear",
        quantize_litert,
    ),
    Int8Recipe(
        "litert-pt2e-conv-linear", "as litert-pt2e, only Conv2d / Linear modules in int8: for a model that "
        "misses parity", functools.partial(quantize_litert, weights_only=True),
    ),
]
