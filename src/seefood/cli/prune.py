"""`seefood prune` (placeholder until its feature lands)."""

from __future__ import annotations

import typer

from seefood.cli.common import not_implemented


def register(app: typer.Typer) -> None:
    """Add the prune command to the main app."""

    @app.command("prune")
    def _placeholder() -> None:
        """Not implemented yet."""
        not_implemented("seefood prune", "see the open issues")
