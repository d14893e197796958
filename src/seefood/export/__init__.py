"""seefood.export: checkpoint -> TorchScript / ONNX / OpenVINO / TensorRT artifacts, each checked for parity.

Importing this package is cheap; `run_export` and the format registry import torch when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seefood.export.config import ExportConfig, PruneOptions
    from seefood.export.formats import EXPORTERS, Exporter, ExportSpec
    from seefood.export.metadata import read_embedded_metadata
    from seefood.export.pipeline import run_export
    from seefood.export.report import ArtifactRow, ExportReport

_LAZY = {
    "ExportConfig": "seefood.export.config",
    "PruneOptions": "seefood.export.config",
    "EXPORTERS": "seefood.export.formats",
    "Exporter": "seefood.export.formats",
    "ExportSpec": "seefood.export.formats",
    "read_embedded_metadata": "seefood.export.metadata",
    "run_export": "seefood.export.pipeline",
    "ArtifactRow": "seefood.export.report",
    "ExportReport": "seefood.export.report",
}

__all__ = [
    "EXPORTERS", "ArtifactRow", "ExportConfig", "ExportReport", "ExportSpec", "Exporter", "PruneOptions",
    "read_embedded_metadata", "run_export",
]


def __getattr__(name: str) -> Any:
    """Import the public names on first use (calibration and quantize stay importable without torch work)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seefood.export' has no attribute {name!r}")
