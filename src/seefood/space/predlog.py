"""The Space's prediction log: one SQLite row per request, read back by the monitor (torch-free).

Rows hold the time, top-5 labels, confidence, latency, image size and the sha256 of the uploaded
bytes; the image itself only when the Space was built with --log-images. Refused uploads keep their
size and sha256 (never their bytes), and requests refused under load are rows of their own ('busy').

The writer keeps one connection (WAL, synchronous=NORMAL: a commit costs microseconds, not an fsync;
a power cut may lose the last rows, never corrupt the log) behind a lock, so gradio's worker threads
share it; a second process (`seefood monitor`) reads the log at the same time.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seefood.errors import DataError, MissingInputError

SCHEMA_VERSION = 2  # 2: the source column, 'busy' rows, sha256/nbytes of rejected uploads
STATUSES = ("ok", "rejected", "busy")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,        -- ISO 8601, UTC, microseconds: sorts as text
    status TEXT NOT NULL,      -- 'ok', 'rejected' (the upload was refused) or 'busy' (refused under load)
    label TEXT,                -- top-1 class name
    confidence REAL,           -- top-1 probability
    top5 TEXT,                 -- JSON [[name, probability], ...]
    model_ms REAL,             -- runtime.run + sync
    total_ms REAL,             -- upload checks + decoding + preprocessing + model
    width INTEGER,
    height INTEGER,
    sha256 TEXT,               -- of the uploaded bytes
    nbytes INTEGER,
    error TEXT,                -- the message shown for a rejected upload
    image BLOB,                -- the uploaded bytes, only with --log-images
    source TEXT                -- 'ui' (the page), 'api' (gradio_client), 'json' (POST /api/predict), 'queue'
);
CREATE INDEX IF NOT EXISTS predictions_time ON predictions(time);
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = "time, status, label, confidence, top5, model_ms, total_ms, width, height, sha256, nbytes, error, source"


def utc_now() -> str:
    """The current time as the log stores it."""
    return format_time(dt.datetime.now(dt.timezone.utc))


def format_time(moment: dt.datetime) -> str:
    """An aware (or naive = UTC) datetime in the log's sortable text form."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LogRow:
    """One request as read back from the log."""

    time: str
    status: str  # "ok" or "rejected"
    label: str | None
    confidence: float | None
    top5: tuple[tuple[str, float], ...]
    model_ms: float | None
    total_ms: float | None
    width: int | None
    height: int | None
    sha256: str | None
    nbytes: int | None
    error: str | None
    source: str | None = None  # None in logs written before schema 2


class PredictionLog:
    """Append-only SQLite log of the Space's requests (one connection, shared by threads under a lock)."""

    def __init__(self, path: str | Path, store_images: bool = False) -> None:
        self.path = Path(path)
        self.store_images = store_images
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        with self._lock, self._conn as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # readers do not block the app's writes
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: no fsync per commit
            conn.executescript(_SCHEMA)
            if "source" not in _columns(conn):  # a log written by an earlier Space
                conn.execute("ALTER TABLE predictions ADD COLUMN source TEXT")
            conn.execute("INSERT OR REPLACE INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _insert(self, values: dict[str, Any], image: bytes | None) -> None:
        row = [values.get(c.strip()) for c in _COLUMNS.split(",")]
        with self._lock:
            if self._conn is None:
                raise sqlite3.ProgrammingError(f"the prediction log {self.path} is closed")
            with self._conn as conn:
                conn.execute(
                    f"INSERT INTO predictions ({_COLUMNS}, image) VALUES ({', '.join('?' * (len(row) + 1))})",
                    (*row, image if self.store_images else None),
                )

    def record_prediction(
        self, top5: Sequence[tuple[str, float]], model_ms: float, total_ms: float, width: int, height: int,
        sha256: str, nbytes: int, image: bytes | None = None, time: str | None = None, source: str | None = None,
    ) -> None:
        """Append one successful prediction (the image bytes are kept only if store_images)."""
        self._insert({
            "time": time or utc_now(), "status": "ok", "label": top5[0][0], "confidence": float(top5[0][1]),
            "top5": json.dumps([[name, round(float(p), 6)] for name, p in top5]), "model_ms": float(model_ms),
            "total_ms": float(total_ms), "width": width, "height": height, "sha256": sha256, "nbytes": nbytes,
            "source": source,
        }, image)

    def record_rejection(
        self, error: str, sha256: str | None = None, nbytes: int | None = None, time: str | None = None,
        source: str | None = None, status: str = "rejected",
    ) -> None:
        """Append one refused request with the message the user saw: a refused upload ('rejected', with its
        size and sha256 where known) or a request refused under load ('busy')."""
        if status not in STATUSES[1:]:
            raise ValueError(f"a refusal's status is one of {STATUSES[1:]}, got {status!r}")
        self._insert({"time": time or utc_now(), "status": status, "error": error, "sha256": sha256,
                      "nbytes": nbytes, "source": source}, None)

    def set_info(self, info: dict[str, Any]) -> None:
        """Store facts about the served model (class names, training distribution) for the monitor."""
        with self._lock:
            if self._conn is None:
                raise sqlite3.ProgrammingError(f"the prediction log {self.path} is closed")
            with self._conn as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO info VALUES (?, ?)", [(k, json.dumps(v)) for k, v in info.items()]
                )

    def close(self) -> None:
        """Close the connection (later writes raise sqlite3.ProgrammingError); idempotent."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}


def open_log(path: Path) -> sqlite3.Connection:
    """Open an existing log (never creating one); callers only read."""
    if not path.is_file():
        raise MissingInputError(
            f"prediction log {path} not found: pass the predictions.sqlite the Space writes "
            f"(logs/predictions.sqlite in the Space folder, or $SEEFOOD_LOG)"
        )
    try:
        # a plain connection: read-only URIs cannot open a WAL log whose -shm file is gone
        conn = sqlite3.connect(path, timeout=10.0)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path} is not an SQLite database ({exc}): pass the Space's predictions.sqlite") from None
    if "predictions" not in tables:
        conn.close()
        raise DataError(f"{path} has no predictions table: it is not a seefood prediction log")
    return conn


def read_rows(path: str | Path, since: str | None = None, until: str | None = None) -> list[LogRow]:
    """Rows with since <= time < until (times in the log's text form), oldest first."""
    conn = open_log(Path(path))
    try:
        columns = _COLUMNS if "source" in _columns(conn) else _COLUMNS.replace("source", "NULL")
        rows = conn.execute(
            f"SELECT {columns} FROM predictions WHERE time >= ? AND time < ? ORDER BY time, id",
            (since or "", until or "\uffff"),
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"could not read {path} ({exc}): is it a seefood prediction log?") from None
    finally:
        conn.close()
    return [
        LogRow(time=r[0], status=r[1], label=r[2], confidence=r[3],
               top5=tuple((str(n), float(p)) for n, p in json.loads(r[4] or "[]")), model_ms=r[5], total_ms=r[6],
               width=r[7], height=r[8], sha256=r[9], nbytes=r[10], error=r[11], source=r[12])
        for r in rows
    ]


def read_info(path: str | Path) -> dict[str, Any]:
    """The facts the Space stored about its model (empty for a log without them)."""
    conn = open_log(Path(path))
    try:
        return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM info")}
    except sqlite3.DatabaseError:
        return {}
    finally:
        conn.close()
