"""Atomic file and folder writes, hashing: outputs are complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from seefood.errors import OutputExistsError

log = logging.getLogger(__name__)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, paths, tuples and numpy scalars into plain JSON values."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return obj.item()  # numpy / torch scalars
    return obj


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write JSON (indented, sorted keys kept in insertion order) atomically."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, allow_nan=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def dir_size(path: str | os.PathLike[str]) -> int:
    """Total size in bytes of a file or of every file under a folder."""
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


OUTPUTS_RECORD = ".seefood-outputs.json"  # the top-level names a command wrote into its output folder


def _own_name(name: object) -> bool:
    """A plain entry name (no separator, no `..`): a tampered record cannot point outside the folder."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and os.sep not in name


def force_deletions(out: str | os.PathLike[str], written: Iterable[str]) -> list[Path]:
    """What `--force` may delete in an existing output folder: the one policy every command asks.

    Only what this run writes (`written`, top-level names) and what an earlier seefood run recorded in
    OUTPUTS_RECORD as written by it; anything else stays (a Space's logs/, a user's notes).
    """
    out = Path(out)
    names = {n for n in written if _own_name(n)} | {OUTPUTS_RECORD}
    try:
        earlier = read_json(out / OUTPUTS_RECORD).get("written", [])
    except (OSError, ValueError, AttributeError):
        earlier = []  # no record (an older seefood, or not ours): only this run's names
    names |= {n for n in earlier if _own_name(n)}
    return [out / n for n in sorted(names) if (out / n).exists() or (out / n).is_symlink()]


def remove_path(path: Path) -> None:
    """Delete a file, link or folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _staging_dir(path: Path) -> Path:
    """A hidden `.NAME.PID.xxxx.tmp` folder beside `path`; the PID tells a later run whether it is stale."""
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_staging(path: str | os.PathLike[str]) -> list[Path]:
    """Remove hidden staging folders of `path` whose process is gone (a SIGKILL, a power cut); say so."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    for candidate in sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp")):
        pid = candidate.name[len(path.name) + 2:].split(".", 1)[0]
        if not candidate.is_dir() or candidate.is_symlink() or (pid.isdigit() and _alive(int(pid))):
            continue  # a file's atomic-write temp, or the staging folder of a run still going
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
        log.warning("removed %s: the staging folder of an interrupted run (process %s is gone)", candidate,
                    pid if pid.isdigit() else "unknown")
    return removed


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a hidden staging folder beside `path`; on success its entries move into `path`.

    An existing `path` is an error unless `overwrite` (--force), and then only what `force_deletions` allows
    is replaced: the rest of the folder stays. On failure the staging folder is removed and `path` is left
    untouched; staging folders that an earlier, killed run left behind are removed first.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists: pass --force to replace it, or choose another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(path)
    tmp = _staging_dir(path)
    try:
        yield tmp
        written = sorted(p.name for p in tmp.iterdir())
        atomic_write_json(tmp / OUTPUTS_RECORD, {"written": written})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not path.is_dir() or path.is_symlink():
        if path.exists() or path.is_symlink():
            remove_path(path)  # a file where the folder goes: --force replaces it whole
        os.replace(tmp, path)
        return
    trash = _staging_dir(path)
    for victim in force_deletions(path, written):
        os.replace(victim, trash / victim.name)
    for entry in tmp.iterdir():
        os.replace(entry, path / entry.name)
    tmp.rmdir()
    shutil.rmtree(trash, ignore_errors=True)
