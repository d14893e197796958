"""Static int8 for ExecuTorch: PT2E with the XNNPACK quantiser, then the same XNNPACK lowering as fp32.

torch.export -> prepare_pt2e(XNNPACKQuantizer: int8 activations per tensor, int8 weights per channel,
symmetric) -> the calibration photos every int8 recipe gets -> convert_pt2e -> torch.export again -> XNNPACK
partitioner -> `model.pte`, whose delegation is checked and recorded like the fp32 program's. The recipe works
on the torch model (PT2E quantises the PyTorch graph, not the fp32 `.pte`); the fp32 artifact's sidecar says
which batch shape to export, so the int8 program takes what its fp32 parent takes.

Transformers quantise only their convolutions and linear layers by default (int8 residual adds and
LayerNorm inputs are what wrecks ViT in ONNX Runtime too); CNNs everything the quantiser knows.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
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
from seefood.runtimes import read_artifact_meta
from seefood.runtimes.base import static_batch
from seefood.runtimes.executorch import import_executorch

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)

FP32_FILE = FORMATS["executorch"].files[0]  # the registry owns the file names
INT8_FILES = ("model.pte", "delegation.json")  # the program and its delegation record (formats/executorch.py)
OP_CHOICES = ("auto", "weights")


@dataclass(frozen=True)
class XnnpackInt8Settings:
    """How one XNNPACK PT2E recipe quantises."""

    # "auto": CNNs every pattern the XNNPACK quantiser knows (conv, linear, add, mul, pooling, cat),
    # transformers only conv/linear; "weights": only conv/linear for every family
    ops: str = "auto"
    keep_ends_float: bool = False  # leave the first Conv2d and the last Linear (the classifier) in float

    def __post_init__(self) -> None:
        if self.ops not in OP_CHOICES:
            raise ConfigError(f"XnnpackInt8Settings.ops must be one of {', '.join(OP_CHOICES)}, got {self.ops!r}")


def end_modules(model: nn.Module) -> list[str]:
    """Qualified names of the first Conv2d (the stem) and the last Linear (the classifier)."""
    from torch import nn

    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return [names[i] for names, i in ((convs, 0), (linears, -1)) if names]


def outside_modules(modules: list[str]) -> Callable[[Any], bool]:
    """A quantiser node filter: True for nodes that do not come from any of `modules` (or their children)."""

    def keep(node: Any) -> bool:
        paths = [str(v[0]) for v in node.meta.get("nn_module_stack", {}).values()]
        return not any(p == m or p.startswith(m + ".") for p in paths for m in modules)

    return keep


Q_ANNOTATION_KEY = "quantization_annotation"  # where PT2E quantisers put a node's annotation (torchao's key)
CONV_TARGETS = ("conv2d.default", "conv2d.padding")
CLAMP_TARGETS = ("hardtanh.default", "hardtanh_.default")  # ReLU6 (EfficientNet-Lite, MobileNetV2) is hardtanh(0, 6)


def _target(node: Any, names: tuple[str, ...]) -> bool:
    return node.op == "call_function" and any(str(node.target).endswith(n) for n in names)


def annotate_conv_clamp(graph: Any, config: Any, keep: Callable[[Any], bool] | None) -> int:
    """Annotate every conv whose only user is a hardtanh (ReLU6) as one int8 pattern; how many were annotated.

    XNNPACK's quantiser fuses conv + ReLU but not conv + ReLU6: it quantises the conv's output, then the clamp's
    with the same (pre-activation, mostly negative) range, so the program runs a separate int8 clamp after every
    conv and spends half the int8 levels on values ReLU6 throws away. Annotated like its conv + ReLU pattern
    instead (inputs and weights at the conv, the output only after the clamp), the clamp is fused into the conv
    by XNNPACK's FuseActivationPass and the output range is the clamp's [0, 6].
    """
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation
    from torchao.quantization.pt2e.quantizer.utils import (
        get_bias_qspec,
        get_input_act_qspec,
        get_output_act_qspec,
        get_weight_qspec,
    )

    if getattr(config.input_activation, "is_dynamic", False):
        return 0  # dynamic int8 leaves depthwise convs in float, which this pattern would quantise
    key = Q_ANNOTATION_KEY
    count = 0
    for clamp in graph.graph.nodes:
        conv = clamp.args[0] if _target(clamp, CLAMP_TARGETS) and clamp.args else None
        if conv is None or not _target(conv, CONV_TARGETS) or len(conv.users) != 1:
            continue
        weight, bias = conv.args[1], conv.args[2] if len(conv.args) > 2 else None
        partition = [n for n in (conv, clamp, weight, bias) if n is not None and hasattr(n, "meta")]
        if any(getattr(n.meta.get(key), "_annotated", False) for n in partition):
            continue
        if keep is not None and not all(keep(n) for n in partition):
            continue
        qspecs = {conv.args[0]: get_input_act_qspec(config), weight: get_weight_qspec(config)}
        if bias is not None and hasattr(bias, "meta"):
            qspecs[bias] = get_bias_qspec(config)
        conv.meta[key] = QuantizationAnnotation(input_qspec_map=qspecs, _annotated=True)
        clamp.meta[key] = QuantizationAnnotation(output_qspec=get_output_act_qspec(config), _annotated=True)
        for n in partition[2:]:
            n.meta.setdefault(key, QuantizationAnnotation())._annotated = True
        count += 1
    return count


PAD_TARGETS = ("pad.default", "constant_pad_nd.default")


def _zero_pad(node: Any) -> bool:
    """A constant zero padding (TF "same" padding: timm's tf_* models pad before their strided convs)."""
    if not _target(node, PAD_TARGETS):
        return False
    if str(node.target).endswith("constant_pad_nd.default"):
        return float(node.args[2] if len(node.args) > 2 else node.kwargs.get("value", 0.0)) == 0.0
    mode = node.args[2] if len(node.args) > 2 else node.kwargs.get("mode", "constant")
    value = node.args[3] if len(node.args) > 3 else node.kwargs.get("value")
    return mode == "constant" and float(value or 0.0) == 0.0


def share_pad_ranges(graph: Any) -> int:
    """Give every zero padding the int8 range of its (annotated) input; how many pads got one.

    XNNPACK's quantiser leaves padding unannotated: the program converts int8 -> fp32, pads in fp32 and converts
    back before every strided depthwise conv of a TF-padded model (13 % of Lite2's int8 time on 1 thread).
    With the range shared, `drop_pad_requantize` can hand XNNPACK a pad it runs in int8 and folds into the conv.
    """
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    key = Q_ANNOTATION_KEY
    count = 0
    for pad in graph.graph.nodes:
        source = pad.args[0] if _zero_pad(pad) else None
        annotation = source.meta.get(key) if source is not None and hasattr(source, "meta") else None
        if annotation is None or annotation.output_qspec is None or getattr(pad.meta.get(key), "_annotated", False):
            continue
        shared = SharedQuantizationSpec(source)
        pad.meta[key] = QuantizationAnnotation(input_qspec_map={source: shared}, output_qspec=shared, _annotated=True)
        count += 1
    return count


def drop_pad_requantize(converted: Any) -> int:
    """Remove the quantise/dequantise pair after each zero padding whose range is its input's; how many.

    Re-quantising with the input's own scale and zero point is the identity on int8 values (the padding 0.0 is
    exactly the zero point), so the graph computes the same numbers; without the pair, ExecuTorch's XNNPACK
    lowering (InsertPadQDQPass) serialises the pad as an int8 op that XNNPACK folds into the next conv.
    """
    graph = converted.graph
    count = 0
    for pad in list(graph.nodes):
        source = pad.args[0] if _zero_pad(pad) else None
        if source is None or not _target(source, ("dequantize_per_tensor.default",)) or len(pad.users) != 1:
            continue
        requant = next(iter(pad.users))
        if not _target(requant, (".quantize_per_tensor.default",)):  # the dot: not dequantize_per_tensor
            continue
        if tuple(requant.args[1:]) != tuple(source.args[1:]):
            continue
        for dequant in list(requant.users):
            dequant.replace_all_uses_with(pad)
            graph.erase_node(dequant)
        graph.erase_node(requant)
        count += 1
    if count:
        graph.lint()
        converted.recompile()
    return count


def build_quantizer(settings: XnnpackInt8Settings, family: str, model: nn.Module) -> Any:
    """The XNNPACKQuantizer for `settings`: per-channel symmetric int8 weights, int8 activations per tensor,
    conv + ReLU6 as one fused pattern (`annotate_conv_clamp`), zero paddings in their input's range."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    config = get_symmetric_quantization_config(is_per_channel=True)

    class SeefoodXnnpackQuantizer(XNNPACKQuantizer):
        def annotate(self, graph: Any) -> Any:
            fused = annotate_conv_clamp(graph, config, self.filter_fn)
            graph = super().annotate(graph)
            pads = share_pad_ranges(graph)
            log.info("XNNPACK PT2E int8: %d conv + ReLU6 pairs quantised as one fused op, %d zero paddings in "
                     "their input's range", fused, pads)
            return graph

    quantizer = SeefoodXnnpackQuantizer()
    if settings.ops == "weights" or family == "transformer":
        for op in (torch.ops.aten.conv2d.default, torch.ops.aten.linear.default):
            quantizer.set_operator_type(op, config)
    else:
        quantizer.set_global(config)
    if settings.keep_ends_float:
        quantizer.set_filter_function(outside_modules(end_modules(model)))
    return quantizer


def calibrated_pt2e(
    model: nn.Module, example: Any, calib: list[np.ndarray], quantizer: Any, fold_quantize: bool = True
) -> Any:
    """PT2E's common part for every recipe that uses it: `model` exported with a dynamic batch (traced on
    `example`, see `pt2e_example`), observed by `quantizer` on every calibration batch, then converted to a Q/DQ
    graph (what ExecuTorch and LiteRT lower)."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from seefood.export.formats.executorch import export_program

    # calibration batches come in any size, so the graph to observe always takes a dynamic batch
    prepared = prepare_pt2e(export_program(model, example, dynamic=True).module(), quantizer)
    with torch.no_grad():
        for batch in calib:
            prepared(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
    return convert_pt2e(prepared, fold_quantize=fold_quantize)


def pt2e_example(calib: list[np.ndarray]) -> Any:
    """Two copies of the first calibration image: the example a dynamic-batch export traces with."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(calib[0][:1], dtype=np.float32)).repeat(2, 1, 1, 1)


def quantize_executorch(
    fp32_dir: Path, model: nn.Module, meta: ModelMeta, calib: list[np.ndarray], out_dir: Path,
    settings: XnnpackInt8Settings = XnnpackInt8Settings(),
) -> Path:
    """PT2E-quantise `model` with calibration batches `calib` and lower it to `out_dir/model.pte` on XNNPACK."""
    from seefood.export.formats.executorch import export_program, lower_to_pte

    import_executorch()  # BackendMissingError with the install command, before any work
    require_file(Path(fp32_dir) / FP32_FILE, "the fp32 ExecuTorch program")
    n_images = calibration_images(calib)
    dynamic = static_batch(read_artifact_meta(fp32_dir)) is None
    family = model_family(meta, model)
    model = model.cpu().eval()
    log.info("XNNPACK PT2E int8: %s model, %s ops, %d calibration images%s", family,
             "conv/linear" if settings.ops == "weights" or family == "transformer" else "all", n_images,
             f", kept in float: {', '.join(end_modules(model))}" if settings.keep_ends_float else "")
    example = pt2e_example(calib)
    out_dir = Path(out_dir)
    with staged_files(out_dir, INT8_FILES) as tmp:
        try:
            converted = calibrated_pt2e(model, example, calib, build_quantizer(settings, family, model))
            drop_pad_requantize(converted)
            program = export_program(converted, example if dynamic else example[:1], dynamic)
        except Exception as exc:  # torch.export / torchao raise many unrelated types
            raise ExportError(f"XNNPACK PT2E quantisation failed: {type(exc).__name__}: {exc}") from exc
        lower_to_pte(program, tmp)
    return out_dir / INT8_FILES[0]


def _recipe(name: str, description: str, settings: XnnpackInt8Settings) -> Int8Recipe:
    return Int8Recipe(name, description, functools.partial(quantize_executorch, settings=settings))


EXECUTORCH_RECIPES: list[Int8Recipe] = [
    _recipe(
        "xnnpack-pt2e", "PT2E static int8 with the XNNPACK quantiser (per-channel symmetric int8 weights, int8 "
        "activations, histogram ranges); CNNs quantise every pattern, transformers only conv/linear",
        XnnpackInt8Settings(),
    ),
    _recipe(
        "xnnpack-pt2e-keep-ends", "as xnnpack-pt2e, with the first Conv2d and the classifier Linear left in float",
        XnnpackInt8Settings(keep_ends_float=True),
    ),
    _recipe(
        "xnnpack-pt2e-conservative", "only conv/linear in int8 and the ends in float: the fewest int8 ops, for a "
        "model that still misses parity", XnnpackInt8Settings(ops="weights", keep_ends_float=True),
    ),
]
