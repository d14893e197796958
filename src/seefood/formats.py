"""The format registry: one torch-free `FormatSpec` per artifact format, the one owner of what seefood knows
about it — its files, exporter, runtime, int8 recipes and what a Space serving it installs.

The code behind a format is named by lazy "module:attr" references, imported only when that format is used,
so reading the registry (CLI help, config validation, the Space builder) never imports torch or a backend.
Adding a format is one exporter module (export/formats/), one runtime module (runtimes/) and one line in
FORMATS below; the export CLI, validation, planning, the runtimes, int8 and the Space all read it from here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from seefood.errors import ConfigError


@dataclass(frozen=True)
class SpaceRequirement:
    """What a Space serving one artifact format installs (pinned to the installed version when built)."""

    distribution: str  # pip name, pinned to the installed version (the benchmark measured that one)
    imports: tuple[str, ...]  # top-level modules it provides to the bundled code
    install: str  # how to get it here, for the error when it is missing


@dataclass(frozen=True)
class FormatSpec:
    """Everything about one artifact format; code is referenced as "module:attr" and imported on use."""

    name: str  # registry key, CLI value, ModelMeta.format, and the artifact folder's prefix (<name>-<precision>)
    files: tuple[str, ...]  # the model file(s) inside an artifact folder (the first is the one runtimes open)
    runtime: str  # "module:Class" of its Runtime, built as Class(path, meta=, device=, threads=)
    runtime_devices: tuple[str, ...] = ("cpu",)  # devices its runtime runs on; parity falls back to cpu otherwise
    exporter: str | None = None  # "module:ATTR" of its export.formats.base.Exporter; None: not an export target
    int8_recipes: str | None = None  # "module:ATTR" of its list of Int8Recipe, tried in order; None: no int8
    space: SpaceRequirement | None = None  # what a torch-free Space serving it installs; None: it needs torch
    # deploy targets it is made for, the presets of `seefood pick --target` ("space" is every format with `space`)
    targets: tuple[str, ...] = ()
    description: str = ""


_EXPORT = "seefood.export.formats"
_QUANTIZE = "seefood.export.quantize"

# format key -> spec; the order is the order of the export summary table and of the CLI help
FORMATS: dict[str, FormatSpec] = {spec.name: spec for spec in (
    FormatSpec("pytorch", ("model.safetensors",), "seefood.runtimes.pytorch:PyTorchRuntime", ("cpu", "cuda"),
               description="a seefood checkpoint folder run eagerly: the fp32 reference every artifact is checked against"),
    FormatSpec("torchscript", ("model.pt",), "seefood.runtimes.torchscript:TorchScriptRuntime", ("cpu", "cuda"),
               exporter=f"{_EXPORT}.torchscript:TORCHSCRIPT", description="torch.jit.trace, metadata in the zip"),
    FormatSpec("onnx", ("model.onnx",), "seefood.runtimes.onnx:OnnxRuntime", ("cpu", "cuda"),
               exporter=f"{_EXPORT}.onnx:ONNX", int8_recipes=f"{_QUANTIZE}.onnx:ONNX_RECIPES",
               space=SpaceRequirement("onnxruntime", ("onnxruntime",), "pip install onnxruntime"),
               description="dynamo exporter, opset >= 18, run by ONNX Runtime"),
    FormatSpec("openvino", ("model.xml", "model.bin"), "seefood.runtimes.openvino:OpenVinoRuntime", ("cpu",),
               exporter=f"{_EXPORT}.openvino:OPENVINO", int8_recipes=f"{_QUANTIZE}.openvino:OPENVINO_RECIPES",
               space=SpaceRequirement("openvino", ("openvino",), "pip install 'seefood[openvino]'"),
               description="OpenVINO IR (the openvino extra); int8 through NNCF"),
    FormatSpec("tensorrt", ("model.ep",), "seefood.runtimes.tensorrt:TensorRTRuntime", ("cuda",),
               exporter=f"{_EXPORT}.tensorrt:TENSORRT",
               description="a TensorRT engine inside a torch ExportedProgram (torch_tensorrt, NVIDIA GPUs)"),
    FormatSpec("executorch", ("model.pte",), "seefood.runtimes.executorch:ExecuTorchRuntime", ("cpu",),
               exporter=f"{_EXPORT}.executorch:EXECUTORCH", int8_recipes=f"{_QUANTIZE}.executorch:EXECUTORCH_RECIPES",
               targets=("mobile",), description="ExecuTorch program lowered to XNNPACK for phones (the mobile extra)"),
    FormatSpec("litert", ("model.tflite",), "seefood.runtimes.litert:LiteRTRuntime", ("cpu",),
               exporter=f"{_EXPORT}.litert:LITERT", int8_recipes=f"{_QUANTIZE}.litert:LITERT_RECIPES",
               targets=("mobile",),
               description="LiteRT (TensorFlow Lite) flatbuffer from litert-torch for phones (the litert extra)"),
)}


def get_format(name: str) -> FormatSpec:
    """Look a format up by name; the error lists the valid names."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown format {name!r}: use one of {', '.join(FORMATS)}") from None


def export_formats() -> tuple[str, ...]:
    """Formats `seefood export` writes (every format with an exporter), in registry order."""
    return tuple(name for name, spec in FORMATS.items() if spec.exporter is not None)


def int8_formats() -> tuple[str, ...]:
    """Formats with int8 recipes, in registry order."""
    return tuple(name for name, spec in FORMATS.items() if spec.int8_recipes is not None)


def space_formats() -> tuple[str, ...]:
    """Formats a torch-free Space can serve, in registry order."""
    return tuple(name for name, spec in FORMATS.items() if spec.space is not None)


def deploy_targets() -> dict[str, tuple[str, ...]]:
    """Deploy target -> the formats that run there, in registry order: space (what a torch-free Space serves),
    then every target a FormatSpec names (mobile, ...)."""
    targets = {"space": space_formats()}
    for name, spec in FORMATS.items():
        for key in spec.targets:
            targets[key] = (*targets.get(key, ()), name)
    return targets


def target_formats(target: str) -> tuple[str, ...]:
    """The formats of one deploy target (deploy_targets); an unknown target is a ConfigError naming the known."""
    targets = deploy_targets()
    try:
        return targets[target]
    except KeyError:
        raise ConfigError(f"unknown target {target!r}: use one of {', '.join(targets)}, or name the formats") from None


def resolve(ref: str) -> Any:
    """The object a "module:attr" reference names (importing its module)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
