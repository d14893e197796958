"""The TensorRT runtime: an ExportedProgram (`model.ep`) compiled by torch_tensorrt; NVIDIA GPUs only."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from seefood.errors import BackendMissingError, ModelError
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes._torch import TorchModuleRuntime, torch_device

MODEL_FILE = FORMATS["tensorrt"].files[0]  # the registry owns the file names
BACKEND = "TensorRT (torch_tensorrt)"
INSTALL = "pip install 'seefood[tensorrt]' on a machine with an NVIDIA GPU"


def require_tensorrt() -> None:
    """Raise BackendMissingError unless torch_tensorrt imports and torch sees a CUDA GPU."""
    try:
        importlib.import_module("torch_tensorrt")
    except ImportError as exc:
        raise BackendMissingError(BACKEND, INSTALL, reason=f"import failed: {exc}") from None
    if not torch.cuda.is_available():
        raise BackendMissingError(BACKEND, INSTALL, reason="no CUDA GPU visible")


class TensorRTRuntime(TorchModuleRuntime):
    """A TensorRT engine embedded in a torch ExportedProgram, run on a CUDA device."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cuda", threads: int | None = None, exact: bool = False
    ) -> None:
        require_tensorrt()  # importing torch_tensorrt registers the engine op the program calls
        if not device.startswith("cuda"):
            raise BackendMissingError(BACKEND, reason=f"TensorRT runs on CUDA only, not {device!r}: pass --device cuda")
        dev = torch_device(device)
        file = Path(path) / MODEL_FILE
        if not file.is_file():
            raise ModelError(f"{file} not found: the TensorRT artifact is incomplete; export it again")
        module = torch.export.load(str(file)).module()
        super().__init__(path, module, meta, dev, threads, precision_ran=meta.precision)
