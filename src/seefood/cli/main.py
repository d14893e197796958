"""The `seefood` command: one typer app; each sub-command lives in its own module."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from seefood.cli import bench, data, demo, evaluate, export, monitor, pick, predict, prune, space, train
from seefood.cli.common import readable_help


class SeefoodGroup(TyperGroup):
    """The root command group: every command's help shows types as a user reads them (cli.common.readable_help)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        readable_help(self)


app = typer.Typer(
    name="seefood",
    cls=SeefoodGroup,
    help="Take a food-image classifier from training to the edge: train, export, bench, pick, ship.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from seefood import __version__

        typer.echo(f"seefood {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print seefood's version and exit.")] = False,
) -> None:
    """Take a food-image classifier from training to the edge: train, export, bench, pick, ship.

    Start with `seefood demo` (the whole path on generated data, a few minutes on a CPU), then each command's --help.
    """


for module in (demo, train, evaluate, data, export, predict, bench, pick, prune, space, monitor):
    module.register(app)


if __name__ == "__main__":
    app()
