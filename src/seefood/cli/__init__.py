"""seefood.cli."""
