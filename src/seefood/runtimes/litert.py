"""The LiteRT runtime (`model.tflite`, formerly TensorFlow Lite) through ai_edge_litert's Interpreter.

Never imports torch: `ai_edge_litert` is numpy in, numpy out, and the Interpreter applies its XNNPACK delegate
on its own. The program takes the NCHW float batch the exporter traced (litert-torch adds the transpose to
NHWC inside the graph). A full-integer int8 program has int8 input and output tensors: the runtime quantises the
float batch with the input tensor's scale / zero point and dequantises the logits, as an app on a phone would.
The program is converted for a batch of one (litert-torch 0.10 cannot convert a dynamic batch through
`flatten`), so a larger batch runs image by image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seefood.errors import BackendMissingError, ConfigError, ModelError
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes.base import run_in_chunks
from seefood.threads import resolve_threads

MODEL_FILE = FORMATS["litert"].files[0]  # the registry owns the file names
BACKEND = "LiteRT"
INSTALL = "pip install 'seefood[litert]'"
# why `make test` / the `all` extra leave it out (measured with litert-torch 0.10.0 beside torch 2.14.1)
NOT_IN_ALL = ("not part of seefood[all]: litert-torch 0.10.0 pulls jax, transformers and xdsl, whose "
              "typing-extensions<4.13 pin downgrades pydantic, anyio and typing-extensions under gradio; "
              "install it in its own environment")


def import_interpreter() -> Any:
    """ai_edge_litert's Interpreter class, or BackendMissingError with the install command."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise BackendMissingError(BACKEND, INSTALL, reason=f"import failed: {exc}", fix=NOT_IN_ALL) from None
    return Interpreter


def _quantised(detail: dict[str, Any]) -> tuple[float, int] | None:
    """(scale, zero_point) of an int8 / uint8 tensor; None for a float tensor."""
    if np.dtype(detail["dtype"]) == np.float32:
        return None
    scale, zero_point = detail["quantization"]
    if not scale:
        raise ModelError(f"tensor {detail['name']} is {np.dtype(detail['dtype'])} without a scale: "
                         "not a seefood export; export it again")
    return float(scale), int(zero_point)


class LiteRTRuntime:
    """A `.tflite` program in ai_edge_litert's Interpreter with an explicit thread count (CPU, XNNPACK)."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None, exact: bool = False
    ) -> None:
        interpreter = import_interpreter()
        if device != "cpu":
            raise ConfigError(f"the LiteRT interpreter runs on the CPU here, not {device!r}: pass --device cpu")
        self.path, self.meta, self.device = Path(path), meta, device
        self.threads = resolve_threads(threads)
        self.precision_ran = meta.precision  # XNNPACK runs the program's own types (fp32, or int8 kernels)
        file = self.path / MODEL_FILE
        if not file.is_file():
            raise ModelError(f"{file} not found: the LiteRT artifact is incomplete; export it again")
        try:
            self._interpreter = interpreter(model_path=str(file), num_threads=self.threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"LiteRT could not load {file} ({exc}); export it again") from exc
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{file} has {len(inputs)} inputs and {len(outputs)} outputs, not one of each: "
                             "it is not a seefood export; export it again")
        self._input, self._output = inputs[0], outputs[0]
        self._in_q, self._out_q = _quantised(self._input), _quantised(self._output)
        self._shape = tuple(int(n) for n in self._input["shape"])
        self._max_batch = self._shape[0]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch -> float32 logits (N, num_classes)."""
        return run_in_chunks(self._run, batch, self._max_batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = batch.shape[0]
        if n < self._max_batch:  # a static program: pad the last chunk
            batch = np.concatenate([batch, np.zeros((self._max_batch - n, *batch.shape[1:]), batch.dtype)])
        if batch.shape[1:] != self._shape[1:]:
            raise ConfigError(f"this LiteRT program takes {self._shape[1:]} images, got {batch.shape[1:]}: "
                              "preprocess with the artifact's own metadata")
        if self._in_q is not None:
            scale, zero_point = self._in_q
            info = np.iinfo(self._input["dtype"])
            batch = np.clip(np.round(batch / scale) + zero_point, info.min, info.max).astype(self._input["dtype"])
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        out = self._interpreter.get_tensor(self._output["index"])  # a copy
        if self._out_q is not None:
            scale, zero_point = self._out_q
            out = (out.astype(np.float32) - zero_point) * scale
        return np.asarray(out[:n], dtype=np.float32)

    def sync(self) -> None:
        """invoke() is synchronous on the CPU, so there is nothing left to wait for."""
