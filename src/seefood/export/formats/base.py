"""The Exporter record every format module fills in, and helpers the torch-based exporters share."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from seefood.metadata import ModelMeta

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class ExportSpec:
    """How one artifact is written."""

    precision: str  # fp32 or fp16 (int8 comes from seefood.export.quantize)
    device: str  # cpu or cuda: where the model is traced (fp16 TorchScript and TensorRT need cuda)
    dynamic_batch: bool  # True: any batch size; False: batch of one
    opset: int = 18  # ONNX opset


class ExportFn(Protocol):
    """Write the model file(s) of one artifact into `out_folder` and return the main file.

    `model` is the fp32 model in eval mode on the CPU; an exporter that needs it elsewhere (CUDA, half
    precision) works on a copy, so the caller's model is never changed.
    """

    def __call__(
        self, model: nn.Module, meta: ModelMeta, sample_input: torch.Tensor, out_folder: Path, spec: ExportSpec
    ) -> Path: ...


def no_facts(folder: Path) -> dict[str, Any]:
    """The facts of a format whose export measures nothing about its files."""
    return {}


@dataclass(frozen=True)
class Exporter:
    """How one artifact format is written: check its backend, export, embed / read metadata.

    The format's registry record (seefood.formats.FormatSpec) names this object as its `exporter`.
    """

    name: str  # its key in the format registry (seefood.formats), which owns its files and runtime
    check_backend: Callable[[], None]  # raises BackendMissingError (with the install command) when absent
    unsupported: Callable[[str, str], str | None]  # (precision, device) -> why it cannot, None when it can
    export: ExportFn
    embed_metadata: Callable[[Path, ModelMeta], None]  # write meta into the model file(s) of a folder
    read_metadata: Callable[[Path], ModelMeta | None]  # embedded meta of a folder; None: format cannot embed
    # what the export measured about the files it wrote (e.g. ExecuTorch's delegated share), merged into
    # the artifact's meta.extra; most formats record nothing
    facts: Callable[[Path], dict[str, Any]] = no_facts


@contextlib.contextmanager
def mha_fastpath_disabled() -> Iterator[None]:
    """Turn off nn.MultiheadAttention's fused fast path while tracing (exporters cannot convert it)."""
    import torch

    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


# exporter internals that log every graph pass at INFO; raised to WARNING while exporting
_CHATTY_LOGGERS = ("onnxscript", "onnx_ir", "torch.onnx", "torch.export", "torch._export")


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silence, for this block only, torch's deprecation/tracer warnings and the exporters' INFO chatter."""
    import torch

    loggers = [logging.getLogger(name) for name in _CHATTY_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        for lg in loggers:
            lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
