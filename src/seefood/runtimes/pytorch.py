"""The eager PyTorch runtime of a checkpoint folder: the fp32 reference every artifact is compared with.

It also runs a checkpoint's eager variants (seefood.runtimes.variants: bf16, torch.compile); their code is here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from seefood.checkpoint import load_checkpoint
from seefood.errors import BackendMissingError
from seefood.formats import resolve
from seefood.metadata import ModelMeta
from seefood.runtimes._torch import TorchModuleRuntime, has_conv2d, torch_device
from seefood.runtimes.variants import get_variant


class PyTorchRuntime(TorchModuleRuntime):
    """A seefood checkpoint (model.safetensors + meta.json) run eagerly in fp32, or as one of its eager variants."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None, exact: bool = False,
        variant: str = "",
    ) -> None:
        spec = get_variant(variant) if variant else None  # an unknown name fails before the model is loaded
        dev = torch_device(device)
        if spec is not None and (reason := str(resolve(spec.unavailable)(str(dev)))):
            raise BackendMissingError(f"the eager variant {spec.name!r}", reason=reason)
        model = load_checkpoint(path).model.to(dev).eval()
        # eager fp32 is always exact; CNNs run channels_last (the fastest eager layout: a fair reference)
        super().__init__(path, model, meta, dev, threads, precision_ran=spec.precision if spec else "fp32",
                         channels_last=has_conv2d(model))
        self.variant = spec.name if spec else ""
        if spec is not None:  # after channels_last, so bf16 weights and compiled graphs see the fast layout
            self._module = resolve(spec.apply)(self._module, dev)


class _CastInput(nn.Module):
    """Runs `module` on its input cast to `dtype` (the module's weights are already in it)."""

    def __init__(self, module: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.module = module
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(self.dtype))  # type: ignore[no-any-return]


def as_bf16(module: nn.Module, device: torch.device) -> nn.Module:
    """The module with its weights cast to bfloat16 once, taking float32 input (cast on entry).

    Not autocast: autocast keeps some ops (softmax, norms) in fp32 and re-casts every weight on every call, the
    right trade for training; a deployed bf16 model casts its weights once, as the fp16 TorchScript export does.
    """
    return _CastInput(module.to(torch.bfloat16), torch.bfloat16)


def compiled(module: nn.Module, device: torch.device) -> nn.Module:
    """torch.compile with inductor's default mode and static shapes (one specialised graph per batch size).

    Compilation happens on the first call of each input shape: the bench's first_run_ms shows it, warm-up absorbs
    it. Static shapes, because a server runs a fixed batch size and a dynamic graph is slower at each of them (past
    dynamo's recompile limit, 8 shapes, a new shape would run eagerly: a bench times a few batch sizes).
    """
    return torch.compile(module, dynamic=False)  # type: ignore[return-value]


def bf16_unavailable(device: str) -> str:
    """bf16 runs on every CPU (natively with AVX512-BF16 / AMX, emulated otherwise); on CUDA from Ampere on."""
    if device.startswith("cuda") and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        return (f"{torch.cuda.get_device_name(torch_device(device))} has no bfloat16 support "
                f"(needs compute capability 8.0+, Ampere or newer)")
    return ""


def compile_unavailable(device: str) -> str:
    """torch.compile needs dynamo on this Python; inductor needs a C++ compiler on the CPU and triton on CUDA."""
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile is not supported by torch {torch.__version__} on this Python: upgrade torch"
    if device.startswith("cuda"):
        if importlib.util.find_spec("triton") is None:
            return "torch.compile on CUDA needs triton (it comes with the CUDA wheels of torch): pip install triton"
        if torch.cuda.is_available() and torch.cuda.get_device_capability(torch_device(device)) < (7, 0):
            return "torch.compile's triton kernels need a GPU of compute capability 7.0 or newer"
        return ""
    return _cpp_compiler_missing()


def _cpp_compiler_missing() -> str:
    """Why inductor cannot compile C++ for the CPU here ("" when it finds a compiler)."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler  # inductor's own search ($CXX, g++, ...)
    except ImportError:  # the private helper moved: look for what it looks for
        import os
        import shutil

        found = shutil.which(os.environ.get("CXX") or "g++")
        return "" if found else _NO_CXX
    try:
        get_cpp_compiler()
    except Exception as exc:  # noqa: BLE001 -- inductor raises its own (private) error types for a missing compiler
        return f"{_NO_CXX} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
    return ""


_NO_CXX = ("torch.compile on the CPU needs a C++ compiler and found none: install one (apt-get install g++) "
           "or point $CXX at it")
