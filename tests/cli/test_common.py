"""CLI plumbing shared by every command."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest


def test_tables_written_to_a_pipe_are_wide_unless_columns_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    from seefood.cli.common import PIPE_WIDTH, make_console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert make_console().width == PIPE_WIDTH  # pytest captures stdout: not a terminal
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console().width == 100


def test_sigterm_is_handled_like_ctrl_c_and_leaves_no_staging_folder(tmp_path: Path) -> None:
    """`timeout` / `docker stop` send SIGTERM: the command exits 130 and its atomic output is cleaned up."""
    script = f"""
import sys, time, typer
from pathlib import Path
from seefood.cli.common import cli_errors
from seefood.io import atomic_dir

@cli_errors
def work() -> None:
    with atomic_dir(Path({str(tmp_path / "out")!r})) as staging:
        (staging / "part").write_text("half")
        print("staged", flush=True)
        time.sleep(60)

typer.run(work)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"staged"
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 130, output
    assert "interrupted" in output
    assert list(tmp_path.iterdir()) == []  # neither out/ nor a hidden .out.*.tmp staging folder
