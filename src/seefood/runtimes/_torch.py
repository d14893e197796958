"""Shared plumbing of the runtimes that execute a torch module (PyTorch, TorchScript, TensorRT)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from seefood.errors import BackendMissingError, ConfigError
from seefood.metadata import ModelMeta
from seefood.runtimes.base import run_in_chunks, static_batch
from seefood.threads import resolve_threads


def torch_device(device: str) -> torch.device:
    """`cpu` or `cuda[:N]` as a torch.device; CUDA without a visible GPU is a clear error."""
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BackendMissingError(
                "CUDA", "a CUDA build of torch on a machine with an NVIDIA GPU", reason="torch sees no GPU"
            )
        return torch.device(device)
    raise ConfigError(f"unknown device {device!r} for a torch runtime: use cpu or cuda")


class TorchModuleRuntime:
    """Runs a loaded torch module: float32 numpy in, float32 numpy logits out, on one device."""

    def __init__(
        self, path: Path, module: nn.Module, meta: ModelMeta, device: torch.device, threads: int | None,
        precision_ran: str, channels_last: bool = False,
    ) -> None:
        self.path = Path(path)
        self.meta = meta
        self.device = str(device)
        self.threads = resolve_threads(threads)
        self.precision_ran = precision_ran
        self._torch_device = device
        self._module = module
        self._max_batch = static_batch(meta)
        # NHWC: what a CNN runs fastest in eagerly (EfficientNet-B2 @288, 2 threads: ~40 vs ~50 ms NCHW)
        self.channels_last = channels_last
        if channels_last:
            self._module = module.to(memory_format=torch.channels_last)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch -> float32 logits (N, num_classes)."""
        # torch's intra-op pool is process-wide: set it only when another runtime changed it
        if self._torch_device.type == "cpu" and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        return run_in_chunks(self._run, batch, self._max_batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self._torch_device, non_blocking=True)
            if self.channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            out = self._module(x)
        return out.float().cpu().numpy()

    def sync(self) -> None:
        """Wait for queued CUDA work (a no-op on CPU)."""
        if self._torch_device.type == "cuda":
            torch.cuda.synchronize(self._torch_device)


def has_conv2d(module: nn.Module) -> bool:
    """Whether an eager module has 2-D convolutions (then channels_last is its fast layout)."""
    return any(isinstance(m, nn.Conv2d) for m in module.modules())
