"""`seefood predict ARTIFACT IMAGE...`: the top-k labels of photos through any exported artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from seefood.cli.common import cli_errors, make_console


@cli_errors
def predict(
    artifact: Annotated[Path, typer.Argument(help="Artifact folder (EXPORT_DIR/<format>-<precision>) or checkpoint.")],
    images: Annotated[list[Path], typer.Argument(help="One or more photos (JPEG, PNG, WebP...).")],
    top: Annotated[int, typer.Option(help="Labels to show per photo.")] = 5,
    device: Annotated[str, typer.Option(help="cpu or cuda (gpu: an Intel GPU for OpenVINO).")] = "cpu",
    threads: Annotated[int | None, typer.Option(help="Intra-op threads (default: all cores).")] = None,
    batch_size: Annotated[int, typer.Option(help="Photos decoded and classified at a time.")] = 8,
) -> None:
    """Print the most likely labels of each photo (photos outside the Space's pixel limits are refused)."""
    from seefood.runtimes.classify import PredictConfig, classify_files

    results = classify_files(PredictConfig(artifact=artifact, images=tuple(images), top=top, device=device,
                                           threads=threads, batch_size=batch_size))
    table = Table(title=f"{artifact}", box=box.SIMPLE_HEAD)
    for col in ("image", "rank", "label", "probability"):
        table.add_column(col, justify="right" if col in ("rank", "probability") else "left")
    for result in results:
        for rank, (label, prob) in enumerate(result.top, start=1):
            table.add_row(result.path.name if rank == 1 else "", str(rank), label, f"{prob:.3f}")
    make_console().print(table)


def register(app: typer.Typer) -> None:
    """Add the predict command to the main app."""
    app.command("predict")(predict)
