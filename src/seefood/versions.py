"""Library versions and host facts recorded in every artifact and report."""

from __future__ import annotations

import importlib.metadata
import platform

_PACKAGES = (
    "seefood", "torch", "torchvision", "numpy", "pillow", "onnx", "onnxruntime", "openvino", "nncf",
    "torch_tensorrt", "executorch", "litert-torch", "ai-edge-litert", "torchao", "torch-pruning",
    "safetensors", "gradio",
)


def library_versions(packages: tuple[str, ...] = _PACKAGES) -> dict[str, str]:
    """Installed versions of the packages seefood cares about (missing ones are left out)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out
