"""ONNX export with the dynamo exporter: opset >= 18 (read back from the file), dynamic batch, checked."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from seefood.errors import ExportError
from seefood.export.formats.base import Exporter, ExportSpec, mha_fastpath_disabled, quiet_tracing
from seefood.io import atomic_write_bytes
from seefood.metadata import ModelMeta
from seefood.runtimes.onnx import MODEL_FILE

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

METADATA_KEY = "seefood"  # metadata_props key holding the ModelMeta JSON
MIN_OPSET = 18


def _check_backend() -> None:
    """onnx, onnxscript and onnxruntime are core dependencies: always available."""


def _unsupported(precision: str, device: str) -> str | None:
    if precision != "fp32":
        return f"ONNX is exported in fp32 only ({precision}: use openvino or tensorrt for fp16, --int8 for int8)"
    return None


def export_onnx(
    model: nn.Module, meta: ModelMeta, sample_input: torch.Tensor, out_folder: Path, spec: ExportSpec
) -> Path:
    """Export to `out_folder/model.onnx` with torch.onnx's dynamo exporter and validate the file."""
    if spec.opset < MIN_OPSET:
        raise ExportError(f"ONNX opset {spec.opset} is too old: use {MIN_OPSET} or newer")
    example = sample_input.to("cpu")  # the graph is device-independent: trace the CPU model
    dynamic_shapes = ({0: torch.export.Dim("batch", min=1, max=4096)},) if spec.dynamic_batch else None
    path = Path(out_folder) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with torch.no_grad(), mha_fastpath_disabled(), quiet_tracing():
            program = torch.onnx.export(
                model, (example,), dynamo=True, opset_version=spec.opset, dynamic_shapes=dynamic_shapes,
                input_names=["input"], output_names=["logits"], external_data=False, verbose=False,
            )
    except Exception as exc:  # torch.export / onnxscript raise many unrelated types
        raise ExportError(f"torch.onnx.export failed for {meta.architecture}: {type(exc).__name__}: {exc}") from exc
    if program is None:
        raise ExportError("torch.onnx.export returned no program: this torch build lacks the dynamo exporter")
    proto = program.model_proto
    if importlib.util.find_spec("onnxslim") is not None:
        proto = _slim(proto)
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(meta.to_dict()))
    atomic_write_bytes(path, proto.SerializeToString())
    _validate(path, spec)
    return path


def _slim(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Simplify the graph with onnxslim (optional: used only when installed)."""
    import onnxslim

    log.info("simplifying the ONNX graph with onnxslim %s", getattr(onnxslim, "__version__", "?"))
    slimmed: onnx.ModelProto = onnxslim.slim(proto)
    return slimmed


def onnx_opset(path: Path) -> int:
    """The default-domain opset the file declares (what runtimes use, whatever was asked for)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ExportError(f"{path} declares no default-domain opset: the export is broken")
    return int(versions[0])


def _validate(path: Path, spec: ExportSpec) -> None:
    """onnx.checker, the opset actually written, and the batch axis."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"{path} fails onnx.checker: {exc}") from exc
    opset = onnx_opset(path)
    if opset < MIN_OPSET:
        raise ExportError(f"{path} was written with opset {opset} (asked for {spec.opset}); need >= {MIN_OPSET}")
    if opset != spec.opset:
        log.warning("asked for ONNX opset %d, the exporter wrote %d", spec.opset, opset)
    proto = onnx.load(str(path), load_external_data=False)
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    if spec.dynamic_batch and not batch_dim.dim_param:
        raise ExportError(f"{path} has a fixed batch of {batch_dim.dim_value}, but --batch dynamic was asked for")


def embed_metadata(folder: Path, meta: ModelMeta) -> None:
    """Set metadata_props["seefood"] of `model.onnx` to the metadata JSON (other props are kept)."""
    import onnx

    path = Path(folder) / MODEL_FILE
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    props[METADATA_KEY] = json.dumps(meta.to_dict())
    onnx.helper.set_model_props(proto, props)
    atomic_write_bytes(path, proto.SerializeToString())


def read_metadata(folder: Path) -> ModelMeta | None:
    """The metadata embedded in `model.onnx`, or None when it has none."""
    import onnx

    proto = onnx.load(str(Path(folder) / MODEL_FILE), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    return ModelMeta.from_dict(json.loads(props[METADATA_KEY])) if METADATA_KEY in props else None


ONNX = Exporter(
    name="onnx",
    check_backend=_check_backend,
    unsupported=_unsupported,
    export=export_onnx,
    embed_metadata=embed_metadata,
    read_metadata=read_metadata,
)
