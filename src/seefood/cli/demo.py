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
    """Generate data, train, export every CPU format with int8, bench, pick, and build the Space."""
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
    """The report's key columns, narrow enough for an 80-column terminal (report.md has them all)."""
    from seefood.bench import read_results

    rows = read_results(report)
    refs = {(r.device, r.batch_size): r for r in rows if r.is_reference and r.ok}
    table = Table(title=f"seefood bench ({report / 'report.md'} has every column)")
    for col in ("artifact", "dev", "b", "ran", "MB", "top-1 %", "p50 ms", "p90 ms", "× ref"):
        table.add_column(col, justify="left" if col in ("artifact", "ran", "dev") else "right")
    for r in sorted(rows, key=lambda r: (r.device, r.batch_size, not r.is_reference, r.name)):
        ref = refs.get((r.device, r.batch_size))
        lat = r.latency
        speed = f"{ref.latency.p50_ms / lat.p50_ms:.2f}" if ref and ref.latency and lat and lat.p50_ms else "-"
        table.add_row(
            r.name + (" (ref)" if r.is_reference else "") + ("" if r.ok else f" [red]{r.status}[/]"),
            r.device, str(r.batch_size), r.precision_ran or r.precision, f"{r.size_bytes / 1e6:.2f}",
            f"{r.top1:.1f}" if r.top1 is not None else "-", f"{lat.p50_ms:.2f}" if lat else "-",
            f"{lat.p90_ms:.2f}" if lat else "-", speed,
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the demo command to the main app."""
    app.command("demo")(demo)
