"""Post-training int8 quantisation of an fp32 OpenVINO export with NNCF.

NNCF quantises the OpenVINO IR (`model.xml`) read from the fp32 artifact, so the int8 graph is the
fp32 graph plus FakeQuantize nodes. Transformers use `ModelType.TRANSFORMER` (mixed preset, SmoothQuant
on MatMuls, attention-aware quantiser placement); CNNs the default symmetric preset with their
squeeze-and-excitation gates left in float.

Measured on EfficientNet-B2 (400 Food-101 test photos, top-1 agreement with fp32 / logit cosine):
trained@160: NNCF defaults 0.81 / 0.960, gates in float 0.85 / 0.962, gates in float + global min/max
ranges 0.91 / 0.995; random weights@288: 0.53, 0.70 and 0.10, so global ranges are a remedy, not the
default. Latency did not change measurably between these variants.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seefood.errors import BackendMissingError, ConfigError, ExportError
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

INT8_FILES = FORMATS["openvino"].files  # the registry owns the file names
FP32_FILE = INT8_FILES[0]
BACKEND = "OpenVINO + NNCF"
INSTALL = "pip install 'seefood[openvino]'"
# OpenVINO op types that gate activations in CNNs (squeeze-and-excitation: ReduceMean -> convs -> Sigmoid ->
# Multiply); NNCF's ranking puts their quantisers first among EfficientNet-B2's most harmful ones
CNN_FLOAT_TYPES = ("Multiply", "ReduceMean")
# activation ranges -> NNCF range estimator (None: NNCF's default, the mean of per-batch min/max)
RANGE_ESTIMATORS: dict[str, str | None] = {"mean": None, "global": "MINMAX"}


@dataclass(frozen=True)
class NncfSettings:
    """How one NNCF recipe quantises."""

    keep_ends_float: bool = False  # leave the first Convolution and the classifier MatMul in float
    cnn_gates_float: bool = True  # CNNs: leave CNN_FLOAT_TYPES (squeeze-and-excitation gates) in float
    float_types: tuple[str, ...] = ()  # more OpenVINO op types to leave in float (e.g. "GroupConvolution")
    # activation ranges: "mean" of per-batch min/max (NNCF's default) or "global" min/max over all batches
    ranges: str = "mean"
    fast_bias_correction: bool = True  # False: full bias correction (slower, sometimes more accurate)
    max_drop: float | None = None  # set: accuracy-aware, revert layers until top-1 agreement drops <= this
    max_restore_iterations: int = 20  # accuracy-aware: at most this many revert-and-validate rounds
    ranking_subset_size: int = 50  # accuracy-aware: calibration items used to rank quantizer groups

    def __post_init__(self) -> None:
        if self.ranges not in RANGE_ESTIMATORS:
            raise ConfigError(f"NncfSettings.ranges must be one of {', '.join(RANGE_ESTIMATORS)}, got {self.ranges!r}")


def _backend() -> tuple[Any, Any]:
    """Import openvino and nncf, or say how to install them."""
    try:
        import nncf
        import openvino as ov
    except ImportError as exc:
        raise BackendMissingError(BACKEND, INSTALL, reason=str(exc)) from exc
    return ov, nncf


def end_nodes(ov_model: Any) -> list[str]:
    """Friendly names of the first Convolution (stem) and the last MatMul (classifier) of an OpenVINO model."""
    ops = list(ov_model.get_ordered_ops())
    first_conv = next((op for op in ops if op.get_type_name() == "Convolution"), None)
    last_dense = next((op for op in reversed(ops) if op.get_type_name() == "MatMul"), None)
    return [op.get_friendly_name() for op in (first_conv, last_dense) if op is not None]


def top1_agreement(compiled: Any, items: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[float, list[float]]:
    """NNCF validation function: share of images whose top-1 equals the fp32 model's, and per-item values."""
    per_item: list[float] = []
    for batch, reference in items:
        logits = np.asarray(compiled(batch)[0])
        per_item.append(float(np.mean(logits.argmax(axis=-1) == reference)))
    return (float(np.mean(per_item)) if per_item else 0.0), per_item


def _reference_top1(ov: Any, ov_model: Any, calib: list[np.ndarray]) -> list[np.ndarray]:
    compiled = ov.Core().compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return [np.asarray(compiled(batch)[0]).argmax(axis=-1) for batch in calib]


def quantize_openvino(
    fp32_dir: Path, model: nn.Module, meta: ModelMeta, calib: list[np.ndarray], out_dir: Path,
    settings: NncfSettings = NncfSettings(),
) -> Path:
    """Quantise `fp32_dir/model.xml` with NNCF to `out_dir/model.xml` + `model.bin`."""
    ov, nncf = _backend()
    source = require_file(Path(fp32_dir) / FP32_FILE, "the fp32 OpenVINO model")
    n_items = len(calib)
    n_images = calibration_images(calib)
    ov_model = ov.Core().read_model(str(source))
    family = model_family(meta, model)
    ignored = end_nodes(ov_model) if settings.keep_ends_float else []
    float_types = list(CNN_FLOAT_TYPES) if settings.cnn_gates_float and family == "cnn" else []
    float_types += [t for t in settings.float_types if t not in float_types]
    common: dict[str, Any] = {
        "subset_size": n_items,  # NNCF counts dataset items (batches); use them all
        "fast_bias_correction": settings.fast_bias_correction,
        "model_type": nncf.ModelType.TRANSFORMER if family == "transformer" else None,
        # validate=False: a CNN without squeeze-and-excitation has no Multiply, which is fine
        "ignored_scope": nncf.IgnoredScope(names=ignored, types=float_types, validate=False)
        if ignored or float_types else None,
    }
    advanced = _advanced_parameters(settings)
    log.info(
        "NNCF int8: %s model, %d calibration images, %s activation ranges%s%s", family, n_images, settings.ranges,
        f", kept in float: {', '.join(ignored + float_types)}" if ignored or float_types else "",
        f", accuracy-aware (max top-1 drop {settings.max_drop})" if settings.max_drop is not None else "",
    )
    out_dir = Path(out_dir)
    with staged_files(out_dir, INT8_FILES) as tmp:
        try:
            if settings.max_drop is None:
                int8 = nncf.quantize(ov_model, nncf.Dataset(calib), advanced_parameters=advanced, **common)
            else:
                reference = _reference_top1(ov, ov_model, calib)
                validation = nncf.Dataset(list(zip(calib, reference)), lambda item: item[0])
                from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

                # NNCF's defaults rank every quantizer group on up to 300 items and then revert them one
                # validation pass at a time with no limit (133 groups for EfficientNet-B2: over 15 min on
                # 2 cores); bounds on both keep an export run finite
                restorer = AdvancedAccuracyRestorerParameters(
                    max_num_iterations=settings.max_restore_iterations,
                    ranking_subset_size=min(settings.ranking_subset_size, n_items),
                )
                int8 = nncf.quantize_with_accuracy_control(
                    ov_model, nncf.Dataset(calib), validation, top1_agreement, max_drop=settings.max_drop,
                    advanced_quantization_parameters=advanced, advanced_accuracy_restorer_parameters=restorer,
                    **common,
                )
            ov.save_model(int8, str(tmp / INT8_FILES[0]), compress_to_fp16=False)
        except Exception as exc:  # NNCF's errors share no base class; OpenVINO raises RuntimeError
            raise ExportError(f"NNCF could not quantise {source}: {type(exc).__name__}: {exc}") from exc
    return out_dir / INT8_FILES[0]


def _advanced_parameters(settings: NncfSettings) -> Any:
    """NNCF's advanced parameters for `settings.ranges`, or None for NNCF's defaults."""
    estimator = RANGE_ESTIMATORS[settings.ranges]
    if estimator is None:
        return None
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    return AdvancedQuantizationParameters(
        activations_range_estimator_params=getattr(RangeEstimatorParametersSet, estimator)
    )


def _recipe(name: str, description: str, settings: NncfSettings) -> Int8Recipe:
    return Int8Recipe(name, description, functools.partial(quantize_openvino, settings=settings))


OPENVINO_RECIPES: list[Int8Recipe] = [
    _recipe(
        "nncf-ptq", "NNCF post-training int8 on the OpenVINO IR: transformer preset + SmoothQuant for ViT; "
        "squeeze-and-excitation gates in float for CNNs; fast bias correction", NncfSettings(),
    ),
    _recipe(
        "nncf-ptq-global-ranges", "as nncf-ptq, with activation ranges from the global min/max of the "
        "calibration set (keeps rare large activations unclipped)", NncfSettings(ranges="global"),
    ),
    _recipe(
        "nncf-ptq-keep-ends", "as nncf-ptq, with the first Convolution and the classifier in float and full "
        "bias correction", NncfSettings(keep_ends_float=True, fast_bias_correction=False),
    ),
    _recipe(
        "nncf-accuracy-aware", "NNCF accuracy-aware int8: reverts the most harmful layers to float until top-1 "
        "agreement with fp32 on the calibration images drops by at most 1 %",
        NncfSettings(max_drop=0.01),
    ),
]
