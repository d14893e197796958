"""`seefood prune`: structured pruning (Torch-Pruning) + recovery fine-tuning of a checkpoint."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer

from seefood.cli.common import cli_errors, console, existing, make_console, setup_logging
from seefood.prune.config import PruneConfig

_P = SimpleNamespace(**{f.name: f.default for f in fields(PruneConfig)})  # the defaults come from the config


@cli_errors
def prune(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder written by `seefood train` (e.g. runs/x/best).")],
    ratio: Annotated[float, typer.Option(
        help="Fraction of the parameters channel pruning removes, e.g. 0.3 (of what --drop-blocks leaves; "
             "0: blocks only).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="DIR: pruned/, finetune/, checkpoint/ (the result), prune.json.")],
    data: Annotated[str | None, typer.Option(
        help="Data to fine-tune and measure on: an ImageFolder path or 'sample' (default: the checkpoint's).")] = _P.data,
    drop_blocks: Annotated[int, typer.Option(
        help="First remove this many whole residual blocks (fewer layers: what b=1 CPU latency needs), one per "
             "stage in turn, the least influential on training images.")] = _P.drop_blocks,
    finetune_epochs: Annotated[int, typer.Option(help="Recovery fine-tuning epochs (0: keep it as pruned).")] = _P.finetune_epochs,
    baseline: Annotated[bool, typer.Option(
        "--baseline", help="Also fine-tune the unpruned model with the same recipe and epochs (same-budget "
                           "comparison, DIR/baseline/); the result must stay within --max-drop of it too.")] = _P.baseline,
    recalibrate_images: Annotated[int, typer.Option(
        help="Re-estimate BatchNorm statistics on this many training images right after pruning (0: off).")
    ] = _P.recalibrate_images,
    distill: Annotated[bool, typer.Option(
        "--distill/--no-distill", help="Recovery learns from the unpruned model's predictions too (distillation).")
    ] = _P.distill,
    importance: Annotated[str, typer.Option(help="Which channels go: taylor (gradients) or l2 (magnitude).")] = _P.importance,
    max_drop: Annotated[float, typer.Option(
        help="Top-1 points the result may lose; more marks it failed (pick skips it).")] = _P.max_drop,
    lr: Annotated[float | None, typer.Option(help="Fine-tuning learning rate (default: the checkpoint's).")] = _P.lr,
    batch_size: Annotated[int | None, typer.Option(help="Fine-tuning batch size (default: the checkpoint's).")] = _P.batch_size,
    device: Annotated[str, typer.Option(help="Fine-tuning device: auto, cpu or cuda.")] = _P.device,
    workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = _P.workers,
    threads: Annotated[int | None, typer.Option(
        help="Torch CPU threads.", show_default="every core this process may use")] = _P.threads,
    latency_runs: Annotated[int, typer.Option(help="Timed b=1 CPU runs per model (0: skip).")] = _P.latency_runs,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier prune run in DIR.")] = _P.force,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Remove channels / attention heads (and whole blocks), fine-tune to recover, and report.

    Exit 0 when the result stays within --max-drop of the original, 1 when it does not (it is still
    written, marked metrics.accuracy_rule = "failed"), 2 on bad arguments.

    [bold]Examples[/]

    seefood prune runs/e/best --ratio 0.3 --out runs/e-prune --finetune-epochs 3 --baseline
    seefood prune runs/e/best --ratio 0.3 --drop-blocks 7 --out runs/e-prune7
    """
    from seefood.prune import PruneConfig, prune_checkpoint, summary_table

    setup_logging(verbose)
    config = PruneConfig(
        checkpoint=existing(checkpoint, "CHECKPOINT", "a checkpoint folder written by `seefood train`, e.g. runs/NAME/best"),
        ratio=ratio, out=out, data=data, drop_blocks=drop_blocks,
        finetune_epochs=finetune_epochs, baseline=baseline, recalibrate_images=recalibrate_images, distill=distill,
        importance=importance, max_drop=max_drop, lr=lr, batch_size=batch_size, device=device, workers=workers,
        threads=threads, latency_runs=latency_runs, force=force,
    )
    report = prune_checkpoint(config, console=console)
    stdout = make_console()
    stdout.print(summary_table(report))
    stdout.print(f"wrote {report.checkpoint} and {out / 'prune.json'}")
    if report.accuracy_rule != "passed":
        console.print(f"[yellow]the pruned model lost more than --max-drop {max_drop} top-1 points: it is marked "
                      f"failed; try a smaller --ratio, fewer --drop-blocks or more --finetune-epochs[/]")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the prune command to the main app."""
    app.command("prune")(prune)
