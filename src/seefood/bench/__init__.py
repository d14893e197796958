"""seefood.bench."""
