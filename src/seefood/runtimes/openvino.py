"""The OpenVINO runtime (`model.xml` + `model.bin`); never imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seefood.errors import BackendMissingError, ConfigError, ModelError
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes.base import run_in_chunks
from seefood.threads import resolve_threads

MODEL_FILE = FORMATS["openvino"].files[0]  # the registry owns the file names
BACKEND = "OpenVINO"
INSTALL = "pip install 'seefood[openvino]'"
_DEVICES = {"cpu": "CPU", "gpu": "GPU"}  # GPU: an Intel GPU; OpenVINO does not drive NVIDIA cards
# OpenVINO element type names -> seefood precision names
_PRECISIONS = {"f32": "fp32", "f16": "fp16", "bf16": "bf16", "i8": "int8", "u8": "int8"}


def import_openvino() -> Any:
    """The openvino module, or BackendMissingError with the install command."""
    try:
        import openvino
    except ImportError as exc:
        raise BackendMissingError(BACKEND, INSTALL, reason=f"import failed: {exc}") from None
    return openvino


class OpenVinoRuntime:
    """A compiled OpenVINO model with INFERENCE_NUM_THREADS set and the precision it really runs recorded."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None, exact: bool = False
    ) -> None:
        ov = import_openvino()
        self.path, self.meta, self.device = Path(path), meta, device
        self.threads = resolve_threads(threads)
        ov_device = _DEVICES.get(device.split(":")[0])
        if ov_device is None:
            raise ConfigError(f"OpenVINO runs on cpu or gpu (an Intel GPU), not {device!r}: pass --device cpu")
        file = self.path / MODEL_FILE
        if not file.is_file():
            raise ModelError(f"{file} not found: the OpenVINO artifact is incomplete; export it again")
        config: dict[str, Any] = {"INFERENCE_NUM_THREADS": self.threads}
        if exact:  # CPUs with bf16/AMX would otherwise run fp32 and fp16 artifacts in bf16
            config["INFERENCE_PRECISION_HINT"] = "f32"
        core = ov.Core()
        try:
            self._compiled = core.compile_model(core.read_model(str(file)), ov_device, config)
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO could not compile {file} for {ov_device}: {exc}") from exc
        hint = self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        ran = _PRECISIONS.get(hint, hint)
        if meta.precision == "int8":  # quantised layers run int8 whatever the hint; it sets the float layers
            ran = "int8" if ran == "fp32" else f"int8+{ran}"
        self.precision_ran = ran
        shape = self._compiled.inputs[0].get_partial_shape()
        self._max_batch = shape[0].get_length() if shape[0].is_static else None
        self._request = self._compiled.create_infer_request()

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch -> float32 logits (N, num_classes)."""
        return run_in_chunks(self._run, batch, self._max_batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        out = self._request.infer({0: batch})
        return np.array(out[self._compiled.outputs[0]], dtype=np.float32)

    def sync(self) -> None:
        """infer() is synchronous, so there is nothing left to wait for."""
