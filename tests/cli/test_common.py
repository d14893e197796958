"""CLI plumbing shared by every command."""

from __future__ import annotations

import pytest


def test_tables_written_to_a_pipe_are_wide_unless_columns_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from seefood.cli.common import PIPE_WIDTH, make_console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert make_console().width == PIPE_WIDTH  # pytest captures stdout: not a terminal
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console().width == 100
