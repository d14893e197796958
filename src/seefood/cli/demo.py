"""`seefood demo`: the whole pipeline on the bundled generated data (the README's main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seefood.cli.common import cli_errors, make_console, setup_logging
from seefood.demo import DemoConfig

_D = DemoConfig()


@cli_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for data, run, export, report and Space.")] = Path("runs/demo"),
    model: Annotated[str, typer.Option(help="Model registry key (tiny: an untrained CNN, seconds on a CPU).")] = _D.model,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = _D.epochs,
    image_size: Annotated[int | None, typer.Option(help="Model input size.")] = _D.image_size,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: every core).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing demo folder.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Generate data, train, export every CPU format with int8, bench, pick, and build the Space.

    [bold]Examples[/]

    seefood demo --out runs/demo --force
    seefood demo --model tiny --epochs 2 --threads 2
    """
    from seefood.demo import run_demo

    setup_logging(verbose)
    result = run_demo(DemoConfig(out=out, model=model, epochs=epochs, image_size=image_size, threads=threads,
                                 force=force))
    console = make_console()
    console.print(compact_table(result.report))
    console.print(result.explanation)
    console.print(f"\ncheckpoint: {result.checkpoint}\nexport:     {result.export_dir}/export.json")
    console.print(f"report:     {result.report}/report.md\nplot:       {result.report}/pareto.png")
    console.print(f"decision:   {result.decision or 'none (nothing qualified, see above)'}")
    console.print(f"space:      {result.space or 'not built'}" + (
        f"  (serve it: seefood space serve {result.space})" if result.space else ""))
    if result.decision is None:
        raise typer.Exit(1)


def compact_table(report: Path) -> Table:
    """The report's summary, narrow enough for a terminal (report.md has every column)."""
    from seefood.bench import read_results
    from seefood.cli.bench import summary_table

    return summary_table(read_results(report), f"seefood bench ({report / 'report.md'} has every column)")


def register(app: typer.Typer) -> None:
    """Add the demo command to the main app."""
    app.command("demo")(demo)
