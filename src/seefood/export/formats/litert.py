"""LiteRT export (formerly TensorFlow Lite): litert_torch.convert -> `model.tflite`, run by ai_edge_litert.

litert-torch (the renamed ai-edge-torch) runs torch.export on the model and lowers it through StableHLO to a
flatbuffer; the NCHW input is kept (a transpose to NHWC is inside the program). The program has a batch of one:
litert-torch 0.10 cannot lower a dynamic batch through `flatten` ("Shapes must be 1D sequences of concrete
values", measured on the tiny model), and a phone classifies one photo at a time; the runtime runs larger
batches image by image. A `.tflite` could carry metadata buffers, but like ExecuTorch the seefood metadata
lives in the sidecar seefood.json only. `ops.json` records what the interpreter's XNNPACK delegate took.

Optional extra `litert`, not part of `all` (see seefood.runtimes.litert.NOT_IN_ALL for the measured reason).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seefood.errors import BackendMissingError, ExportError
from seefood.export.formats.base import Exporter, ExportSpec, mha_fastpath_disabled, quiet_tracing
from seefood.io import atomic_write_json
from seefood.metadata import ModelMeta
from seefood.runtimes.litert import BACKEND, INSTALL, MODEL_FILE, NOT_IN_ALL, import_interpreter

if TYPE_CHECKING:
    import torch
    from torch import nn

OPS_FILE = "ops.json"  # what the interpreter delegated to XNNPACK, beside model.tflite


def import_litert_torch() -> Any:
    """The litert_torch module (and ai_edge_litert, which runs what it writes), or BackendMissingError."""
    import_interpreter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import litert_torch
    except ImportError as exc:
        raise BackendMissingError(f"{BACKEND} (litert-torch)", INSTALL, reason=f"import failed: {exc}",
                                  fix=NOT_IN_ALL) from None
    return litert_torch


def _check_backend() -> None:
    import_litert_torch()


def _unsupported(precision: str, device: str) -> str | None:
    if precision != "fp32":
        return f"LiteRT is exported as fp32 here, not {precision} (int8: pass --int8)"
    return None


@contextlib.contextmanager
def quiet_converter() -> Iterator[Any]:
    """litert_torch with its progress console off and its root-logger chatter at WARNING+, for this block."""
    litert_torch = import_litert_torch()
    from litert_torch import _config

    before = _config.config.show_progress
    _config.config.show_progress = False
    root = logging.getLogger()
    root.addFilter(_not_training_mode)
    try:
        with quiet_tracing(), mha_fastpath_disabled():
            yield litert_torch
    finally:
        _config.config.show_progress = before
        root.removeFilter(_not_training_mode)


def _not_training_mode(record: logging.LogRecord) -> bool:
    """Drop litert-torch's INFO chatter ("Use JAX lowering: aten.mm", one line per operator) and its "converted in
    training mode" warning (a PT2E GraphModule keeps training=True in eval); its other warnings pass."""
    if "litert_torch" in record.pathname and record.levelno < logging.WARNING:
        return False
    return "converted in training mode" not in record.getMessage()


def convert_to_tflite(
    module: nn.Module, example: torch.Tensor, out_folder: Path, quant_config: Any = None
) -> Path:
    """litert_torch.convert `module` for `example` (batch 1) and write out_folder/model.tflite + ops.json."""
    folder = Path(out_folder)
    try:
        with quiet_converter() as litert_torch:
            edge = litert_torch.convert(module, (example,), quant_config=quant_config)
            folder.mkdir(parents=True, exist_ok=True)
            edge.export(str(folder / MODEL_FILE))
    except BackendMissingError:
        raise
    except Exception as exc:  # torch.export, jax lowering and the MLIR converter raise unrelated types
        raise ExportError(f"litert-torch could not convert the model: {type(exc).__name__}: {exc}") from exc
    atomic_write_json(folder / OPS_FILE, delegation_summary(folder / MODEL_FILE))
    return folder / MODEL_FILE


def delegation_summary(file: Path) -> dict[str, Any]:
    """The program's input, and which of its operators the interpreter's XNNPACK delegate took.

    After allocate_tensors the node list holds the program's operators followed by one DELEGATE node per
    delegated partition; an operator belongs to a partition when it lies between the partition's inputs and
    outputs (walked back from its outputs), and everything else runs on LiteRT's builtin kernels.
    """
    interpreter = import_interpreter()(model_path=str(file), num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    nodes = interpreter._get_ops_details()
    ops = [n for n in nodes if n["op_name"] != "DELEGATE"]
    producer = {int(t): i for i, n in enumerate(ops) for t in n["outputs"]}
    taken: set[int] = set()
    for partition in (n for n in nodes if n["op_name"] == "DELEGATE"):
        boundary = {int(t) for t in partition["inputs"]}
        todo = [int(t) for t in partition["outputs"]]
        while todo:
            tensor = todo.pop()
            op = producer.get(tensor)
            if tensor in boundary or op is None or op in taken:
                continue
            taken.add(op)
            todo += [int(t) for t in ops[op]["inputs"] if t >= 0]
    int8 = sum(1 for n in ops if any(np.dtype(t) == np.int8 for t in n["operand_types"]))
    outside: dict[str, int] = {}
    for i, n in enumerate(ops):
        if i not in taken:
            outside[n["op_name"]] = outside.get(n["op_name"], 0) + 1
    return {
        "input_shape": [int(n) for n in detail["shape"]], "input_dtype": np.dtype(detail["dtype"]).name,
        "ops": len(ops), "xnnpack_partitions": len(nodes) - len(ops), "xnnpack_ops": len(taken),
        "xnnpack_share": round(len(taken) / len(ops), 4) if ops else 0.0, "outside_xnnpack": dict(sorted(outside.items())),
        "int8_ops": int8,
    }


def export_litert(
    model: nn.Module, meta: ModelMeta, sample_input: torch.Tensor, out_folder: Path, spec: ExportSpec
) -> Path:
    """Export fp32 `model` to `out_folder/model.tflite` for a batch of one NCHW image."""
    module = copy.deepcopy(model).cpu().eval()
    return convert_to_tflite(module, sample_input[:1].to("cpu").contiguous(), out_folder)


def litert_facts(folder: Path) -> dict[str, Any]:
    """extra["litert"] of the metadata: the record convert_to_tflite wrote (an ExportError when it is missing)."""
    file = Path(folder) / OPS_FILE
    if not file.is_file():
        raise ExportError(f"{file} not found: the LiteRT export did not record its operators; export it again")
    return {"litert": json.loads(file.read_text(encoding="utf-8"))}


def embed_metadata(folder: Path, meta: ModelMeta) -> None:
    """Nothing to embed: the seefood metadata of a .tflite lives in the sidecar."""


def read_metadata(folder: Path) -> ModelMeta | None:
    """LiteRT artifacts carry their metadata in the sidecar only."""
    return None


LITERT = Exporter(
    name="litert",
    check_backend=_check_backend,
    unsupported=_unsupported,
    export=export_litert,
    embed_metadata=embed_metadata,
    read_metadata=read_metadata,
    facts=litert_facts,
)
