"""The exporters of the format registry (seefood.formats): `EXPORTERS[name]` is the Exporter its FormatSpec names."""

from __future__ import annotations

from seefood.errors import ConfigError
from seefood.export.formats.base import Exporter, ExportSpec
from seefood.formats import FORMATS, export_formats, resolve

# format -> its Exporter, in registry order: a view of seefood.formats (importing this imports every exporter
# module, and so torch; the registry itself stays torch-free)
EXPORTERS: dict[str, Exporter] = {name: resolve(str(FORMATS[name].exporter)) for name in export_formats()}


def get_exporter(name: str) -> Exporter:
    """Look an exporter up by format name; the error lists the valid names."""
    try:
        return EXPORTERS[name]
    except KeyError:
        raise ConfigError(f"unknown export format {name!r}: use one of {', '.join(EXPORTERS)}") from None


__all__ = ["EXPORTERS", "ExportSpec", "Exporter", "get_exporter"]
