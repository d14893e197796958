"""OpenVINO IR export: ov.convert_model from the torch model, saved fp32 or with fp16-compressed weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from seefood.errors import ExportError
from seefood.export.formats.base import Exporter, ExportSpec, mha_fastpath_disabled, quiet_tracing
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes.openvino import MODEL_FILE, import_openvino

WEIGHTS_FILE = FORMATS["openvino"].files[1]  # the registry owns the file names
RT_INFO_KEY = "seefood"  # rt_info["seefood"] holds the ModelMeta JSON


def _check_backend() -> None:
    import_openvino()


def _unsupported(precision: str, device: str) -> str | None:
    if precision not in ("fp32", "fp16"):
        return f"OpenVINO IR is exported as fp32 or fp16 weights, not {precision} (int8: pass --int8)"
    return None


def export_openvino(
    model: nn.Module, meta: ModelMeta, sample_input: torch.Tensor, out_folder: Path, spec: ExportSpec
) -> Path:
    """Convert to `out_folder/model.xml` + `model.bin`; fp16 stores fp16 weights (computation picks at run time)."""
    ov = import_openvino()
    example = sample_input.to("cpu")
    shape = [-1 if spec.dynamic_batch else 1, *example.shape[1:]]
    try:
        with torch.no_grad(), mha_fastpath_disabled(), quiet_tracing():
            ov_model = ov.convert_model(model, example_input=example, input=[shape])
    except Exception as exc:  # the PyTorch frontend raises OpConversionFailure, RuntimeError, ...
        raise ExportError(f"ov.convert_model failed for {meta.architecture}: {type(exc).__name__}: {exc}") from exc
    ov_model.set_rt_info(json.dumps(meta.to_dict()), [RT_INFO_KEY])
    path = Path(out_folder) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # save_model compresses weights to fp16 by default: the fp32 artifact must say so explicitly
    ov.save_model(ov_model, str(path), compress_to_fp16=spec.precision == "fp16")
    return path


def embed_metadata(folder: Path, meta: ModelMeta) -> None:
    """Set rt_info["seefood"] of `model.xml`, keeping its weights as they are (fp16 stays fp16)."""
    ov = import_openvino()
    path = Path(folder) / MODEL_FILE
    ov_model = ov.Core().read_model(str(path))
    ov_model.set_rt_info(json.dumps(meta.to_dict()), [RT_INFO_KEY])
    # write beside, then rename xml and bin over the originals (the read model may still map the old bin)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    ov.save_model(ov_model, str(tmp), compress_to_fp16=False)  # no further compression of int8 / fp32 weights
    del ov_model
    os.replace(tmp.with_suffix(".bin"), path.with_name(WEIGHTS_FILE))
    os.replace(tmp, path)


def read_metadata(folder: Path) -> ModelMeta | None:
    """The metadata in `model.xml`'s rt_info, or None when it has none."""
    ov = import_openvino()
    ov_model = ov.Core().read_model(str(Path(folder) / MODEL_FILE))
    if not ov_model.has_rt_info([RT_INFO_KEY]):
        return None
    return ModelMeta.from_dict(json.loads(ov_model.get_rt_info([RT_INFO_KEY]).astype(str)))


OPENVINO = Exporter(
    name="openvino",
    check_backend=_check_backend,
    unsupported=_unsupported,
    export=export_openvino,
    embed_metadata=embed_metadata,
    read_metadata=read_metadata,
)
