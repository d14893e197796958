"""`seefood predict ARTIFACT PATH...`: the top-k labels of photos, folders or globs through any artifact."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from seefood.cli.common import cli_errors, existing, make_console, one_of

TOP_K = 5  # labels per photo (PredictConfig.top's default)


@cli_errors
def predict(
    artifact: Annotated[Path, typer.Argument(
        help="Artifact folder (EXPORT_DIR/<format>-<precision>) or checkpoint folder (runs/NAME/best).")],
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH",
        help="Photos (JPEG, PNG, WebP...), folders of photos (sub-folders too) or quoted glob patterns.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Labels per photo.")] = TOP_K,
    json_lines: Annotated[bool, typer.Option(
        "--json", help="One JSON object per photo on stdout: path, top (label, probability), ms.")] = False,
    batch_size: Annotated[int, typer.Option(help="Photos decoded and classified at a time.")] = 8,
    device: Annotated[str, typer.Option(help="cpu or cuda (gpu: an Intel GPU for OpenVINO).")] = "cpu",
    threads: Annotated[int | None, typer.Option(help="Intra-op threads.", show_default="all cores")] = None,
    top: Annotated[int | None, typer.Option("--top", hidden=True, help="Old spelling of --top-k.")] = None,
) -> None:
    """Print the most likely labels of each photo (photos outside the Space's pixel limits are refused).

    [bold]Examples[/]

    seefood predict runs/e-export/onnx-int8 photo.jpg
    seefood predict runs/e-export/onnx-int8 my_photos/ 'more/*.jpg' --top-k 3 --json > predictions.jsonl
    """
    from seefood.runtimes.classify import PredictConfig, iter_predictions

    config = PredictConfig(artifact=existing(artifact, "ARTIFACT", "an artifact folder from `seefood export`"),
                           images=tuple(Path(p) for p in paths), top=one_of(top_k, top, "--top-k", "--top", TOP_K),
                           device=device, threads=threads, batch_size=batch_size)
    predictions = iter_predictions(config)
    if json_lines:
        for prediction in predictions:  # streamed: a long folder shows progress and can be piped
            typer.echo(json.dumps(prediction.to_dict()))
        return
    results = list(predictions)
    names = _display_names([r.path for r in results if r.path is not None])
    table = Table(title=f"{artifact}", box=box.SIMPLE_HEAD)
    for col in ("image", "rank", "label", "probability", "ms"):
        table.add_column(col, justify="left" if col in ("image", "label") else "right")
    for result in results:
        for rank, (label, prob) in enumerate(result.top, start=1):
            first = rank == 1
            table.add_row(names.get(result.path, "") if first and result.path else "", str(rank), label,
                          f"{prob:.3f}", f"{result.ms:.1f}" if first else "")
    make_console().print(table)


def _display_names(paths: list[Path]) -> dict[Path, str]:
    """Each photo as short as it stays unambiguous: relative to the folder all of them share."""
    if not paths:
        return {}
    common = Path(os.path.commonpath([str(p.absolute().parent) for p in paths]))
    return {p: str(p.absolute().relative_to(common)) for p in paths}


def register(app: typer.Typer) -> None:
    """Add the predict command to the main app."""
    app.command("predict")(predict)
