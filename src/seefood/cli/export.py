"""`seefood export` / `seefood-export`: checkpoint -> every format of the registry (seefood.formats), + fp16, int8."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer

from seefood.cli.common import cli_errors, existing, make_console, setup_logging
from seefood.errors import ConfigError
from seefood.export.config import ExportConfig, PruneOptions
from seefood.formats import export_formats, int8_formats

# the defaults of ExportConfig's fields (the config itself needs a checkpoint to be built)
_C = SimpleNamespace(**{f.name: f.default for f in fields(ExportConfig)})
_P = SimpleNamespace(**{f.name: f.default for f in fields(PruneOptions)})  # --prune's own settings


def _names(value: str | None) -> tuple[str, ...] | None:
    """A comma list in order without repeats (empty stays empty: the config says what is wrong)."""
    return None if value is None else tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))


def _formats(value: str | None) -> tuple[str, ...] | None:
    names = _names(value)
    if names is not None and not names:
        raise ConfigError("--formats is empty: e.g. --formats onnx,openvino, or leave it out for every installed one")
    return names


@cli_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder written by `seefood train` (e.g. runs/x/best).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="EXPORT_DIR: one folder per artifact, failed/ for misses.")],
    formats: Annotated[str | None, typer.Option(
        help=f"Comma-separated: {','.join(export_formats())} (default: every one installed here).")] = None,
    int8: Annotated[bool, typer.Option(
        "--int8", help=f"Also quantise to int8 ({', '.join(int8_formats())}).")] = _C.int8,
    int8_recipe: Annotated[str | None, typer.Option(
        help="Comma-separated int8 recipes to try, e.g. nncf-ptq,ort-static (default: all, default first, then "
             "remedies; names in docs/architecture.md).")] = None,
    fp16: Annotated[bool, typer.Option(
        "--fp16", help="Also export fp16 (OpenVINO weights; TorchScript/TensorRT on CUDA).")] = _C.fp16,
    calib_data: Annotated[Path | None, typer.Option(
        help="Training photos for int8 calibration (default: the checkpoint's dataset).")] = _C.calib_data,
    calib_size: Annotated[int, typer.Option(help="Calibration images.")] = _C.calib_size,
    parity_data: Annotated[Path | None, typer.Option(
        help="Labelled photos, test/<class>/* or <class>/* (default: the checkpoint's test split).")] = _C.parity_data,
    parity_size: Annotated[int, typer.Option(help="At most this many parity photos (seeded sample).")] = _C.parity_size,
    min_parity_images: Annotated[int, typer.Option(help="Fewer parity photos than this is an error.")] = (
        _C.min_parity_images),
    batch: Annotated[str, typer.Option(help="Input batch: 1 (static) or dynamic.")] = _C.batch,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = _C.device,
    max_drop: Annotated[float, typer.Option(help="Largest allowed top-1 accuracy drop on the parity photos, in points.")] = _C.max_drop,
    min_confident_agreement: Annotated[float, typer.Option(
        help="Required top-1 agreement on the photos the fp32 model is confident on (fraction).")] = _C.min_confident_agreement,
    confident_prob: Annotated[float, typer.Option(
        help="fp32 top-1 probability from which a parity photo counts as confident.")] = _C.confident_prob,
    min_agreement: Annotated[float, typer.Option(
        help="fp32/fp16: raw top-1 agreement required when too few photos are confident (fraction).")] = _C.min_agreement,
    min_agreement_int8: Annotated[float, typer.Option(
        help="int8: raw top-1 agreement required when too few photos are confident (fraction).")] = _C.min_agreement_int8,
    threads: Annotated[int | None, typer.Option(
        help="Intra-op threads for every runtime.", show_default="every core this process may use")] = _C.threads,
    latency_runs: Annotated[int, typer.Option(help="Quick b=1 latency runs per artifact (0: skip).")] = _C.latency_runs,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing EXPORT_DIR.")] = _C.force,
    prune: Annotated[float | None, typer.Option(
        help="Prune this fraction of the parameters and fine-tune first (run kept in EXPORT_DIR-prune/).")] = None,
    data: Annotated[str | None, typer.Option(
        help="--prune: data to fine-tune on, ImageFolder path or 'sample' (default: the checkpoint's).")] = _P.data,
    finetune_epochs: Annotated[int, typer.Option(help="--prune: recovery fine-tuning epochs.")] = _P.finetune_epochs,
    drop_blocks: Annotated[int, typer.Option(
        help="--prune: first remove this many whole residual blocks (see `seefood prune --help`).")] = _P.drop_blocks,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Export a checkpoint to deployment formats and check every artifact against PyTorch on real photos.

    Exit 0 when every requested artifact passed, 1 when some failed, 2 on bad arguments.

    [bold]Examples[/]

    seefood export runs/e/best --out runs/e-export --int8
    seefood export runs/e/best --out runs/e-mobile --formats executorch --int8 --parity-data my_photos/
    """
    from seefood.export.pipeline import run_export
    from seefood.export.report import summary_table

    setup_logging(verbose)
    stdout = make_console()
    config = ExportConfig(
        checkpoint=existing(checkpoint, "CHECKPOINT", "a checkpoint folder written by `seefood train`, e.g. runs/NAME/best"),
        out=out, formats=_formats(formats), fp16=fp16, int8=int8, calib_data=calib_data,
        int8_recipes=_names(int8_recipe),
        calib_size=calib_size, parity_data=parity_data, parity_size=parity_size,
        min_parity_images=min_parity_images, batch=batch, device=device, min_agreement=min_agreement,
        min_agreement_int8=min_agreement_int8, max_drop=max_drop, min_confident_agreement=min_confident_agreement,
        confident_prob=confident_prob, threads=threads, latency_runs=latency_runs,
        force=force, prune=_prune_options(prune, data, finetune_epochs, drop_blocks),
    )
    if config.prune is not None:
        from seefood.prune import prune_then_export
        from seefood.prune import summary_table as prune_table

        pruned, report = prune_then_export(config)
        stdout.print(prune_table(pruned))
    else:
        report = run_export(config)
    stdout.print(summary_table(report))
    stdout.print(f"wrote {out / 'export.json'}")
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the export command to the main app."""
    app.command("export")(export)


def main() -> None:
    """Entry point of the `seefood-export` console script."""
    typer.run(export)


def _prune_options(ratio: float | None, data: str | None, finetune_epochs: int, drop_blocks: int) -> PruneOptions | None:
    """--prune and its settings as one record; the settings without --prune are a bad argument."""
    if ratio is not None:
        return PruneOptions(ratio=ratio, data=data, finetune_epochs=finetune_epochs, drop_blocks=drop_blocks)
    given = [name for name, value, default in (("--data", data, _P.data), ("--finetune-epochs", finetune_epochs,
             _P.finetune_epochs), ("--drop-blocks", drop_blocks, _P.drop_blocks)) if value != default]
    if given:
        raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} part of --prune: pass --prune "
                          f"RATIO too (0 for blocks only)")
    return None
