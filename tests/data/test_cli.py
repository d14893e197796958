"""`seefood data sample` and `seefood data info` through typer's runner."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from seefood.cli import data as data_cli
from tests.data.helpers import write_tree

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps `data` a sub-command
    data_cli.register(app)
    return app


def test_sample_writes_then_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["data", "sample", str(out), "--per-class-train", "2", "--per-class-test", "1", "--size", "32"]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert len(list((out / "train").rglob("*.jpg"))) == 2 * 5 and len(list((out / "test").rglob("*.jpg"))) == 5
    again = runner.invoke(_app(), args)
    assert again.exit_code == 1 and "--force" in again.output
    (out / "README.txt").write_text("my notes")
    assert runner.invoke(_app(), [*args, "--force", "--seed", "3"]).exit_code == 0
    assert (out / "README.txt").read_text() == "my notes"  # --force replaces only what the command writes


def test_bad_sample_option_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["data", "sample", str(tmp_path / "s"), "--size", "4"])
    assert result.exit_code == 2 and "--size" in result.output


def test_info_prints_classes_and_split_sizes(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "d", {"train/apple": 10, "train/pear": 5, "test/apple": 3, "test/pear": 2})
    (root / "train" / "pear" / "bad.jpg").write_bytes(b"")
    result = runner.invoke(_app(), ["data", "info", str(root), "--val-fraction", "0.2", "--classes", "pear,apple"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[2].strip(): line for line in result.output.splitlines() if line.count("│") >= 5}
    assert [c.strip() for c in lines["apple"].split("│")[3:6]] == ["8", "2", "3"]
    pear = [int(c) for c in lines["pear"].split("│")[3:6]]
    assert pear[0] + pear[1] == 5 and pear[2] == 2  # 6 train files, one of them empty and left out
    assert "total (2 classes)" in result.output and "bad.jpg (empty file)" in result.output


def test_info_error_exits_1_with_the_message(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["data", "info", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "no dataset named" in result.output
