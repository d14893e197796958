"""`seefood monitor LOG`: traffic, latency, confidence and drift of a Space's prediction log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seefood.cli.common import cli_errors, console, make_console, setup_logging
from seefood.space import MonitorConfig, run_monitor
from seefood.space.monitor_files import report_table

_DEFAULT_LOW = float(MonitorConfig.__dataclass_fields__["low_confidence"].default)  # type: ignore[arg-type]


@cli_errors
def monitor(
    log: Annotated[Path, typer.Argument(help="The Space's predictions.sqlite.")],
    reference: Annotated[Path | None, typer.Option(
        help="Bench report folder, decision.json, artifact or Space folder.", show_default="what the log stores")] = None,
    since: Annotated[str | None, typer.Option(help="Only requests at or after this ISO 8601 time (UTC if naive).")] = (
        None),
    until: Annotated[str | None, typer.Option(help="Only requests before this ISO 8601 time.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for monitor.json + monitor.png.", show_default="beside LOG")] = (
        None),
    low_confidence: Annotated[float, typer.Option(help="Top-1 probability below which a prediction is low.")] = (
        _DEFAULT_LOW),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Summarise a Space's prediction log: table on the terminal, PNG and JSON on disk.

    [bold]Examples[/]

    seefood monitor runs/space/logs/predictions.sqlite --reference runs/report
    seefood monitor runs/space/logs/predictions.sqlite --since 2026-12-01T00:00
    """
    setup_logging(verbose)
    config = MonitorConfig(log=log, reference=reference, since=since, until=until, low_confidence=low_confidence)
    report, files = run_monitor(config, out)
    make_console().print(report_table(report))
    if report.requests == 0:
        console.print("[yellow]no predictions in this window[/]")
    console.print(f"[green]monitor:[/] {files.json}, {files.png}")


def register(app: typer.Typer) -> None:
    """Add the monitor command to the main app."""
    app.command("monitor")(monitor)
