"""Shared CLI plumbing: logging set-up and the boundary where domain errors become exit codes."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler

from seefood.errors import ConfigError, SeefoodError

PIPE_WIDTH = 160  # tables written to a file or pipe: wide enough that no column is cut to "…"


def make_console(stderr: bool = False) -> Console:
    """A rich Console; when the stream is not a terminal (a log file, CI) it is PIPE_WIDTH wide, not 80."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not (hasattr(stream, "isatty") and stream.isatty()) and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=PIPE_WIDTH if piped else None)


console = make_console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def setup_logging(verbose: bool = False) -> None:
    """Rich logging to stderr for the CLI (library code only creates loggers)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )


def cli_errors(fn: F) -> F:
    """Turn SeefoodError into a one-line red message and exit 1 (ConfigError: exit 2)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        terminate_like_ctrl_c()
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        except SeefoodError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def terminate_like_ctrl_c() -> None:
    """SIGTERM (`timeout`, `docker stop`, a scheduler) raises KeyboardInterrupt, as Ctrl-C does.

    So a terminated command cleans up the same way: training saves last/ for --resume, and atomic outputs
    remove their hidden staging folders instead of leaving `.NAME.*.tmp` behind.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def not_implemented(command: str, issue: str) -> None:
    """Placeholder for a command whose feature has not landed: a clear message and exit 2."""
    console.print(f"[yellow]`{command}` is not implemented yet ({issue}).[/]")
    raise typer.Exit(2)


def existing(path: Path, name: str, what: str) -> Path:
    """`path` when it exists; else a ConfigError (exit 2: a bad argument) naming the argument and what it takes."""
    if not path.exists():
        raise ConfigError(f"{name} {path} does not exist: pass {what}")
    return path


def one_of(value: T, alias: T | None, name: str, alias_name: str, default: T) -> T:
    """The value of an option that also has an old, hidden spelling (`alias`, None when not given).

    The old spelling wins over the new one left at its default; two different values given are a ConfigError.
    """
    if alias is None:
        return value
    if value != default and value != alias:
        raise ConfigError(f"{name} {value} and {alias_name} {alias} disagree: {alias_name} is the old spelling of "
                          f"{name}; pass only {name}")
    return alias


def readable_help(command: Any) -> None:
    """Show option and argument types in --help as a user reads them, for `command` and every sub-command.

    typer prints the Python annotation: `<list[str]>` for PATH... arguments and `<bool>` beside every flag; this
    shows `<path>...` (any list: its item type, then "...") and nothing beside a flag. Typer versions that print
    click's own metavars have no `display_type_rich` and are left alone.
    """
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub)
    for param in getattr(command, "params", ()):
        _readable(param)
    help_option = getattr(command, "get_help_option", None)
    if help_option is not None:  # --help is made on demand, outside `params`
        command.get_help_option = functools.partial(_readable_help_option, help_option)


def _readable(param: Any) -> Any:
    shown = getattr(param, "display_type_rich", None)
    if shown is not None and not isinstance(shown, functools.partial):
        param.display_type_rich = functools.partial(_readable_type, param, shown)
    return param


def _readable_help_option(make: Callable[[Any], Any], ctx: Any) -> Any:
    option = make(ctx)
    return None if option is None else _readable(option)


def _readable_type(param: Any, shown: Callable[[Any], str | None], ctx: Any) -> str | None:
    if getattr(param, "is_flag", False):
        return None
    text = shown(ctx)
    if text and text.startswith("<list[") and text.endswith("]>"):
        item = "path" if param.metavar == "PATH" else text[len("<list["):-2].lower()
        text = f"<{item}>..."
    elif text and getattr(param, "nargs", 1) != 1 and not text.endswith("..."):
        text += "..."
    return text
