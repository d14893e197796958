"""One Runtime per artifact format behind a single protocol; `load_runtime` picks the class.

Only the PyTorch and TorchScript runtimes import torch, so ONNX and OpenVINO artifacts can be
served where torch is not installed (the Hugging Face Space).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from seefood.errors import ModelError
from seefood.metadata import ModelMeta
from seefood.runtimes.base import ARTIFACT_META, Runtime, predict, softmax, top_k

# format key -> "module:Class"; modules are imported only when that format is loaded
RUNTIMES: dict[str, str] = {
    "pytorch": "seefood.runtimes.pytorch:PyTorchRuntime",
    "torchscript": "seefood.runtimes.torchscript:TorchScriptRuntime",
    "onnx": "seefood.runtimes.onnx:OnnxRuntime",
    "openvino": "seefood.runtimes.openvino:OpenVinoRuntime",
    "tensorrt": "seefood.runtimes.tensorrt:TensorRTRuntime",
}


def read_artifact_meta(path: str | Path) -> ModelMeta:
    """Metadata of an artifact folder (`seefood.json`) or a checkpoint folder (`meta.json`)."""
    path = Path(path)
    for name in (ARTIFACT_META, "meta.json"):
        if (path / name).is_file():
            try:
                return ModelMeta.from_dict(json.loads((path / name).read_text(encoding="utf-8")))
            except (ValueError, json.JSONDecodeError) as exc:
                raise ModelError(f"{path / name} is not valid seefood metadata: {exc}") from exc
    raise ModelError(
        f"{path} is not a seefood artifact or checkpoint (no {ARTIFACT_META} or meta.json): "
        f"pass a folder written by `seefood export` or `seefood train`"
    )


def load_runtime(path: str | Path, device: str = "cpu", threads: int | None = None) -> Runtime:
    """Load any seefood artifact (or checkpoint) folder for inference on `device`."""
    meta = read_artifact_meta(path)
    try:
        target = RUNTIMES[meta.format]
    except KeyError:
        raise ModelError(f"unknown artifact format {meta.format!r}: known are {', '.join(RUNTIMES)}") from None
    module_name, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(Path(path), meta=meta, device=device, threads=threads)  # type: ignore[no-any-return]


__all__ = ["ARTIFACT_META", "RUNTIMES", "Runtime", "load_runtime", "predict", "read_artifact_meta", "softmax", "top_k"]
