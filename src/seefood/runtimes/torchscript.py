"""The TorchScript runtime: `model.pt` written by the TorchScript exporter."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from seefood.errors import ModelError
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes._torch import TorchModuleRuntime, torch_device

MODEL_FILE = FORMATS["torchscript"].files[0]  # the registry owns the file names


def load_torchscript(file: Path, device: torch.device | None) -> torch.jit.ScriptModule:
    """torch.jit.load (None: onto the devices it was saved from) without torch 2.9+'s deprecation warning."""
    if not file.is_file():
        raise ModelError(f"{file} not found: the TorchScript artifact is incomplete; export it again")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        try:
            return torch.jit.load(str(file), map_location=device)
        except RuntimeError as exc:
            raise ModelError(f"could not load {file} as TorchScript ({exc}); export it again") from exc


class TorchScriptRuntime(TorchModuleRuntime):
    """A traced TorchScript module; fp16 artifacts cast inside the module, so the API stays float32."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None, exact: bool = False
    ) -> None:
        dev = torch_device(device)
        module = load_torchscript(Path(path) / MODEL_FILE, dev).eval()
        super().__init__(path, module, meta, dev, threads, precision_ran=meta.precision)
