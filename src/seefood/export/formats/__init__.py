"""The format registry: one `Exporter` record per artifact format, keyed by its CLI name."""

from __future__ import annotations

from seefood.errors import ConfigError
from seefood.export.formats.base import Exporter, ExportSpec
from seefood.export.formats.executorch import EXECUTORCH
from seefood.export.formats.onnx import ONNX
from seefood.export.formats.openvino import OPENVINO
from seefood.export.formats.tensorrt import TENSORRT
from seefood.export.formats.torchscript import TORCHSCRIPT

# CLI value / artifact format -> exporter; the order is the order of the summary table
EXPORTERS: dict[str, Exporter] = {e.name: e for e in (TORCHSCRIPT, ONNX, OPENVINO, TENSORRT, EXECUTORCH)}


def get_exporter(name: str) -> Exporter:
    """Look an exporter up by format name; the error lists the valid names."""
    try:
        return EXPORTERS[name]
    except KeyError:
        raise ConfigError(f"unknown format {name!r}: use one of {', '.join(EXPORTERS)}") from None


__all__ = ["EXPORTERS", "ExportSpec", "Exporter", "get_exporter"]
