"""`seefood monitor` outputs: a rich table for the terminal, a PNG and a JSON file (not bundled into Spaces)."""

from __future__ import annotations

import io
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from seefood.io import atomic_write_bytes, atomic_write_json
from seefood.space.monitor import MonitorConfig, MonitorReport, drift_text, monitor_log

log = logging.getLogger(__name__)
REPORT_JSON = "monitor.json"
REPORT_PNG = "monitor.png"


@dataclass(frozen=True)
class MonitorFiles:
    """Where the report was written."""

    json: Path
    png: Path


def _ms(stats: dict[str, float] | None, key: str) -> str:
    return f"{stats[key]:.2f} ms" if stats and stats.get(key) is not None else "–"


def _when(stamp: str | None) -> str:
    return stamp[:19].replace("T", " ") if stamp else "–"


def report_table(report: MonitorReport) -> Table:
    """The report as a rich table: traffic, latency, confidence, drift, then one row per class."""
    table = Table(title=f"seefood monitor: {report.log}", show_lines=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("training share / benchmark", justify="right")
    w = report.window
    table.add_row("first request (UTC)", _when(w["first"]), "")
    table.add_row("last request (UTC)", _when(w["last"]), "")
    table.add_row("requests (predicted)", str(report.requests), "")
    table.add_row("rejected uploads", str(report.rejected), "")
    table.add_row("refused as busy (under load)", str(report.busy), "")
    for key in ("p50", "p90", "p99"):
        table.add_row(f"model latency {key}", _ms(report.latency_ms, key), _ms(report.reference_latency_ms, key))
    table.add_row("request latency p50", _ms(report.total_ms, "p50"), "")
    low = report.low_confidence
    table.add_row(f"low confidence (< {low['threshold']:.2f})", f"{int(low['count'])} ({low['rate']:.1%})", "")
    if report.psi is None:
        psi = "–"
    elif report.drift is None:
        psi = f"{report.psi:.4f} (no verdict: {report.requests} < {report.drift_min_requests} predictions)"
    else:
        psi = f"{report.psi:.4f} ({report.drift})"
    table.add_row("drift PSI", psi, report.training_distribution)
    table.add_section()
    for c in report.classes:
        table.add_row(f"class {c.name}", f"{c.predicted} ({c.predicted_share:.1%})", f"{c.training_share:.1%}")
    return table


def report_png(report: MonitorReport) -> bytes:
    """Three panels: predicted vs training class shares, confidence histogram, latency percentiles."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    fig = Figure(figsize=(13, 4.2), layout="constrained")
    ax_cls, ax_conf, ax_lat = fig.subplots(1, 3, width_ratios=[2.2, 1.2, 1])
    names = [c.name for c in report.classes]
    x = range(len(names))
    ax_cls.bar([i - 0.2 for i in x], [c.training_share for c in report.classes], 0.4, label="training")
    ax_cls.bar([i + 0.2 for i in x], [c.predicted_share for c in report.classes], 0.4, label="predicted")
    ax_cls.set_xticks(list(x), names, rotation=60, ha="right", fontsize=7)
    ax_cls.set_title(f"class distribution: {drift_text(report)}", fontsize=9, wrap=True)
    ax_cls.set_ylabel("share")
    ax_cls.legend(fontsize=8)
    edges, counts = report.confidence_histogram["edges"], report.confidence_histogram["counts"]
    ax_conf.bar(edges[:-1], counts, width=[b - a for a, b in itertools.pairwise(edges)], align="edge",
                edgecolor="white")
    ax_conf.axvline(report.low_confidence["threshold"], color="crimson", linestyle="--",
                    label=f"low < {report.low_confidence['threshold']:.2f}")
    ax_conf.set_title(f"top-1 confidence ({report.requests} requests)", fontsize=10)
    ax_conf.set_xlabel("probability")
    ax_conf.legend(fontsize=8)
    keys = ["p50", "p90", "p99"]
    served = [(report.latency_ms or {}).get(k, 0.0) for k in keys]
    ax_lat.bar([i - 0.2 for i in range(3)], served, 0.4, label="served")
    if report.reference_latency_ms:
        ax_lat.bar([i + 0.2 for i in range(3)], [float(report.reference_latency_ms.get(k) or 0.0) for k in keys],
                   0.4, label="benchmark")
    ax_lat.set_xticks(range(3), keys)
    ax_lat.set_ylabel("model time (ms)")
    ax_lat.set_title("latency", fontsize=10)
    ax_lat.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def write_report(report: MonitorReport, out: Path) -> MonitorFiles:
    """Write monitor.json and monitor.png into `out` atomically."""
    files = MonitorFiles(out / REPORT_JSON, out / REPORT_PNG)
    atomic_write_json(files.json, report.to_dict())
    atomic_write_bytes(files.png, report_png(report))
    log.info("wrote %s and %s", files.json, files.png)
    return files


def run_monitor(config: MonitorConfig, out: Path | None = None) -> tuple[MonitorReport, MonitorFiles]:
    """Build the report for `config` and write it to `out` (default: monitor/ beside the log)."""
    report = monitor_log(config)
    return report, write_report(report, out if out is not None else Path(config.log).parent / "monitor")
