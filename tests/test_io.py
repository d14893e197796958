"""Atomic output folders: --force replaces only what the command writes; killed runs' staging is cleaned up."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from seefood.errors import OutputExistsError
from seefood.io import OUTPUTS_RECORD, atomic_dir, force_deletions, remove_stale_staging


def _write(out: Path, files: dict[str, str], force: bool = False) -> None:
    with atomic_dir(out, overwrite=force) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_force_replaces_what_the_command_writes_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, {"a.json": "1", "old-format/model": "x", "shared/f": "1"})
    (out / "logs").mkdir()
    (out / "logs" / "predictions.sqlite").write_text("history")  # written by someone else: a served Space
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--force"):
        _write(out, {"a.json": "2"})
    _write(out, {"a.json": "2", "shared/g": "2"}, force=True)
    assert (out / "a.json").read_text() == "2"
    assert not (out / "old-format").exists()  # an earlier run's output, recorded as such
    assert sorted(p.name for p in (out / "shared").iterdir()) == ["g"]  # a written folder is replaced whole
    assert (out / "logs" / "predictions.sqlite").read_text() == "history"
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / OUTPUTS_RECORD).read_text()) == {"written": ["a.json", "shared"]}
    assert _hidden(tmp_path) == []  # no staging or trash folder left beside it


def test_without_a_record_only_this_runs_names_may_go(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.json", "user.txt"):
        (out / name).write_text("old")
    (out / OUTPUTS_RECORD).write_text(json.dumps({"written": ["../escape", "/etc", "", "a.json"]}))
    assert force_deletions(out, ["a.json", "b.json"]) == [out / OUTPUTS_RECORD, out / "a.json"]
    (out / OUTPUTS_RECORD).write_text("not json")
    assert force_deletions(out, ["user.txt"]) == [out / OUTPUTS_RECORD, out / "user.txt"]


def test_a_failure_leaves_the_old_folder_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(out, {"a.json": "1"})
    with pytest.raises(RuntimeError), atomic_dir(out, overwrite=True) as tmp:
        (tmp / "a.json").write_text("2")
        raise RuntimeError("export failed")
    assert (out / "a.json").read_text() == "1" and _hidden(tmp_path) == []


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "export"
    # a real SIGKILL in the middle of a write, as a user's `kill -9` or the OOM killer would do it
    code = ("import os, signal, sys; from seefood.io import atomic_dir\n"
            "with atomic_dir(sys.argv[1]) as tmp:\n"
            "    (tmp / 'half.onnx').write_text('x'); os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], check=False)
    assert proc.returncode == -9
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".export.")]
    assert len(left) == 1 and left[0].name.endswith(".tmp") and not out.exists()
    running = tmp_path / ".export.1.abc.tmp"  # pid 1 is alive: another run still writing
    running.mkdir()
    (tmp_path / ".export.123.tmp").write_text("a file's atomic-write temp, not a staging folder")
    with caplog.at_level(logging.WARNING, logger="seefood.io"):
        _write(out, {"model.onnx": "ok"})
    assert not left[0].exists() and running.is_dir() and (tmp_path / ".export.123.tmp").is_file()
    assert "interrupted run" in caplog.text and left[0].name in caplog.text
    assert remove_stale_staging(out) == []


def test_a_file_at_the_path_is_replaced_only_with_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("a file")
    with pytest.raises(OutputExistsError):
        _write(out, {"a": "1"})
    _write(out, {"a": "1"}, force=True)
    assert (out / "a").read_text() == "1"
