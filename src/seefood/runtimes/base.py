"""The Runtime protocol every format implements, and the shared predict() logic (torch-free)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from seefood.metadata import ModelMeta

ARTIFACT_META = "seefood.json"  # sidecar metadata inside every artifact folder


@runtime_checkable
class Runtime(Protocol):
    """One loaded artifact on one device with an explicit thread count."""

    path: Path  # the artifact folder (or checkpoint folder for the PyTorch reference)
    meta: ModelMeta
    device: str  # "cpu" or "cuda"
    threads: int  # intra-op threads it was told to use (recorded in every measurement)
    precision_ran: str  # what actually executed (e.g. OpenVINO may run bf16 for an fp32 artifact)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch, already preprocessed -> float32 logits (N, num_classes)."""
        ...

    def sync(self) -> None:
        """Wait for queued device work (a no-op on CPU); benchmarks call it before reading a clock."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def predict(runtime: Runtime, images: list[Any]) -> np.ndarray:
    """PIL images or uint8 arrays -> class probabilities (N, num_classes), preprocessing from metadata."""
    batch = runtime.meta.preprocessing.batch(list(images))
    return softmax(runtime.run(batch).astype(np.float32, copy=False))


def top_k(runtime: Runtime, images: list[Any], k: int = 5) -> list[list[tuple[str, float]]]:
    """The k most likely labels with their probabilities, per image."""
    probs = predict(runtime, images)
    names = runtime.meta.class_names
    order = np.argsort(-probs, axis=1)[:, :k]
    return [[(names[j], float(p[j])) for j in row] for p, row in zip(probs, order)]


def run_in_chunks(run: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, max_batch: int | None) -> np.ndarray:
    """Call `run` on slices of at most `max_batch` images (static-batch models); None: one call."""
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    if max_batch is None or batch.shape[0] <= max_batch:
        return run(batch)
    parts = [run(batch[i : i + max_batch]) for i in range(0, batch.shape[0], max_batch)]
    return np.concatenate(parts, axis=0)


def static_batch(meta: ModelMeta) -> int | None:
    """The fixed batch size an artifact was exported with (meta.extra["batch"]), None when dynamic."""
    value = meta.extra.get("batch", "dynamic")
    return None if value in (None, "dynamic") else int(value)
