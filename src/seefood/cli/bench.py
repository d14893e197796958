"""`seefood bench` (placeholder until its feature lands)."""

from __future__ import annotations

import typer

from seefood.cli.common import not_implemented


def register(app: typer.Typer) -> None:
    """Add the bench command to the main app."""

    @app.command("bench")
    def _placeholder() -> None:
        """Not implemented yet."""
        not_implemented("seefood bench", "see the open issues")
