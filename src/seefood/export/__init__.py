"""seefood.export."""
