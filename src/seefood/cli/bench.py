"""`seefood bench` (accuracy vs latency of every artifact) and `seefood pick` (choose the deploy target)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from seefood.bench import BenchConfig, PickRules, pick, run_bench
from seefood.bench.config import default_threads
from seefood.bench.pick import DECISION_JSON
from seefood.cli.common import cli_errors, console, make_console, setup_logging
from seefood.errors import ConfigError, SeefoodError


def _defaults(cls: Any) -> dict[str, Any]:
    """Field defaults of a config dataclass: the one place CLI defaults come from."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


_B = _defaults(BenchConfig)
_P = _defaults(PickRules)


def _split(text: str, option: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    if not items:
        raise ConfigError(f"{option} needs a comma-separated list, got {text!r}")
    return items


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in _split(text, option))
    except ValueError:
        raise ConfigError(f"{option} takes integers separated by commas (e.g. 1,8), got {text!r}") from None


@cli_errors
def bench(
    export_dirs: Annotated[list[Path], typer.Argument(help="Export folders (or single artifact folders) to bench.")],
    data: Annotated[Path, typer.Option(help="Split folder (its test/ is used) or a <class>/<image> folder.")],
    out: Annotated[Path, typer.Option(help="Report folder; a re-run adds to it and skips what is measured.")],
    devices: Annotated[str, typer.Option(help="Comma list of devices: cpu, cuda (absent ones: skipped rows).")] = (
        ",".join(_B["devices"])),
    batch_sizes: Annotated[str, typer.Option(help="Comma list of batch sizes to time, e.g. 1,8.")] = (
        ",".join(map(str, _B["batch_sizes"]))),
    threads: Annotated[int | None, typer.Option(help="Intra-op threads for every runtime [default: all cores].")] = (
        None),
    min_runs: Annotated[int, typer.Option(help="Timed runs at least ...")] = _B["min_runs"],
    min_time: Annotated[float, typer.Option(help="... and at least this many seconds of timed runs.")] = (
        _B["min_time_s"]),
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs first.")] = _B["warmup"],
    force: Annotated[bool, typer.Option(help="Re-measure rows already in the report.")] = _B["force"],
    limit: Annotated[int | None, typer.Option(help="Evaluate accuracy on at most N images (spread over classes).")] = (
        None),
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = _B["progress"],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Measure accuracy, latency, memory and size of every artifact against the fp32 reference."""
    setup_logging(verbose)
    config = BenchConfig(
        export_dirs=tuple(export_dirs), data=data, out=out, devices=_split(devices, "--devices"),
        batch_sizes=_ints(batch_sizes, "--batch-sizes"), threads=threads if threads is not None else default_threads(),
        min_runs=min_runs, min_time_s=min_time, warmup=warmup, force=force, limit=limit, progress=progress,
    )
    run = run_bench(config)
    ok = sum(r.ok for r in run.rows)
    console.print(
        f"[green]bench:[/] {run.measured} row(s) measured, {run.already_done} already done, {ok}/{len(run.rows)} OK "
        f"-> {config.out}/report.md"
    )
    if ok == 0:
        raise SeefoodError(f"no artifact was measured successfully: see the reasons in {config.out}/report.md")


@cli_errors
def pick_command(
    report: Annotated[Path, typer.Argument(help="Report folder written by `seefood bench`.")],
    device: Annotated[str, typer.Option(help="Device whose measurements decide.")] = _P["device"],
    max_drop: Annotated[float, typer.Option(help="Top-1 points an artifact may lose against fp32.")] = _P["max_drop"],
    budget_ms: Annotated[float | None, typer.Option(help="p90 latency budget per batch, ms [default: none].")] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size whose measurements decide.")] = _P["batch_size"],
    threads: Annotated[int | None, typer.Option(help="Measured thread count to use [default: the largest].")] = None,
    size_tolerance: Annotated[float, typer.Option(
        help="Sizes within this fraction of the smallest tie; latency decides.")] = _P["size_tolerance"],
    formats: Annotated[str | None, typer.Option(
        help="Only choose among these formats, e.g. onnx,openvino (what a Space serves) [default: any].")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Choose the smallest artifact within the accuracy drop and latency budget; write decision.json."""
    setup_logging(verbose)
    rules = PickRules(device=device, max_drop=max_drop, budget_ms=budget_ms, batch_size=batch_size, threads=threads,
                      size_tolerance=size_tolerance,
                      formats=tuple(f.strip() for f in formats.split(",") if f.strip()) if formats is not None else None)
    decision = pick(report, rules)
    typer.echo(decision.explain())
    if decision.chosen is None:
        raise typer.Exit(1)
    typer.echo(f"wrote {report / DECISION_JSON}")


@cli_errors
def latency_command(
    artifacts: Annotated[list[Path], typer.Argument(help="Artifact folders; the first is the baseline of the ratios.")],
    batch_size: Annotated[int, typer.Option(help="Images per run.")] = 1,
    rounds: Annotated[int, typer.Option(help="Rounds; each runs every artifact in turn (1 untimed + --block timed).")] = 30,
    block: Annotated[int, typer.Option(help="Timed runs of an artifact per round.")] = 5,
    warmup: Annotated[int, typer.Option(help="Untimed runs of each artifact first.")] = 10,
    threads: Annotated[int, typer.Option(help="Intra-op threads for every runtime.")] = 2,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers to this JSON file.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --json file.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Time artifacts interleaved (A B A B ...), so machine noise hits all alike: for close A/B comparisons."""
    from seefood.bench.interleave import interleaved_latency, interleaved_table
    from seefood.errors import OutputExistsError
    from seefood.io import atomic_write_json

    setup_logging(verbose)
    if json_out is not None and json_out.exists() and not force:
        raise OutputExistsError(f"{json_out} exists: pass --force to replace it, or choose another --json path")
    report = interleaved_latency(artifacts, batch_size=batch_size, rounds=rounds, warmup=warmup, threads=threads,
                                 device=device, block=block)
    make_console().print(interleaved_table(report))
    if json_out is not None:
        atomic_write_json(json_out, report.to_dict())
        typer.echo(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    """Add the bench, pick and latency commands to the main app."""
    app.command("bench")(bench)
    app.command("pick")(pick_command)
    app.command("latency")(latency_command)
