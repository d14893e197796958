"""The export summary: one row per requested artifact, written to export.json and shown as a table."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from seefood.io import atomic_write_json
from seefood.versions import library_versions

EXPORT_JSON = "export.json"
FAILED_DIR = "failed"

PASSED = "passed"
PARITY_FAILED = "exported-but-parity-failed"
EXPORT_FAILED = "export-failed"
SKIPPED = "skipped"  # not possible here and not explicitly asked for: never makes the run fail
FAILING = (PARITY_FAILED, EXPORT_FAILED)
_STYLE = {PASSED: "green", PARITY_FAILED: "yellow", EXPORT_FAILED: "red", SKIPPED: "dim"}


@dataclass(frozen=True)
class ArtifactRow:
    """What happened to one (format, precision) artifact."""

    name: str  # artifact folder name, e.g. "onnx-fp32"
    format: str
    precision: str
    status: str  # passed, exported-but-parity-failed, export-failed or skipped
    reason: str | None = None  # why it failed or was skipped, with what to do
    path: str | None = None  # folder relative to EXPORT_DIR ("onnx-fp32" or "failed/onnx-fp32")
    size_bytes: int | None = None
    export_seconds: float | None = None
    parity: dict[str, Any] | None = None  # ParityResult.to_dict()
    latency_ms: float | None = None  # quick b=1 median (interleaved with siblings of the same format)
    precision_ran: str | None = None  # what the runtime executed in the latency check
    recipe: str | None = None  # int8: the recipe that produced the artifact
    attempts: tuple[dict[str, Any], ...] = ()  # int8: every recipe tried, with its parity or error
    notes: tuple[str, ...] = ()  # plain-language remarks (e.g. int8 not faster than fp32)

    @property
    def failed(self) -> bool:
        """True for the statuses that make `seefood export` exit 1."""
        return self.status in FAILING

    def with_(self, **changes: Any) -> ArtifactRow:
        """A copy with some fields changed."""
        return ArtifactRow(**{**asdict(self), **changes})


@dataclass(frozen=True)
class ExportReport:
    """Every row of one export run, plus what it ran on."""

    out: Path
    checkpoint: Path
    parity_data: str | None
    rows: tuple[ArtifactRow, ...]
    config: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        """True when no requested artifact failed."""
        return not any(r.failed for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """The export.json content."""
        return {
            "checkpoint": str(Path(self.checkpoint).resolve()),
            "parity_data": self.parity_data,
            "out": str(Path(self.out).resolve()),
            "ok": self.ok,
            "created": self.created,
            "config": self.config,
            "versions": library_versions(),
            "rows": [asdict(r) for r in self.rows],
        }

    def write(self, folder: Path) -> Path:
        """Write `folder/export.json` atomically."""
        return atomic_write_json(Path(folder) / EXPORT_JSON, self.to_dict())


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _confident(parity: dict[str, Any]) -> str:
    """Agreement on the photos the fp32 model is confident on, with their count ('n/a' when too few)."""
    if parity.get("confident_agreement") is None:
        return "-"
    text = f"{_pct(parity['confident_agreement'])} of {parity.get('confident_count')}"
    return text if parity.get("gate") == "confident" else f"({text})"


def _drop(parity: dict[str, Any]) -> str:
    """Top-1 points lost against fp32, with the paired standard error."""
    drop, se = parity.get("accuracy_drop"), parity.get("accuracy_drop_se")
    if drop is None:
        return "-"
    return f"{drop:+.2f}" if se is None else f"{drop:+.2f} ± {se:.2f}"


def summary_table(report: ExportReport) -> Group:
    """The rich table printed at the end of `seefood export`, with each row's reason and notes below it."""
    table = Table(title=f"seefood export -> {report.out}", caption=_reference_caption(report), box=box.SIMPLE_HEAD)
    table.add_column("artifact", no_wrap=True)
    for col in ("MB", "agree", "conf. agree", "top-1", "drop ± se", "export s", "b=1 ms", "ran"):
        table.add_column(col, justify="right")
    table.add_column("status", no_wrap=True)  # names and statuses are never split, numbers may wrap
    notes: dict[str, list[str]] = {}  # text -> artifacts it applies to (one line for a shared reason)
    for r in report.rows:
        parity = r.parity or {}
        table.add_row(
            r.name,
            "-" if r.size_bytes is None else f"{r.size_bytes / 1e6:.1f}",
            _pct(parity.get("top1_agreement")),
            _confident(parity),
            _pct(parity.get("accuracy")),
            _drop(parity),
            "-" if r.export_seconds is None else f"{r.export_seconds:.1f}",
            "-" if r.latency_ms is None else f"{r.latency_ms:.2f}",
            r.precision_ran or "-",
            f"[{_STYLE[r.status]}]{r.status}[/]",
        )
        for text in (r.reason, *r.notes):
            if text:
                notes.setdefault(text, []).append(r.name)
    lines = [f"[bold]{', '.join(names)}[/]: {escape(text)}" for text, names in notes.items()]  # text has [extras]
    return Group(table, *lines)


def _reference_caption(report: ExportReport) -> str:
    """The fp32 PyTorch model's accuracy on the parity photos (the same for every row)."""
    refs = [r.parity["reference_accuracy"] for r in report.rows if r.parity and r.parity.get("reference_accuracy")]
    n = next((r.parity["n_images"] for r in report.rows if r.parity and "n_images" in r.parity), None)
    if n is None:
        return "no artifact was checked"
    prob = next((r.parity["confident_prob"] for r in report.rows if r.parity and r.parity.get("confident_prob")), None)
    confident = f"; conf. agree: on photos with fp32 top-1 probability >= {prob:g}" if prob is not None else ""
    return f"agree/top-1 on {n} parity photos; fp32 PyTorch top-1 {_pct(refs[0]) if refs else '-'}{confident}"
