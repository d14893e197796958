"""TensorRT export through torch_tensorrt's dynamo path (NVIDIA GPUs only; gated where it is missing).

Follows torch_tensorrt's documented API: torch_tensorrt.compile(model, ir="dynamo", inputs=[Input(...)],
enabled_precisions={...}) then torch_tensorrt.save(..., output_format="exported_program").
The program format cannot carry extra files, so the metadata lives in the sidecar seefood.json only.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from seefood.errors import ExportError
from seefood.export.formats.base import Exporter, ExportSpec
from seefood.metadata import ModelMeta
from seefood.runtimes.tensorrt import MODEL_FILE, require_tensorrt

MAX_BATCH = 64  # largest batch a dynamic-batch engine is built for
OPT_BATCH = 8  # the batch TensorRT tunes its kernels for


def _unsupported(precision: str, device: str) -> str | None:
    if device != "cuda":
        return "TensorRT builds engines on an NVIDIA GPU only: pass --device cuda"
    if precision not in ("fp32", "fp16"):
        return f"TensorRT exports fp32 or fp16 here, not {precision} (int8: pass --int8)"
    return None


def export_tensorrt(
    model: nn.Module, meta: ModelMeta, sample_input: torch.Tensor, out_folder: Path, spec: ExportSpec
) -> Path:
    """Compile an engine for `spec.precision` and save it as `out_folder/model.ep`."""
    require_tensorrt()
    import torch_tensorrt

    module = copy.deepcopy(model).to("cuda").eval()
    example = sample_input[:1].to("cuda")
    chw = tuple(example.shape[1:])
    if spec.dynamic_batch:
        spec_input = torch_tensorrt.Input(
            min_shape=(1, *chw), opt_shape=(OPT_BATCH, *chw), max_shape=(MAX_BATCH, *chw), dtype=torch.float32
        )
    else:
        spec_input = torch_tensorrt.Input((1, *chw), dtype=torch.float32)
    precisions = {torch.float16, torch.float32} if spec.precision == "fp16" else {torch.float32}
    try:
        engine = torch_tensorrt.compile(module, ir="dynamo", inputs=[spec_input], enabled_precisions=precisions)
        path = Path(out_folder) / MODEL_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        torch_tensorrt.save(engine, str(path), output_format="exported_program", inputs=[example])
    except Exception as exc:  # TensorRT build errors come as RuntimeError, AssertionError, ...
        raise ExportError(f"torch_tensorrt could not build an engine: {type(exc).__name__}: {exc}") from exc
    return path


def embed_metadata(folder: Path, meta: ModelMeta) -> None:
    """Nothing to embed: an ExportedProgram saved by torch_tensorrt keeps no extra files (sidecar only)."""


def read_metadata(folder: Path) -> ModelMeta | None:
    """TensorRT artifacts carry their metadata in the sidecar only."""
    return None


TENSORRT = Exporter(
    name="tensorrt",
    check_backend=require_tensorrt,
    unsupported=_unsupported,
    export=export_tensorrt,
    embed_metadata=embed_metadata,
    read_metadata=read_metadata,
)
