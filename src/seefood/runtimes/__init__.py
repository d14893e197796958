"""One Runtime per artifact format behind a single protocol; `load_runtime` picks the class.

Only the PyTorch, TorchScript, TensorRT and ExecuTorch runtimes import torch, so ONNX and OpenVINO
artifacts can be served where torch is not installed (the Hugging Face Space).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from seefood.errors import ConfigError, ModelError
from seefood.formats import FORMATS
from seefood.metadata import ModelMeta
from seefood.runtimes.base import ARTIFACT_META, Runtime, predict, softmax, top_k
from seefood.threads import resolve_threads

# format key -> "module:Class" of its runtime: a view of the format registry (seefood.formats), kept as a
# table because the Space builder narrows it to the one runtime it bundles; modules are imported on load
RUNTIMES: dict[str, str] = {name: spec.runtime for name, spec in FORMATS.items()}


def read_artifact_meta(path: str | Path) -> ModelMeta:
    """Metadata of an artifact folder (`seefood.json`) or a checkpoint folder (`meta.json`)."""
    path = Path(path)
    for name in (ARTIFACT_META, "meta.json"):
        if (path / name).is_file():
            try:
                return ModelMeta.from_dict(json.loads((path / name).read_text(encoding="utf-8")))
            except (ValueError, json.JSONDecodeError) as exc:
                raise ModelError(f"{path / name} is not valid seefood metadata: {exc}") from exc
    raise ModelError(
        f"{path} is not a seefood artifact or checkpoint (no {ARTIFACT_META} or meta.json): "
        f"pass a folder written by `seefood export` or `seefood train`"
    )


def load_runtime(
    path: str | Path, device: str = "cpu", threads: int | None = None, exact: bool = False, variant: str = "",
) -> Runtime:
    """Load any seefood artifact (or checkpoint) folder for inference on `device`.

    threads: intra-op threads (None: every CPU core). exact: forbid the runtime from lowering the
    precision on its own (OpenVINO runs fp32 artifacts in bf16 on CPUs that have it); parity checks
    use exact=True, latency benchmarks the default. variant: run a checkpoint folder as one of its eager
    variants (seefood.runtimes.variants.EAGER_VARIANTS: "bf16", "compile"); "" runs it in fp32.
    """
    meta = read_artifact_meta(path)
    try:
        target = RUNTIMES[meta.format]
    except KeyError:
        raise ModelError(f"unknown artifact format {meta.format!r}: known are {', '.join(RUNTIMES)}") from None
    if variant and meta.format != "pytorch":
        raise ConfigError(
            f"{path} is a {meta.format} artifact: eager variants ({variant!r}) run checkpoint folders only "
            f"(export it instead, e.g. `seefood export --fp16`)"
        )
    module_name, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    options: dict[str, object] = {"exact": True} if exact else {}  # classes outside seefood may not know the keyword
    if variant:
        options["variant"] = variant
    return cls(Path(path), meta=meta, device=device, threads=threads, **options)  # type: ignore[no-any-return]


__all__ = [
    "ARTIFACT_META", "RUNTIMES", "Runtime", "load_runtime", "predict", "read_artifact_meta", "resolve_threads",
    "softmax", "top_k",
]
