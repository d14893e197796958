"""`seefood data`: generate the sample dataset, and show what a data spec resolves to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from seefood.cli.common import cli_errors, make_console, setup_logging
from seefood.data import DataConfig, DataSplits, make_sample_dataset
from seefood.data.records import SPLITS
from seefood.data.sample import DEFAULT_SAMPLE, SampleConfig

data_app = typer.Typer(help="Datasets: write the generated sample dataset, inspect a dataset.", no_args_is_help=True)
stdout = make_console()
_DEFAULT_DATA = DataConfig()


@data_app.command("sample")
@cli_errors
def sample(
    out: Annotated[Path, typer.Argument(help="Folder to write (ImageFolder train/ and test/ + classes.txt).")],
    per_class_train: Annotated[int, typer.Option(help="Training images per class.")] = DEFAULT_SAMPLE.per_class_train,
    per_class_test: Annotated[int, typer.Option(help="Test images per class.")] = DEFAULT_SAMPLE.per_class_test,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = DEFAULT_SAMPLE.size,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes identical files.")] = DEFAULT_SAMPLE.seed,
    force: Annotated[bool, typer.Option("--force", help="Replace what an earlier `data sample` wrote in OUT (other files stay).")] = False,
) -> None:
    """Write the generated food-like sample dataset to OUT.

    [bold]Examples[/]

    seefood data sample runs/sample --per-class-train 40
    """
    setup_logging()
    cfg = SampleConfig(per_class_train=per_class_train, per_class_test=per_class_test, size=size, seed=seed)
    path = make_sample_dataset(out, cfg.per_class_train, cfg.per_class_test, cfg.size, cfg.seed, overwrite=force)
    stdout.print(f"wrote {path}")


def _split_names(value: str | None) -> tuple[str, ...] | None:
    return tuple(n.strip() for n in value.split(",") if n.strip()) if value else None


def splits_table(data: DataSplits) -> Table:
    """Images per class and split, with totals, as a rich table."""
    table = Table(title=data.source, caption=f"fingerprint {data.fingerprint[:16]}")
    table.add_column("label", justify="right")
    table.add_column("class")
    for split in SPLITS:
        table.add_column(split, justify="right")
    counts = data.counts()
    for label, name in enumerate(data.class_names):
        table.add_row(str(label), name, *(str(counts[s][label]) for s in SPLITS))
    table.add_section()
    table.add_row("", f"total ({data.num_classes} classes)", *(str(len(data.split(s))) for s in SPLITS))
    return table


@data_app.command("info")
@cli_errors
def info(
    spec: Annotated[str, typer.Argument(help="sample, food101, or the path of an ImageFolder.")],
    root: Annotated[Path | None, typer.Option(help="Cache folder of sample/food101.")] = _DEFAULT_DATA.root,
    subset: Annotated[float | None, typer.Option(help="Keep this fraction of every class.")] = _DEFAULT_DATA.subset,
    classes: Annotated[str | None, typer.Option(help="Comma-separated classes to keep.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the splits and subset.")] = _DEFAULT_DATA.seed,
    val_fraction: Annotated[float, typer.Option(help="Share of train kept for validation when there is no val/.")]
    = _DEFAULT_DATA.val_fraction,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on undecodable images.")] = _DEFAULT_DATA.strict,
    check: Annotated[bool, typer.Option(help="Decode every image to find broken files.")] = _DEFAULT_DATA.check,
    download: Annotated[bool, typer.Option(help="Allow downloading Food-101.")] = _DEFAULT_DATA.download,
) -> None:
    """Show the classes and split sizes a data spec resolves to.

    [bold]Examples[/]

    seefood data info my_photos/
    seefood data info ../shared/data/food101-sample --check
    """
    setup_logging()
    cfg = DataConfig(spec=spec, root=root, subset=subset, classes=_split_names(classes), seed=seed,
                     val_fraction=val_fraction, strict=strict, download=download, check=check)
    data = cfg.load()
    stdout.print(splits_table(data))
    if data.bad:
        stdout.print(f"[yellow]{len(data.bad)} undecodable image(s) left out:[/]")
        for bad in data.bad:
            stdout.print(f"  {bad.path} ({bad.reason})", markup=False)


def register(app: typer.Typer) -> None:
    """Add the `data` command group to the main app."""
    app.add_typer(data_app, name="data")
