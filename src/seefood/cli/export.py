"""`seefood export` / `seefood-export`: checkpoint -> TorchScript, ONNX, OpenVINO, TensorRT."""

from __future__ import annotations

import typer

from seefood.cli.common import not_implemented


def export() -> None:
    """Export a checkpoint to deployment formats (not implemented yet)."""
    not_implemented("seefood export", "see the export issue")


def register(app: typer.Typer) -> None:
    """Add the export command to the main app."""
    app.command("export")(export)


def main() -> None:
    """Entry point of the `seefood-export` console script."""
    typer.run(export)
