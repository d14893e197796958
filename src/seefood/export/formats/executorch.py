"""ExecuTorch export: torch.export -> XNNPACK partitioner -> `model.pte`, with a check that XNNPACK got the graph.

Follows ExecuTorch 1.5's documented flow: torch.export.export(model, inputs, dynamic_shapes=...) then
executorch.exir.to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().
Whatever the partitioner leaves behind runs on ExecuTorch's portable kernels, which are orders of magnitude
slower than XNNPACK: the lowering counts what was delegated, refuses a graph whose convolutions or matrix
products stay outside XNNPACK, and writes the count to `delegation.json` (recorded in the metadata as
extra["delegation"]). A `.pte` cannot carry extra data, so the metadata lives in the sidecar seefood.json only.
"""

from __future__ import annotations

import copy
import json
import operator
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seefood.errors import ExportError
from seefood.export.formats.base import Exporter, ExportSpec, mha_fastpath_disabled, quiet_tracing
from seefood.io import atomic_write_json
from seefood.metadata import ModelMeta
from seefood.runtimes.executorch import MODEL_FILE, XNNPACK, import_executorch

DELEGATION_FILE = "delegation.json"  # what the lowering delegated, beside model.pte
# the batch bound a dynamic-batch program is exported with; ExecuTorch 1.5 memory-planned the tiny model for 15
# images with any bound from 16 up (measured), so the runtime reads the planned size from the program itself
MAX_BATCH = 16
# ops that carry weights and nearly all the compute: any of them left to portable kernels fails the export
COMPUTE_OPS = re.compile(r"^aten\.(convolution|conv\d?d|linear|addmm|mm|bmm|matmul|_scaled_dot_product\w*)\b")
# graph plumbing that is not an operator run by a kernel: not counted either way
_BOOKKEEPING = ("executorch_call_delegate", "getitem", "sym_size", "sym_numel", "sym_stride")


def _check_backend() -> None:
    import_executorch()


def _unsupported(precision: str, device: str) -> str | None:
    if precision != "fp32":
        return f"ExecuTorch (XNNPACK) is exported as fp32 here, not {precision} (int8: pass --int8)"
    return None


def batch_dim(model: nn.Module, dynamic: bool) -> dict[str, Any] | None:
    """torch.export's dynamic_shapes for a batch axis of 1..MAX_BATCH on the first forward argument."""
    if not dynamic:
        return None
    import inspect

    first = next(iter(inspect.signature(model.forward).parameters))
    return {first: {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}


def export_program(model: nn.Module, example: torch.Tensor, dynamic: bool) -> torch.export.ExportedProgram:
    """torch.export of an eval-mode model for one image batch (the MHA fast path off: it has no export)."""
    with torch.no_grad(), mha_fastpath_disabled(), quiet_tracing():
        return torch.export.export(model, (example,), dynamic_shapes=batch_dim(model, dynamic))


def _op_name(target: Any) -> str:
    """'aten.convolution.default' for an aten or edge-dialect operator; the function or operator name otherwise."""
    if target is operator.getitem:
        return "getitem"
    op = getattr(target, "_op", target)  # an edge-dialect overload wraps the aten OpOverload
    if isinstance(op, torch._ops.OpOverload):
        return str(op)
    name = getattr(target, "name", None)  # a higher-order operator (executorch_call_delegate) has name()
    return str(name()) if callable(name) else str(getattr(target, "__name__", target))


def delegation_summary(graph_module: torch.fx.GraphModule) -> dict[str, Any]:
    """Operators inside XNNPACK subgraphs vs operators left to portable kernels, and the delegated share."""
    delegated = 0
    undelegated: dict[str, int] = {}
    subgraphs = 0
    for node in graph_module.graph.nodes:
        if node.op == "get_attr" and node.name.startswith("lowered_module_"):
            lowered = getattr(graph_module, node.target)
            subgraphs += 1
            delegated += sum(1 for n in lowered.original_module.graph.nodes
                             if n.op == "call_function" and not _bookkeeping(_op_name(n.target)))
        elif node.op == "call_function":
            name = _op_name(node.target)
            if not _bookkeeping(name):
                undelegated[name] = undelegated.get(name, 0) + 1
    total = delegated + sum(undelegated.values())
    return {
        "backend": XNNPACK, "subgraphs": subgraphs, "delegated_ops": delegated,
        "undelegated_ops": sum(undelegated.values()), "delegated_share": round(delegated / total, 4) if total else 0.0,
        "undelegated": dict(sorted(undelegated.items())),
    }


def _bookkeeping(name: str) -> bool:
    return any(word in name for word in _BOOKKEEPING)


def delegation_problem(summary: dict[str, Any]) -> str | None:
    """Why a lowered graph is not really an XNNPACK program, or None when its compute runs in XNNPACK."""
    if summary["subgraphs"] == 0 or summary["delegated_ops"] == 0:
        return f"nothing was delegated to {XNNPACK}: every operator would run on portable kernels"
    heavy = sorted(op for op in summary["undelegated"] if COMPUTE_OPS.match(op))
    if heavy:
        return (f"{', '.join(heavy)} stayed outside {XNNPACK} (delegated share {summary['delegated_share']:.0%}) "
                f"and would run on portable kernels, orders of magnitude slower")
    return None


def _partitioners() -> list[Any]:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

    return [XnnpackPartitioner()]


def lower_to_pte(program: torch.export.ExportedProgram, out_folder: Path) -> Path:
    """Lower an exported program with the XNNPACK partitioner, check the delegation, write model.pte + its record."""
    import_executorch()
    from executorch.exir import to_edge_transform_and_lower

    try:
        with quiet_tracing():
            edge = to_edge_transform_and_lower(program, partitioner=_partitioners())
            summary = delegation_summary(edge.exported_program().graph_module)
            problem = delegation_problem(summary)
            if problem is not None:
                raise ExportError(f"the ExecuTorch program is not delegated to XNNPACK: {problem}")
            pte = edge.to_executorch()
    except ExportError:
        raise
    except Exception as exc:  # exir raises InternalError, RuntimeError, torch._dynamo errors, ...
        raise ExportError(f"ExecuTorch could not lower the model: {type(exc).__name__}: {exc}") from exc
    folder = Path(out_folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    path.write_bytes(pte.buffer)
    atomic_write_json(folder / DELEGATION_FILE, summary)
    return path


def export_executorch(
    model: nn.Module, meta: ModelMeta, sample_input: torch.Tensor, out_folder: Path, spec: ExportSpec
) -> Path:
    """Export fp32 `model` to `out_folder/model.pte`, lowered to XNNPACK (batch 1, or 1..MAX_BATCH when dynamic)."""
    module = copy.deepcopy(model).cpu().eval()
    example = sample_input[:1].to("cpu")
    if spec.dynamic_batch:  # torch.export turns a batch axis whose example size is 1 into a constant
        example = example.repeat(2, 1, 1, 1)
    try:
        program = export_program(module, example, spec.dynamic_batch)
    except Exception as exc:  # torch.export raises UserError, Unsupported, RuntimeError, ...
        raise ExportError(f"torch.export failed for {meta.architecture}: {type(exc).__name__}: {exc}") from exc
    return lower_to_pte(program, out_folder)


def delegation_facts(folder: Path) -> dict[str, Any]:
    """extra["delegation"] of the metadata: the record lower_to_pte wrote (an ExportError when it is missing)."""
    file = Path(folder) / DELEGATION_FILE
    if not file.is_file():
        raise ExportError(f"{file} not found: the ExecuTorch export did not record its delegation; export it again")
    return {"delegation": json.loads(file.read_text(encoding="utf-8"))}


def embed_metadata(folder: Path, meta: ModelMeta) -> None:
    """Nothing to embed: a .pte program keeps no extra data (sidecar only)."""


def read_metadata(folder: Path) -> ModelMeta | None:
    """ExecuTorch artifacts carry their metadata in the sidecar only."""
    return None


EXECUTORCH = Exporter(
    name="executorch",
    check_backend=_check_backend,
    unsupported=_unsupported,
    export=export_executorch,
    embed_metadata=embed_metadata,
    read_metadata=read_metadata,
    facts=delegation_facts,
)
