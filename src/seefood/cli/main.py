"""The `seefood` command: one typer app; each sub-command lives in its own module."""

from __future__ import annotations

import typer

from seefood.cli import bench, data, demo, export, monitor, predict, prune, space, train

app = typer.Typer(
    name="seefood",
    help="Take a food-image classifier from training to the edge: train, export, bench, pick, ship.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (demo, train, data, export, predict, bench, prune, space, monitor):
    module.register(app)


if __name__ == "__main__":
    app()
