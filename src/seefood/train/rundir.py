"""The run folder: refuse to mix runs, clear it on --force, find what --resume needs."""

from __future__ import annotations

import shutil
from pathlib import Path

from seefood.checkpoint import STATE_JSON, STATE_TENSORS
from seefood.errors import CheckpointError, ConfigError, OutputExistsError
from seefood.train.config import CONFIG_FILE, TrainConfig, run_dir_of
from seefood.train.result import RESULT_FILE

LAST, BEST, TB, TEST = "last", "best", "tb", "test"
RUN_ENTRIES = (CONFIG_FILE, LAST, BEST, TB, TEST, RESULT_FILE)  # what --force removes


def check_run_dir(config: TrainConfig) -> Path:
    """The run folder for `config`, after checking it may be written (read-only: safe on every rank)."""
    out = Path(config.out)
    if config.resume:
        if config.force:
            raise ConfigError("--resume continues a run and --force starts over: pass only one of them")
        run = run_dir_of(config.resume)
        if run.resolve() != out.resolve():
            raise ConfigError(f"--out {out} differs from --resume {run}: a resumed run continues in its own folder")
        last = run / LAST
        if not (last / STATE_TENSORS).is_file() or not (last / STATE_JSON).is_file():
            raise CheckpointError(
                f"nothing to resume in {run}: no {LAST}/ checkpoint with training state. Start a new run "
                f"(--force to reuse the folder) or pass a run folder written by `seefood train`"
            )
        return run
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out {out} is a file: choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not config.force:
        raise OutputExistsError(
            f"{out} is not empty: pass --resume {out} to continue that run, --force to start over, "
            f"or choose another --out"
        )
    return out


def clear_run_dir(out: Path) -> None:
    """Remove a previous run's files (only those seefood writes) before --force starts over."""
    for name in RUN_ENTRIES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
