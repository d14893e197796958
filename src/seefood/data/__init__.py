"""seefood.data."""
