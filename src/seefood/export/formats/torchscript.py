"""TorchScript export: trace, save with the metadata as an extra file, and prove the file reloads."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import torch
from torch import nn

from seefood.errors import ExportError
from seefood.export.formats.base import Exporter, ExportSpec, quiet_tracing
from seefood.io import atomic_write_bytes
from seefood.metadata import ModelMeta
from seefood.runtimes.torchscript import MODEL_FILE, load_torchscript

EXTRA_FILE = "seefood.json"  # name of the metadata inside the TorchScript zip


class _Fp16(nn.Module):
    """Runs a half-precision model behind a float32 interface, so every runtime takes float32 input."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.half()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


def _check_backend() -> None:
    """TorchScript ships with torch: always available."""


def _unsupported(precision: str, device: str) -> str | None:
    if precision == "fp16" and device != "cuda":
        return "fp16 TorchScript runs on CUDA only (CPU kernels lack half precision): pass --device cuda"
    if precision not in ("fp32", "fp16"):
        return f"TorchScript exports fp32 or fp16, not {precision}"
    return None


def export_torchscript(
    model: nn.Module, meta: ModelMeta, sample_input: torch.Tensor, out_folder: Path, spec: ExportSpec
) -> Path:
    """Trace `model` to `out_folder/model.pt` and check that the written file reloads and agrees."""
    device = torch.device(spec.device)
    module: nn.Module = copy.deepcopy(model).to(device).eval()
    if spec.precision == "fp16":
        module = _Fp16(module).eval()
    example = sample_input.to(device)
    with torch.no_grad(), quiet_tracing():
        traced = torch.jit.trace(module, example, check_trace=False)
        # freeze folds weights into constants; optimize_for_inference is avoided on purpose: its files fail to reload
        traced = torch.jit.freeze(traced)
        expected = module(example).float()
    path = Path(out_folder) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with quiet_tracing():
        torch.jit.save(traced, str(path), _extra_files={EXTRA_FILE: json.dumps(meta.to_dict())})
    _verify_reload(path, example, expected, spec.dynamic_batch)
    return path


def _verify_reload(path: Path, example: torch.Tensor, expected: torch.Tensor, dynamic_batch: bool) -> None:
    """torch.jit.load the written file and compare its output: a trace that saves may still not load."""
    try:
        reloaded = load_torchscript(path, example.device)
        with torch.no_grad():
            got = reloaded(example).float()
            if dynamic_batch:  # a trace can bake the example's batch size into a reshape
                bigger = torch.cat([example, example[:1]])
                reloaded(bigger)
    except Exception as exc:  # jit raises RuntimeError, torch.jit.Error or shape errors
        raise ExportError(f"the TorchScript file {path} was written but does not reload and run: {exc}") from exc
    tol = 1e-2 if expected.dtype != got.dtype else 1e-3
    if got.shape != expected.shape or not torch.allclose(got, expected, atol=tol, rtol=tol):
        raise ExportError(f"the reloaded TorchScript file {path} disagrees with the traced model")


def embed_metadata(folder: Path, meta: ModelMeta) -> None:
    """Rewrite `model.pt` with `seefood.json` (the metadata) among its extra files."""
    path = Path(folder) / MODEL_FILE
    module = load_torchscript(path, None)  # keep the traced device: a CUDA fp16 trace stays on CUDA
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with quiet_tracing():
            torch.jit.save(module, str(tmp), _extra_files={EXTRA_FILE: json.dumps(meta.to_dict())})
        atomic_write_bytes(path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)


def read_metadata(folder: Path) -> ModelMeta | None:
    """The metadata embedded in `model.pt`, or None when the file has none."""
    extra = {EXTRA_FILE: ""}
    with quiet_tracing():
        torch.jit.load(str(Path(folder) / MODEL_FILE), map_location="cpu", _extra_files=extra)
    raw = extra[EXTRA_FILE]
    return ModelMeta.from_dict(json.loads(raw)) if raw else None


TORCHSCRIPT = Exporter(
    name="torchscript",
    check_backend=_check_backend,
    unsupported=_unsupported,
    export=export_torchscript,
    embed_metadata=embed_metadata,
    read_metadata=read_metadata,
)
