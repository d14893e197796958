"""The metadata record that travels with every checkpoint and exported artifact (torch-free)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace
from typing import Any

from seefood.preprocessing import Preprocessing

METADATA_VERSION = 1


@dataclass(frozen=True)
class ModelMeta:
    """Everything a runtime needs to go from a photo to a label, plus provenance.

    Stored as JSON beside every checkpoint (`meta.json`) and every artifact (`<artifact>.json`),
    and embedded where the format allows (ONNX metadata_props, TorchScript extra files, OpenVINO rt_info).
    """

    architecture: str  # model registry key, e.g. "effnet_b2"
    class_names: tuple[str, ...]
    preprocessing: Preprocessing
    format: str = "pytorch"  # artifact format registry key: pytorch, torchscript, onnx, openvino, tensorrt, executorch
    precision: str = "fp32"  # fp32, fp16, bf16, int8
    sparsity: float = 0.0  # fraction of channels removed by structured pruning
    shape_plan: dict[str, Any] | None = None  # layer shapes after pruning, to rebuild without unpickling
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # resolved training / export config
    versions: dict[str, str] = field(default_factory=dict)
    data_fingerprint: str | None = None
    parent_sha256: str | None = None  # sha256 of the checkpoint this artifact came from
    parity: dict[str, Any] | None = None  # parity results against the fp32 PyTorch model
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    extra: dict[str, Any] = field(default_factory=dict)
    metadata_version: int = METADATA_VERSION

    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        return len(self.class_names)

    def evolve(self, **changes: Any) -> ModelMeta:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "metadata_version": self.metadata_version,
            "architecture": self.architecture,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "preprocessing": self.preprocessing.to_dict(),
            "format": self.format,
            "precision": self.precision,
            "sparsity": self.sparsity,
            "shape_plan": self.shape_plan,
            "metrics": self.metrics,
            "config": self.config,
            "versions": self.versions,
            "data_fingerprint": self.data_fingerprint,
            "parent_sha256": self.parent_sha256,
            "parity": self.parity,
            "created": self.created,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelMeta:
        """Inverse of to_dict; unknown keys are kept in `extra` so newer files still load."""
        known = {
            "metadata_version", "architecture", "num_classes", "class_names", "preprocessing", "format",
            "precision", "sparsity", "shape_plan", "metrics", "config", "versions", "data_fingerprint",
            "parent_sha256", "parity", "created", "extra",
        }
        try:
            extra = dict(d.get("extra") or {})
            extra.update({k: v for k, v in d.items() if k not in known})
            return cls(
                architecture=str(d["architecture"]),
                class_names=tuple(str(c) for c in d["class_names"]),
                preprocessing=Preprocessing.from_dict(d["preprocessing"]),
                format=str(d.get("format", "pytorch")),
                precision=str(d.get("precision", "fp32")),
                sparsity=float(d.get("sparsity", 0.0)),
                shape_plan=d.get("shape_plan"),
                metrics=dict(d.get("metrics") or {}),
                config=dict(d.get("config") or {}),
                versions=dict(d.get("versions") or {}),
                data_fingerprint=d.get("data_fingerprint"),
                parent_sha256=d.get("parent_sha256"),
                parity=d.get("parity"),
                created=str(d.get("created", "")),
                extra=extra,
                metadata_version=int(d.get("metadata_version", METADATA_VERSION)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid seefood metadata: {exc!r}") from exc
