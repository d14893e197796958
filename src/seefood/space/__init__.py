"""seefood.space."""
