"""The ONNX Runtime runtime (`model.onnx`); never imports torch, so it serves where torch is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seefood.errors import BackendMissingError, ConfigError, ModelError
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes.base import run_in_chunks
from seefood.threads import resolve_threads

MODEL_FILE = FORMATS["onnx"].files[0]  # the registry owns the file names
_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OnnxRuntime:
    """An onnxruntime InferenceSession with explicit intra-op threads (inter-op: 1)."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None, exact: bool = False
    ) -> None:
        import onnxruntime as ort

        self.path, self.meta, self.device = Path(path), meta, device
        self.threads = resolve_threads(threads)
        self.precision_ran = meta.precision  # ONNX Runtime executes the graph's own types
        file = self.path / MODEL_FILE
        if not file.is_file():
            raise ModelError(f"{file} not found: the ONNX artifact is incomplete; export it again")
        provider = _PROVIDERS.get(device.split(":")[0])
        if provider is None:
            raise ConfigError(f"unknown device {device!r} for ONNX Runtime: use cpu or cuda")
        if provider not in ort.get_available_providers():
            raise BackendMissingError(
                f"ONNX Runtime {provider}", "pip install onnxruntime-gpu (instead of onnxruntime)",
                reason=f"this onnxruntime offers {', '.join(ort.get_available_providers())}",
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        providers: list[object] = [provider]
        if provider == "CUDAExecutionProvider":
            index = int(device.split(":")[1]) if ":" in device else 0
            providers = [(provider, {"device_id": index}), "CPUExecutionProvider"]
        try:
            self._session = ort.InferenceSession(str(file), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types without a common base
            raise ModelError(f"ONNX Runtime could not load {file}: {exc}") from exc
        first = self._session.get_inputs()[0]
        self._input = first.name
        self._output = self._session.get_outputs()[0].name
        self._max_batch = first.shape[0] if isinstance(first.shape[0], int) else None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch -> float32 logits (N, num_classes)."""
        return run_in_chunks(self._run, batch, self._max_batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        out = self._session.run([self._output], {self._input: batch})[0]
        return np.asarray(out, dtype=np.float32)

    def sync(self) -> None:
        """session.run returns host arrays, so there is nothing left to wait for."""
