"""`seefood evaluate CKPT --data DATA`: top-1/top-5, per-class accuracy and the confusion matrix of a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seefood.cli.common import cli_errors, existing, make_console, setup_logging
from seefood.train.config import DEVICES, EVAL_SPLITS, EvalOptions

_E = EvalOptions()
WORST_SHOWN = 5  # classes listed under the summary, the least accurate first


@cli_errors
def evaluate_command(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint folder written by `seefood train`, e.g. runs/NAME/best.")],
    data: Annotated[str, typer.Option(
        help="Labelled photos: a <class>/<photo> folder (evaluated whole), a dataset folder with test/ "
             "(its test split), sample or food101.")],
    out: Annotated[Path | None, typer.Option(
        help="Also write eval.json and confusion.png into this folder.", show_default="print only")] = None,
    split: Annotated[str | None, typer.Option(
        help=f"Which images: {', '.join(EVAL_SPLITS)}; a flat folder's test is the seeded carve-out training held out.",
        show_default="all of a flat folder, else test")] = _E.split,
    data_root: Annotated[Path | None, typer.Option(help="Dataset cache folder (sample, food101).")] = None,
    seed: Annotated[int, typer.Option(help="Split seed (the run's, for --split val or test of a flat folder).")] = (
        _E.seed),
    val_fraction: Annotated[float, typer.Option(help="Validation share, as in training.")] = _E.val_fraction,
    strict_data: Annotated[bool, typer.Option("--strict-data", help="Fail on unreadable images.")] = _E.strict_data,
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = _E.batch_size,
    device: Annotated[str, typer.Option(help=", ".join(DEVICES))] = _E.device,
    workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = _E.workers,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.", show_default="torch's")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Evaluate a checkpoint: top-1/top-5, per-class accuracy, confusion matrix (printed; JSON + PNG with --out).

    [bold]Examples[/]

    seefood evaluate runs/e/best --data my_photos/
    seefood evaluate runs/e/best --data ../shared/data/food101-sample --split test --out runs/e/eval
    """
    from seefood.train.evaluation import evaluate

    setup_logging(verbose)
    options = EvalOptions(
        split=split, data_root=str(data_root) if data_root else None, seed=seed, val_fraction=val_fraction,
        strict_data=strict_data, batch_size=batch_size, device=device, workers=workers, threads=threads, force=force,
    )
    result = evaluate(existing(checkpoint, "CHECKPOINT", "a checkpoint folder, e.g. runs/NAME/best"), data, out,
                      options)
    table = Table(title=f"seefood evaluate {checkpoint} ({result.split}: {result.count} images)", show_header=False)
    for name, value in (("data", result.data), ("top-1", f"{result.top1:.2%}"), ("top-5", f"{result.top5:.2%}"),
                        ("loss", f"{result.loss:.4f}"), ("seconds", f"{result.seconds:.1f}")):
        table.add_row(name, value)
    scored = sorted((acc, name) for name, acc in result.per_class.items() if acc is not None)
    if len(scored) > 1:
        table.add_row("least accurate", ", ".join(f"{name} {acc:.0%}" for acc, name in scored[:WORST_SHOWN]))
    if result.report is not None:
        table.add_row("report", f"{result.report}, {result.confusion_png}")
    make_console().print(table)


def register(app: typer.Typer) -> None:
    """Add the evaluate command to the main app."""
    app.command("evaluate")(evaluate_command)
