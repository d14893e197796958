"""The int8 recipe tables as the export code reads them: validation, planning and the int8 orchestrator alike.

Kept apart from `seefood.export.int8` (the orchestrator, which imports the config) so that validating a
config never imports the orchestrator: config -> recipes, int8 -> (config, recipes), no cycle.
"""

from __future__ import annotations

from typing import Any


def load_recipes() -> tuple[dict[str, list[Any]] | None, str | None]:
    """(format -> recipes in the order they are tried, None), or (None, why) when the recipes cannot import."""
    try:
        from seefood.export.quantize import INT8_RECIPES
    except ImportError as exc:
        return None, f"int8 is unavailable: seefood.export.quantize does not import ({exc})"
    return INT8_RECIPES, None
