"""Running totals of a prediction log: what the monitor reports, without keeping the rows (torch-free).

`LogStats.from_log` computes them in SQL over a time window (`seefood monitor`, and the Space once at
start-up); `add_prediction` / `add_refusal` update them per request in O(1), so the Space's owner view
never re-reads its log. Latency percentiles cover the most recent `latency_window` predictions (all of
the window's when None); rejection messages are counted for the `MAX_REASONS` most frequent ones.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from seefood.errors import DataError
from seefood.space.predlog import LogRow, open_log

HISTOGRAM_BINS = 10  # top-1 confidence bins of width 0.1; bin i holds i/10 <= c < (i+1)/10 (1.0 in the last)
MAX_REASONS = 50  # distinct rejection messages counted one by one; the rest under OTHER_REASONS
OTHER_REASONS = "(other messages)"


def confidence_bin(confidence: float) -> int:
    """The histogram bin of a top-1 probability (the same float arithmetic as the SQL below)."""
    return min(max(int(confidence * HISTOGRAM_BINS), 0), HISTOGRAM_BINS - 1)


@dataclass
class LogStats:
    """Counts, class shares, confidence histogram and recent latencies of a prediction log."""

    low_threshold: float  # a prediction whose top-1 probability is below this counts as low
    latency_window: int | None = None  # percentiles over this many recent predictions; None: all
    ok: int = 0
    rejected: int = 0  # uploads refused with a message
    busy: int = 0  # requests refused under load
    low: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    model_ms: deque[float] = field(default_factory=deque)
    total_ms: deque[float] = field(default_factory=deque)
    first: str | None = None
    last: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.latency_window is not None and self.latency_window < 1:
            raise ValueError(f"latency_window must be positive or None, got {self.latency_window}")
        self.model_ms = deque(self.model_ms, maxlen=self.latency_window)
        self.total_ms = deque(self.total_ms, maxlen=self.latency_window)

    def _seen(self, time: str) -> None:
        self.first = time if self.first is None or time < self.first else self.first
        self.last = time if self.last is None or time > self.last else self.last

    def add_prediction(self, time: str, label: str, confidence: float, model_ms: float | None,
                       total_ms: float | None) -> None:
        """Count one successful prediction."""
        with self._lock:
            self._seen(time)
            self.ok += 1
            self.labels[label] += 1
            self.histogram[confidence_bin(confidence)] += 1
            self.low += confidence < self.low_threshold
            if model_ms is not None:
                self.model_ms.append(float(model_ms))
            if total_ms is not None:
                self.total_ms.append(float(total_ms))

    def add_refusal(self, time: str, status: str, error: str | None) -> None:
        """Count one refused request: 'rejected' (a bad upload) or 'busy' (refused under load)."""
        with self._lock:
            self._seen(time)
            if status == "busy":
                self.busy += 1
                return
            self.rejected += 1
            key = error or ""
            if key in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[key] += 1
            else:
                self.reasons[OTHER_REASONS] += 1

    def snapshot(self) -> LogStats:
        """A consistent copy, for building a report while requests keep arriving."""
        with self._lock:
            return LogStats(self.low_threshold, self.latency_window, self.ok, self.rejected, self.busy, self.low,
                            Counter(self.labels), Counter(self.reasons), list(self.histogram),
                            deque(self.model_ms), deque(self.total_ms), self.first, self.last)

    @classmethod
    def from_rows(cls, rows: Iterable[LogRow], low_threshold: float, latency_window: int | None = None) -> LogStats:
        """Totals of rows already read (tests, small logs)."""
        stats = cls(low_threshold, latency_window)
        for r in rows:
            if r.status == "ok" and r.confidence is not None:
                stats.add_prediction(r.time, r.label or "", float(r.confidence), r.model_ms, r.total_ms)
            elif r.status != "ok":
                stats.add_refusal(r.time, r.status, r.error)
        return stats

    @classmethod
    def from_log(cls, path: str | Path, low_threshold: float, since: str | None = None, until: str | None = None,
                 latency_window: int | None = None) -> LogStats:
        """Totals of the rows with since <= time < until, aggregated by SQLite (only the latency columns of
        the last `latency_window` predictions come back as rows)."""
        window = (since or "", until or "\uffff")
        where = "WHERE time >= ? AND time < ?"
        stats = cls(low_threshold, latency_window)
        conn = open_log(Path(path))
        try:
            for status, count, first, last in conn.execute(
                    f"SELECT status, COUNT(*), MIN(time), MAX(time) FROM predictions {where} GROUP BY status", window):
                if status == "ok":
                    pass  # counted below, where the confidence is known
                elif status == "busy":
                    stats.busy = int(count)
                else:
                    stats.rejected += int(count)
                stats._seen(first)
                stats._seen(last)
            ok = f"{where} AND status = 'ok' AND confidence IS NOT NULL"
            stats.ok = int(conn.execute(f"SELECT COUNT(*) FROM predictions {ok}", window).fetchone()[0])
            stats.labels = Counter({str(label): int(n) for label, n in conn.execute(
                f"SELECT label, COUNT(*) FROM predictions {ok} GROUP BY label", window)})
            for b, n in conn.execute(
                    f"SELECT MIN(MAX(CAST(confidence * {HISTOGRAM_BINS} AS INTEGER), 0), {HISTOGRAM_BINS - 1}), "
                    f"COUNT(*) FROM predictions {ok} GROUP BY 1", window):
                stats.histogram[int(b)] = int(n)
            stats.low = int(conn.execute(f"SELECT COUNT(*) FROM predictions {ok} AND confidence < ?",
                                         (*window, low_threshold)).fetchone()[0])
            reasons = conn.execute(
                f"SELECT COALESCE(error, ''), COUNT(*) AS n FROM predictions {where} AND status NOT IN ('ok', 'busy') "
                f"GROUP BY 1 ORDER BY n DESC, 1", window).fetchall()
            stats.reasons = Counter({str(e): int(n) for e, n in reasons[:MAX_REASONS]})
            if len(reasons) > MAX_REASONS:
                stats.reasons[OTHER_REASONS] = sum(int(n) for _, n in reasons[MAX_REASONS:])
            limit = -1 if latency_window is None else int(latency_window)  # SQLite: LIMIT -1 is no limit
            recent = conn.execute(f"SELECT model_ms, total_ms FROM predictions {ok} ORDER BY id DESC LIMIT ?",
                                  (*window, limit)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise DataError(f"could not read {path} ({exc}): is it a seefood prediction log?") from None
        finally:
            conn.close()
        stats.model_ms.extend(float(m) for m, _ in reversed(recent) if m is not None)
        stats.total_ms.extend(float(t) for _, t in reversed(recent) if t is not None)
        return stats
