"""`seefood bench` (accuracy vs latency of every artifact, its table printed) and `seefood latency` (close A/B)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seefood.bench import BenchConfig, BenchResult, run_bench
from seefood.bench.config import default_threads
from seefood.bench.report import SUMMARY_COLUMNS, summary
from seefood.cli.common import cli_errors, console, existing, make_console, one_of, setup_logging
from seefood.errors import ConfigError, SeefoodError
from seefood.runtimes.variants import EAGER_VARIANTS


def _defaults(cls: Any) -> dict[str, Any]:
    """Field defaults of a config dataclass: the one place CLI defaults come from."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


_B = _defaults(BenchConfig)
_DEVICES, _BATCH_SIZES = ",".join(_B["devices"]), ",".join(map(str, _B["batch_sizes"]))  # as typed on the command line
_EAGER_VARIANTS = ",".join(_B["eager_variants"])


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
    export_dirs: Annotated[list[Path], typer.Argument(
        metavar="PATH", help="Export folders (or single artifact folders) to bench.")],
    data: Annotated[Path, typer.Option(
        help="Labelled photos to measure accuracy on: a dataset folder (its test/ is used) or a <class>/<photo> "
             "folder (all of it).")],
    out: Annotated[Path, typer.Option(help="Report folder; a re-run adds to it and skips what is measured.")],
    device: Annotated[str, typer.Option(help="Comma list of devices: cpu, cuda (absent ones: skipped rows).")] = (
        _DEVICES),
    batch_size: Annotated[str, typer.Option(help="Comma list of batch sizes to time, e.g. 1,8.")] = _BATCH_SIZES,
    threads: Annotated[int | None, typer.Option(
        help="Intra-op threads for every runtime.", show_default="all cores")] = None,
    min_runs: Annotated[int, typer.Option(help="Timed runs at least ...")] = _B["min_runs"],
    min_time: Annotated[float, typer.Option(help="... and at least this many seconds of timed runs.")] = (
        _B["min_time_s"]),
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs first.")] = _B["warmup"],
    force: Annotated[bool, typer.Option(help="Re-measure rows already in the report.")] = _B["force"],
    limit: Annotated[int | None, typer.Option(help="Evaluate accuracy on at most N images (spread over classes).")] = (
        None),
    eager_variants: Annotated[str, typer.Option(
        help=f"Also bench the reference checkpoint as these eager variants, a row each (pytorch-<variant>), e.g. "
             f"bf16,compile; one that cannot run on a device is a skipped row with the reason. "
             f"Known: {', '.join(EAGER_VARIANTS)}.", show_default="none")] = _EAGER_VARIANTS,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = _B["progress"],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    devices: Annotated[str | None, typer.Option(hidden=True, help="Old spelling of --device.")] = None,
    batch_sizes: Annotated[str | None, typer.Option(hidden=True, help="Old spelling of --batch-size.")] = None,
) -> None:
    """Measure accuracy, latency, memory and size of every artifact against the fp32 reference; print the table.

    Writes OUT/report.md (a summary, then every column), results.jsonl/csv, pareto.png and env.json. A re-bench
    of an artifact folder (re-exported, or --force) replaces its earlier rows and says which. Exit 0 when
    something was measured, 1 when nothing could be, 2 on bad arguments.

    [bold]Examples[/]

    seefood bench runs/e-export --data my_photos/ --out runs/report
    seefood bench runs/e-export runs/e-pruned --data ../shared/data/food101-sample --out runs/report --batch-size 1,8
    seefood bench runs/e-export --data my_photos/ --out runs/report --device cpu,cuda --eager-variants bf16,compile
    """
    setup_logging(verbose)
    config = BenchConfig(
        export_dirs=tuple(existing(p, "PATH", "an export folder written by `seefood export`") for p in export_dirs),
        data=existing(data, "--data", "a folder of labelled photos: <class>/<photo>, or a dataset with test/"),
        out=out,
        devices=_split(one_of(device, devices, "--device", "--devices", _DEVICES), "--device"),
        batch_sizes=_ints(one_of(batch_size, batch_sizes, "--batch-size", "--batch-sizes", _BATCH_SIZES), "--batch-size"),
        threads=threads if threads is not None else default_threads(),
        min_runs=min_runs, min_time_s=min_time, warmup=warmup, force=force, limit=limit, progress=progress,
        eager_variants=_split(eager_variants, "--eager-variants") if eager_variants.strip() else (),
    )
    run = run_bench(config)
    make_console().print(summary_table(list(run.rows), f"seefood bench ({config.out / 'report.md'} has every column)"))
    for old, new in run.replaced:
        why = "re-measured (--force)" if old.sha256 == new.sha256 else "its files changed since (re-exported)"
        console.print(f"[yellow]replaced[/] the earlier row of {old.name} ({old.device}, batch {old.batch_size}, "
                      f"{old.threads} threads, measured {old.created}): {why}")
    ok = sum(r.ok for r in run.rows)
    console.print(
        f"[green]bench:[/] {run.measured} row(s) measured, {run.already_done} already done, "
        f"{len(run.replaced)} replaced, {ok}/{len(run.rows)} OK -> {config.out}/report.md, {config.out}/pareto.png"
    )
    if ok == 0:
        raise SeefoodError(f"no artifact was measured successfully: see the reasons in {config.out}/report.md")


def summary_table(rows: list[BenchResult], title: str) -> Table:
    """The report's summary as a rich table (report.md has every column); doubtful rows in yellow, failed in red."""
    table = Table(title=title)
    for col in SUMMARY_COLUMNS:
        table.add_column(col, justify="left" if col in ("artifact", "device", "ran", "status") else "right")
    for row, cells in summary(rows):
        style = "red" if not row.ok else None if cells[-1] == "ok" else "yellow"
        table.add_row(*cells, style=style)
    return table


@cli_errors
def latency_command(
    artifacts: Annotated[list[Path], typer.Argument(
        metavar="PATH", help="Artifact folders; the first is the baseline of the ratios.")],
    batch_size: Annotated[int, typer.Option(help="Images per run.")] = 1,
    rounds: Annotated[int, typer.Option(help="Rounds; each runs every artifact in turn (1 untimed + --block timed).")] = 30,
    block: Annotated[int, typer.Option(help="Timed runs of an artifact per round.")] = 5,
    warmup: Annotated[int, typer.Option(help="Untimed runs of each artifact first.")] = 10,
    threads: Annotated[int | None, typer.Option(
        help="Intra-op threads for every runtime.", show_default="every core this process may use")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers to this JSON file.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --json file.")] = False,
    eager_variants: Annotated[str, typer.Option(
        help=f"Also time each checkpoint folder among PATHs as these eager variants, after the artifacts (e.g. "
             f"bf16,compile; known: {', '.join(EAGER_VARIANTS)}).", show_default="none")] = "",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Time artifacts interleaved (A B A B ...), so machine noise hits all alike: for close A/B comparisons.

    [bold]Examples[/]

    seefood latency runs/e-export/onnx-int8 runs/e-export/openvino-int8
    seefood latency runs/e-export/openvino-int8 runs/e-pruned/openvino-int8 --threads 1 --json ab.json
    seefood latency runs/e/best runs/e-export/onnx-int8 --eager-variants bf16,compile
    """
    from seefood.bench.interleave import interleaved_latency, interleaved_table
    from seefood.errors import OutputExistsError
    from seefood.io import atomic_write_json

    setup_logging(verbose)
    if json_out is not None and json_out.exists() and not force:
        raise OutputExistsError(f"{json_out} exists: pass --force to replace it, or choose another --json path")
    report = interleaved_latency(artifacts, batch_size=batch_size, rounds=rounds, warmup=warmup, threads=threads,
                                 device=device, block=block,
                                 variants=_split(eager_variants, "--eager-variants") if eager_variants.strip() else ())
    make_console().print(interleaved_table(report))
    if json_out is not None:
        atomic_write_json(json_out, report.to_dict())
        typer.echo(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    """Add the bench and latency commands to the main app (`seefood pick` lives in cli/pick.py)."""
    app.command("bench")(bench)
    app.command("latency")(latency_command)
