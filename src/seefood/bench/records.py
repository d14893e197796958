"""BenchResult: one measurement row (artifact x device x batch size x threads), and its files.

Accuracy is stored in percent (0..100) so that `--max-drop 1.0` reads as one point of top-1.
Latencies are milliseconds per batch; throughput is images per second.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seefood.bench.stats import LatencyStats
from seefood.errors import DataError
from seefood.io import atomic_write_text

STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"  # the device (or what an eager variant needs) is absent here; the reason says which
STATUS_LOAD_FAILED = "load-failed"  # load_runtime raised
STATUS_RUN_FAILED = "run-failed"  # loaded, but inference (accuracy or latency) raised
STATUSES = (STATUS_OK, STATUS_SKIPPED, STATUS_LOAD_FAILED, STATUS_RUN_FAILED)

RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


log = logging.getLogger(__name__)

@dataclass(frozen=True)
class BenchResult:
    """Everything measured for one artifact on one device at one batch size and thread count."""

    name: str  # artifact folder name; the reference is named after its checkpoint folder
    path: str  # absolute artifact (or checkpoint) folder
    sha256: str  # content hash of the model files (the re-run key, with device/batch/threads)
    format: str
    precision: str  # as exported (metadata)
    device: str
    batch_size: int
    threads: int  # as asked (--threads)
    status: str  # one of STATUSES
    reason: str = ""  # why it was skipped or failed (exception type and message)
    is_reference: bool = False  # the fp32 PyTorch checkpoint every ratio is relative to
    reference: str | None = None  # path of the reference this artifact is compared with
    # an eager variant of the reference checkpoint ("bf16", "compile": seefood.runtimes.variants); "" for the rest
    variant: str = ""
    device_name: str = ""  # hardware name
    precision_ran: str | None = None  # what actually executed (runtime.precision_ran)
    threads_ran: int | None = None  # what the runtime reports it uses
    sparsity: float = 0.0  # from metadata
    accuracy_rule: str | None = None  # metadata metrics.accuracy_rule ("failed" marks a pruned model failing)
    parity_passed: bool | None = None  # metadata parity.passed from export (False: benched from failed/)
    size_bytes: int = 0  # model files on disk (metadata sidecars excluded)
    load_s: float | None = None  # load_runtime wall time
    first_run_ms: float | None = None  # the first (cold) inference, before warm-up
    latency: LatencyStats | None = None
    preprocess_ms: float | None = None  # preprocessing per image (PIL + numpy), timed apart from the model
    peak_rss_mb: float | None = None  # peak process RSS growth over load + runs (sampled)
    cuda_peak_mb: float | None = None  # torch CUDA max_memory_allocated (torch-based runtimes only)
    top1: float | None = None  # percent, through this artifact's runtime
    top5: float | None = None  # percent (top-k with k = min(5, classes))
    num_images: int | None = None  # images the accuracy was measured on
    accuracy_batch_size: int | None = None  # batch size of the accuracy pass
    created: str = field(default_factory=_now)

    @property
    def key(self) -> tuple[str, str, int, int, str]:
        """What makes a measurement unique: artifact content + device + batch size + threads + eager variant."""
        return (self.sha256 or self.path, self.device, self.batch_size, self.threads, self.variant)

    @property
    def ok(self) -> bool:
        """Measured without error."""
        return self.status == STATUS_OK

    def evolve(self, **changes: Any) -> BenchResult:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one line of results.jsonl)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["latency"] = self.latency.to_dict() if self.latency is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchResult:
        """Inverse of to_dict; unknown keys (from newer versions) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if kwargs.get("latency") is not None:
            kwargs["latency"] = LatencyStats.from_dict(kwargs["latency"])
        return cls(**kwargs)

    def flat(self) -> dict[str, Any]:
        """One CSV row: latency fields flattened to latency_<name>."""
        d = self.to_dict()
        lat = d.pop("latency") or {}
        for name in (*LatencyStats.__dataclass_fields__, "iqr_ms", "throughput_ips"):
            d[f"latency_{name}"] = lat.get(name)
        return d


def csv_columns() -> list[str]:
    """Column order of results.csv."""
    cols = [f.name for f in dataclasses.fields(BenchResult) if f.name != "latency"]
    return cols + [f"latency_{n}" for n in (*LatencyStats.__dataclass_fields__, "iqr_ms", "throughput_ips")]


def read_results(path: str | Path) -> list[BenchResult]:
    """Rows of a results.jsonl (a report folder or the file itself); [] when it does not exist yet."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSONL
    if not path.exists():
        return []
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(BenchResult.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError, ValueError, KeyError) as exc:
            raise DataError(
                f"{path}:{lineno} is not a bench result ({exc}): delete the line, or re-run with a new --out"
            ) from exc
    return rows


def write_results_jsonl(path: str | Path, rows: list[BenchResult]) -> Path:
    """Rewrite results.jsonl atomically, one JSON object per line."""
    text = "".join(json.dumps(r.to_dict(), allow_nan=True) + "\n" for r in rows)
    return atomic_write_text(path, text)


def write_results_csv(path: str | Path, rows: list[BenchResult]) -> Path:
    """Write results.csv atomically (latency flattened into columns)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=csv_columns(), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.flat().items()})
    return atomic_write_text(path, buf.getvalue())


Slot = tuple[str, str, int, int, str]  # path, device, batch size, threads, variant: one row each in a report


def slot(row: BenchResult) -> Slot:
    """Where a row sits in a report: a re-bench of the same artifact folder (and variant) replaces the row in its
    slot; a checkpoint's eager variants sit beside its fp32 row."""
    return (row.path, row.device, row.batch_size, row.threads, row.variant)


def merge_results(old: list[BenchResult], new: list[BenchResult]) -> list[BenchResult]:
    """Old rows of the same artifact *path*, device, batch and threads as a new row are replaced in place (a
    re-export at the same path replaces its earlier measurement, whatever its content); the rest are appended."""
    by_slot = {slot(r): r for r in new}
    merged: list[BenchResult] = []
    seen: set[Slot] = set()
    for r in old:
        if slot(r) in seen:  # a second stale row of the same slot (left by an older seefood) goes
            continue
        seen.add(slot(r))
        replacement = by_slot.pop(slot(r), r)
        if replacement.sha256 != r.sha256:
            log.info("%s was re-exported since it was benched: its earlier rows are replaced", r.name)
        merged.append(replacement)
    return merged + [r for r in new if slot(r) in by_slot]


def replaced_rows(old: list[BenchResult], new: list[BenchResult]) -> list[tuple[BenchResult, BenchResult]]:
    """(earlier row, new row) for every row of `old` that merge_results(old, new) replaces, in `new`'s order."""
    earlier = {slot(r): r for r in old}
    return [(earlier[slot(r)], r) for r in new if slot(r) in earlier]
