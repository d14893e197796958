"""The eager PyTorch runtime of a checkpoint folder: the fp32 reference every artifact is compared with."""

from __future__ import annotations

from pathlib import Path

from seefood.checkpoint import load_checkpoint
from seefood.metadata import ModelMeta
from seefood.runtimes._torch import TorchModuleRuntime, has_conv2d, torch_device


class PyTorchRuntime(TorchModuleRuntime):
    """A seefood checkpoint (model.safetensors + meta.json) run eagerly in fp32."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None, exact: bool = False
    ) -> None:
        dev = torch_device(device)
        model = load_checkpoint(path).model.to(dev).eval()
        # eager fp32 is always exact; CNNs run channels_last (the fastest eager layout: a fair reference)
        super().__init__(path, model, meta, dev, threads, precision_ran="fp32", channels_last=has_conv2d(model))
