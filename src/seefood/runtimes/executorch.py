"""The ExecuTorch runtime (`model.pte`, XNNPACK-delegated) through ExecuTorch's Python runtime.

ExecuTorch's Python bindings import torch (inputs and outputs are torch tensors), so this runtime needs torch
like TorchScript does; on a phone the same `.pte` runs in the C++ runtime without it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from seefood.errors import BackendMissingError, ConfigError, ModelError
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes.base import run_in_chunks
from seefood.threads import resolve_threads

MODEL_FILE = FORMATS["executorch"].files[0]  # the registry owns the file names
BACKEND = "ExecuTorch"
INSTALL = "pip install 'seefood[mobile]'"
XNNPACK = "XnnpackBackend"  # the name ExecuTorch's backend registry knows XNNPACK by


def import_executorch() -> tuple[Any, Any]:
    """(executorch.runtime, the pybindings module with the thread-pool controls), or BackendMissingError."""
    try:
        with warnings.catch_warnings():  # the bindings warn "experimental API" on every import
            warnings.simplefilter("ignore")
            from executorch import runtime
            from executorch.extension.pybindings import portable_lib
    except ImportError as exc:
        raise BackendMissingError(BACKEND, INSTALL, reason=f"import failed: {exc}") from None
    return runtime, portable_lib


class _SharedPool:
    """ExecuTorch's thread pool is one per process; this counts how often seefood has rebuilt it.

    XNNPACK keeps a pointer to the pool a program was loaded with, and `_unsafe_reset_threadpool` replaces the
    pool: a program loaded before a reset runs on freed memory (garbage logits or a segfault, seen here; the
    API "is not safe when multiple models are loaded in a single process", pytorch/executorch#17641). So the
    pool is sized *before* a program loads, and a program loaded before the latest reset is loaded again.
    """

    generation = 0  # bumped by every reset; a runtime remembers the generation its program was loaded in


def size_pool(portable_lib: Any, threads: int) -> int:
    """Give the process-wide pool `threads` threads (a reset only when it differs); the pool's generation."""
    if portable_lib._threadpool_get_thread_count() != threads:
        portable_lib._unsafe_reset_threadpool(threads)
        _SharedPool.generation += 1
    return _SharedPool.generation


class ExecuTorchRuntime:
    """A `.pte` program's forward method with an explicit XNNPACK thread count (CPU only)."""

    def __init__(
        self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None, exact: bool = False
    ) -> None:
        runtime, self._lib = import_executorch()
        if device != "cpu":
            raise ConfigError(f"ExecuTorch's XNNPACK back-end runs on the CPU, not {device!r}: pass --device cpu")
        self.path, self.meta, self.device = Path(path), meta, device
        self.threads = resolve_threads(threads)
        self.precision_ran = meta.precision  # XNNPACK runs the program's own types (fp32 or int8 QDQ)
        file = self.path / MODEL_FILE
        if not file.is_file():
            raise ModelError(f"{file} not found: the ExecuTorch artifact is incomplete; export it again")
        self._et = runtime.Runtime.get()
        if not self._et.backend_registry.is_available(XNNPACK):
            raise BackendMissingError(
                f"{BACKEND} {XNNPACK}", INSTALL,
                reason=f"this executorch build offers {', '.join(self._et.backend_registry.registered_backend_names)}",
            )
        self._file = file
        self._load()
        # the input's planned size is the largest batch the program takes (1 when static, the bound when
        # dynamic); a bigger batch is split by run_in_chunks, since ExecuTorch cannot grow a planned tensor
        self._max_batch = int(self._method.metadata.input_tensor_meta(0).sizes()[0])

    def _load(self) -> None:
        """Size the thread pool for this runtime, then load the program (it binds to the pool it finds)."""
        self._generation = size_pool(self._lib, self.threads)
        try:
            # the Program owns the memory-planned arenas its method runs in: it lives as long as the method
            self._program = self._et.load_program(self._file)
            method = self._program.load_method("forward")
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"ExecuTorch could not load {self._file} ({exc}); export it again") from exc
        if method is None:
            raise ModelError(f"{self._file} has no forward method: it is not a seefood export; export it again")
        self._method = method

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch -> float32 logits (N, num_classes)."""
        if _SharedPool.generation != self._generation or self._lib._threadpool_get_thread_count() != self.threads:
            self._load()  # another runtime resized the pool since this program loaded: bind to the new pool
        return run_in_chunks(self._run, batch, self._max_batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        import torch

        out = self._method.execute([torch.from_numpy(batch)])[0]
        return np.asarray(out.numpy(), dtype=np.float32)  # the bindings copy outputs out of the planned arena

    def sync(self) -> None:
        """execute() is synchronous on the CPU, so there is nothing left to wait for."""
