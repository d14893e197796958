"""Shared CLI plumbing: logging set-up and the boundary where domain errors become exit codes."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
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
