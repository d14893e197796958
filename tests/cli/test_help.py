"""What `--help`, `--version` and a bad argument look like to someone trying seefood for the first time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seefood import __version__
from seefood.cli.main import app

runner = CliRunner()


def _commands(group: object = None, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command of the app, as the words that call it."""
    group = group or typer.main.get_command(app)
    out: list[tuple[str, ...]] = []
    for name, command in getattr(group, "commands", {}).items():
        out += _commands(command, (*prefix, name)) if hasattr(command, "commands") else [(*prefix, name)]
    return out


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"seefood {__version__}"


@pytest.mark.parametrize("words", _commands(), ids=" ".join)
def test_every_command_help_has_examples_readable_types_and_its_defaults(words: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Examples" in text and f"seefood {' '.join(words)}" in text.split("Examples", 1)[1]
    assert "list[" not in text and "<bool>" not in text  # <path>..., and nothing beside a flag
    assert not re.search(r"\w \.\s", text)  # a "[default: ...]" that Rich read as markup leaves "text ."


def test_the_defaults_rich_used_to_eat_are_shown() -> None:
    build = " ".join(runner.invoke(app, ["space", "build", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "Space title. [default: (from the artifact)]" in build
    pick = " ".join(runner.invoke(app, ["pick", "--help"], env={"COLUMNS": "200"}).output.split())
    assert "[default: (the largest measured)]" in pick and "[default: (none)]" in pick


@pytest.mark.parametrize("args", [
    ["export", "{gone}", "--out", "{tmp}/x"],
    ["prune", "{gone}", "--ratio", "0.3", "--out", "{tmp}/x"],
    ["evaluate", "{gone}", "--data", "{tmp}"],
    ["predict", "{gone}", "{tmp}"],
    ["pick", "{gone}"],
    ["bench", "{gone}", "--data", "{tmp}", "--out", "{tmp}/r"],
    ["train", "--model", "resnet9000", "--data", "{tmp}"],
    ["space", "build", "{gone}", "--out", "{tmp}/s"],
    ["monitor", "{gone}"],
])
def test_a_path_or_name_that_does_not_exist_is_a_bad_argument(args: list[str], tmp_path: Path) -> None:
    filled = [a.format(gone=tmp_path / "gone", tmp=tmp_path) for a in args]
    result = runner.invoke(app, filled)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_prune_settings_without_prune_are_a_bad_argument(tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    result = runner.invoke(app, ["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "x"), "--drop-blocks", "2",
                                 "--finetune-epochs", "1"])
    assert result.exit_code == 2, result.output
    assert "--finetune-epochs, --drop-blocks are part of --prune" in " ".join(result.output.split())
