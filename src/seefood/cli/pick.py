"""`seefood pick REPORT`: choose the deploy target from a bench report (never undoing an earlier good choice)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from seefood.bench import PickRules, pick
from seefood.bench.report import DECISION_JSON, read_decision
from seefood.cli.common import cli_errors, console, existing, setup_logging
from seefood.errors import ConfigError
from seefood.formats import deploy_targets, target_formats

_P = {f.name: f.default for f in dataclasses.fields(PickRules) if f.default is not dataclasses.MISSING}


def _formats(formats: str | None, target: str | None) -> tuple[str, ...] | None:
    if formats is not None and target is not None:
        raise ConfigError("pass --formats or --target, not both (--target is a preset of --formats)")
    if target is not None:
        return target_formats(target)
    return tuple(f.strip() for f in formats.split(",") if f.strip()) if formats is not None else None


@cli_errors
def pick_command(
    report: Annotated[Path, typer.Argument(help="Report folder written by `seefood bench`.")],
    device: Annotated[str, typer.Option(help="Device whose measurements decide.")] = _P["device"],
    max_drop: Annotated[float, typer.Option(help="Top-1 points an artifact may lose against fp32.")] = _P["max_drop"],
    budget_ms: Annotated[float | None, typer.Option(
        help="p90 latency budget per batch, ms.", show_default="none")] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size whose measurements decide.")] = _P["batch_size"],
    threads: Annotated[int | None, typer.Option(
        help="Measured thread count to use.", show_default="the largest measured")] = None,
    size_tolerance: Annotated[float, typer.Option(
        help="Sizes within this fraction of the smallest tie; latency decides.")] = _P["size_tolerance"],
    target: Annotated[str | None, typer.Option(
        help="Choose among the formats a deploy target runs (the format registry): "
             + "; ".join(f"{t}: {', '.join(f)}" for t, f in deploy_targets().items()) + ".",
        show_default="any format")] = None,
    formats: Annotated[str | None, typer.Option(
        help="Only choose among these formats, e.g. onnx,openvino.", show_default="any format")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be chosen; write nothing.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Choose the smallest artifact within the accuracy drop and latency budget; write decision.json.

    Exit 0 with REPORT/decision.json written, 1 when nothing qualifies (an earlier decision.json is kept as it
    was), 2 on bad arguments.

    [bold]Examples[/]

    seefood pick runs/report --max-drop 1.0 --budget-ms 20
    seefood pick runs/report --target mobile --dry-run
    """
    setup_logging(verbose)
    rules = PickRules(device=device, max_drop=max_drop, budget_ms=budget_ms, batch_size=batch_size, threads=threads,
                      size_tolerance=size_tolerance, formats=_formats(formats, target))
    report = existing(report, "REPORT", "a report folder written by `seefood bench --out REPORT`")
    decision = pick(report, rules, write=not dry_run)
    typer.echo(decision.explain())
    if decision.chosen is None:
        earlier = read_decision(report)
        console.print(
            f"[yellow]nothing qualifies: {report / DECISION_JSON} " + (
                f"is kept as it was ({earlier.get('name')}, picked {earlier.get('created')})[/]"
                if earlier else "was not written[/]"))
        raise typer.Exit(1)
    if dry_run:
        typer.echo(f"--dry-run: {report / DECISION_JSON} left as it was")
    else:
        typer.echo(f"wrote {report / DECISION_JSON}")


def register(app: typer.Typer) -> None:
    """Add the pick command to the main app."""
    app.command("pick")(pick_command)
