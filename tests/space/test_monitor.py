"""The monitor on a generated prediction log: counts, percentiles, low confidence, refusals, PSI drift (no verdict
below the minimum sample), window, SQL totals = row totals, schema migration, CLI."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from seefood.cli.main import app
from seefood.errors import ConfigError, DataError
from seefood.space.monitor import (
    MonitorConfig,
    build_report,
    min_drift_requests,
    monitor_log,
    population_stability_index,
    report_markdown,
)
from seefood.space.predlog import PredictionLog, read_info, read_rows
from seefood.space.reference import UNIFORM, Reference, load_reference
from seefood.space.stats import MAX_REASONS, OTHER_REASONS, LogStats

from .helpers import CLASS_COUNTS, CLASSES


def _generated_log(path: Path, n: int = 120, seed: int = 0) -> dict[str, list]:
    """Write n predictions on 2025-03-01 from 10:00 (one a minute), 3 rejections and 2 busy refusals at 12:00;
    return what was written."""
    rng = np.random.default_rng(seed)
    log = PredictionLog(path)
    written: dict[str, list] = {"labels": [], "conf": [], "model_ms": [], "times": []}
    for i in range(n):
        label = CLASSES[int(rng.choice(4, p=[0.7, 0.1, 0.1, 0.1]))]  # traffic skewed to "donut"
        conf = float(rng.uniform(0.25, 1.0))
        rest = [(c, (1 - conf) / 3) for c in CLASSES if c != label]
        model_ms = float(rng.gamma(4.0, 2.0))
        time = f"2025-03-01T{10 + i // 60}:{i % 60:02d}:00.000000Z"
        log.record_prediction([(label, conf), *rest], model_ms, model_ms + 5, 640, 480, f"{i:064x}", 1000,
                              time=time)
        for key, value in zip(written, (label, conf, model_ms, time)):
            written[key].append(value)
    for i in range(3):
        log.record_rejection("The file is empty (0 bytes): please upload a photo.", time=f"2025-03-01T12:0{i}:00Z",
                             sha256="e3b0" + "0" * 60, nbytes=0)
    for i in range(2):
        log.record_rejection("The Space is busy: please retry", time=f"2025-03-01T12:1{i}:00Z", status="busy")
    log.close()
    return written


def test_report_matches_the_log(tmp_path: Path) -> None:
    written = _generated_log(tmp_path / "p.sqlite")
    names, counts = CLASSES, [CLASS_COUNTS[c] for c in CLASSES]
    reference = Reference(names, tuple(c / sum(counts) for c in counts), "metrics.class_counts", {"p50": 1.0})
    report = build_report(LogStats.from_log(tmp_path / "p.sqlite", 0.5), reference)

    assert report.requests == 120 and report.rejected == 3 and report.busy == 2
    assert report.rejection_reasons == {"The file is empty (0 bytes): please upload a photo.": 3}
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert report.latency_ms is not None
        assert report.latency_ms[key] == pytest.approx(np.percentile(written["model_ms"], q))
    low = sum(c < 0.5 for c in written["conf"])
    assert report.low_confidence == {"threshold": 0.5, "count": low, "rate": pytest.approx(low / 120)}
    assert sum(report.confidence_histogram["counts"]) == 120
    assert report.confidence_histogram["counts"][2] == sum(0.2 <= c < 0.3 for c in written["conf"])
    predicted = {c.name: c.predicted for c in report.classes}
    assert predicted == {c: written["labels"].count(c) for c in CLASSES}
    # PSI by hand: shares + eps, renormalised, sum (a - e) ln(a / e)
    a = np.array([written["labels"].count(c) / 120 for c in CLASSES]) + 1e-4
    e = np.array(counts, dtype=float) / sum(counts) + 1e-4
    a, e = a / a.sum(), e / e.sum()
    assert report.psi == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    assert report.drift == "significant"  # 70 % donut against 10 % in training, over 120 >= 100 predictions
    assert report.training_distribution == "metrics.class_counts" and report.latency_requests == 120
    text = report_markdown(report)
    assert "120 predicted, 3 rejected, 2 refused as busy" in text and "metrics.class_counts" in text
    # the same log read row by row gives the same report
    by_rows = build_report(LogStats.from_rows(read_rows(tmp_path / "p.sqlite"), 0.5), reference)
    assert {**by_rows.to_dict(), "created": None} == {**report.to_dict(), "created": None}


def test_no_drift_verdict_below_the_minimum_sample(tmp_path: Path) -> None:
    reference = Reference(CLASSES, (0.1, 0.2, 0.3, 0.4), "metrics.class_counts")
    stats = LogStats(0.5)
    for i in range(99):  # all "donut": far from training, but too few to call
        stats.add_prediction(f"2025-03-01T10:00:{i:02d}Z", "donut", 0.9, 1.0, 2.0)
    report = build_report(stats, reference)
    assert report.psi is not None and report.psi > 0.25 and report.drift is None
    assert report.drift_min_requests == min_drift_requests(4) == 100
    assert "no verdict below 100 predictions" in report_markdown(report)
    stats.add_prediction("2025-03-01T10:01:40Z", "donut", 0.9, 1.0, 2.0)
    assert build_report(stats, reference).drift == "significant"
    assert min_drift_requests(101) == 1010  # 10 per class for large label sets


def test_running_totals_are_bounded(tmp_path: Path) -> None:
    stats = LogStats(0.5, latency_window=10)
    for i in range(MAX_REASONS + 5):
        stats.add_refusal("2025-03-01T10:00:00Z", "rejected", f"The file is {i} MB; the limit is 1 MB")
    for i in range(25):
        stats.add_prediction("2025-03-01T10:00:01Z", "pizza", 0.9, float(i), float(i))
    assert len(stats.reasons) == MAX_REASONS + 1 and stats.reasons[OTHER_REASONS] == 5
    assert list(stats.model_ms) == [float(i) for i in range(15, 25)]  # the 10 most recent
    report = build_report(stats, Reference(("pizza",), (1.0,), "x"))
    assert report.latency_requests == 10 and report.latency_ms is not None and report.latency_ms["max"] == 24.0


def test_a_schema_1_log_is_read_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, status TEXT NOT NULL,"
        " label TEXT, confidence REAL, top5 TEXT, model_ms REAL, total_ms REAL, width INTEGER, height INTEGER,"
        " sha256 TEXT, nbytes INTEGER, error TEXT, image BLOB);"
        "CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO predictions (time, status, label, confidence, top5) VALUES"
        " ('2025-01-01T00:00:00Z', 'ok', 'pizza', 0.8, '[[\"pizza\", 0.8]]');")
    conn.commit()
    conn.close()
    assert [(r.label, r.source) for r in read_rows(path)] == [("pizza", None)]
    log = PredictionLog(path)  # the Space opening an old log adds the column
    log.record_rejection("The file is empty", source="json", nbytes=0)
    log.close()
    assert [(r.status, r.source) for r in read_rows(path)] == [("ok", None), ("rejected", "json")]
    assert read_info(path)["schema_version"] == 2


def test_psi_is_zero_for_identical_and_finite_for_empty_classes() -> None:
    assert population_stability_index([0.25] * 4, [0.25] * 4) == pytest.approx(0.0)
    psi = population_stability_index([1.0, 0.0, 0.0], [1 / 3] * 3)
    assert math.isfinite(psi) and psi > 0.25


def test_window_filters_rows(tmp_path: Path) -> None:
    _generated_log(tmp_path / "p.sqlite")
    config = MonitorConfig(log=tmp_path / "p.sqlite", since="2025-03-01T10:10", until="2025-03-01T10:20:00+00:00")
    report = monitor_log(config)
    assert report.requests == 10 and report.rejected == 0 and report.busy == 0
    assert report.window["first"] == "2025-03-01T10:10:00.000000Z"
    assert monitor_log(MonitorConfig(log=tmp_path / "p.sqlite", since="2026-01-01")).requests == 0
    with pytest.raises(ConfigError, match="ISO 8601"):
        monitor_log(MonitorConfig(log=tmp_path / "p.sqlite", since="yesterday"))
    with pytest.raises(ConfigError, match="not before"):
        monitor_log(MonitorConfig(log=tmp_path / "p.sqlite", since="2025-03-02", until="2025-03-01"))


def test_reference_sources(tmp_path: Path, onnx_artifact: Path, decision: Path) -> None:
    for source in (decision, decision.parent, onnx_artifact):
        ref = load_reference(source)
        assert ref.class_names == CLASSES and ref.source == "metrics.class_counts"
        assert ref.shares == pytest.approx([CLASS_COUNTS[c] / 100 for c in CLASSES])
    assert load_reference(decision).latency_ms == {"p50": 0.42, "p90": 0.51, "p99": 0.77}
    # no class_counts in the metadata: uniform, and the report says so
    plain = tmp_path / "plain"
    plain.mkdir()
    meta = json.loads((onnx_artifact / "seefood.json").read_text())
    meta["metrics"] = {}
    (plain / "seefood.json").write_text(json.dumps(meta))
    ref = load_reference(plain)
    assert ref.source == UNIFORM and ref.shares == pytest.approx([0.25] * 4)
    with pytest.raises(DataError, match="bench report folder"):
        load_reference(tmp_path)


def test_log_without_reference_is_uniform_over_seen_labels(tmp_path: Path) -> None:
    written = _generated_log(tmp_path / "p.sqlite")
    report = monitor_log(MonitorConfig(log=tmp_path / "p.sqlite"))
    assert "uniform over the classes seen" in report.training_distribution
    assert [c.name for c in report.classes] == sorted(set(written["labels"]))


def test_bad_logs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_rows(tmp_path / "missing.sqlite")
    (tmp_path / "text.sqlite").write_text("hello")
    with pytest.raises(DataError, match="not an SQLite database"):
        read_rows(tmp_path / "text.sqlite")
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(DataError, match="no predictions table"):
        read_rows(tmp_path / "other.sqlite")
    with pytest.raises(ConfigError, match="low-confidence"):
        MonitorConfig(log=tmp_path / "p.sqlite", low_confidence=1.5)


def test_log_keeps_images_only_when_asked(tmp_path: Path) -> None:
    for store in (False, True):
        path = tmp_path / f"log-{store}.sqlite"
        log = PredictionLog(path, store_images=store)
        log.record_prediction([("donut", 0.9)], 1.0, 2.0, 10, 10, "ab" * 32, 3, image=b"abc")
        log.set_info({"reference": {"x": 1}})
        blob = sqlite3.connect(path).execute("SELECT image FROM predictions").fetchone()[0]
        assert blob == (b"abc" if store else None)
        log.close()
        assert read_info(path) == {"schema_version": 2, "reference": {"x": 1}}


def test_monitor_cli_writes_table_png_and_json(tmp_path: Path, decision: Path) -> None:
    _generated_log(tmp_path / "p.sqlite")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["monitor", str(tmp_path / "p.sqlite"), "--reference", str(decision.parent),
                                      "--out", str(out), "--low-confidence", "0.6"])
    assert result.exit_code == 0, result.output
    assert "drift PSI" in result.output and "model latency p90" in result.output
    assert "refused as busy" in result.output
    saved = json.loads((out / "monitor.json").read_text())
    assert saved["requests"] == 120 and saved["low_confidence"]["threshold"] == 0.6 and saved["busy"] == 2
    assert saved["drift"] == "significant" and saved["drift_min_requests"] == 100
    assert saved["reference_latency_ms"]["p50"] == 0.42
    with Image.open(out / "monitor.png") as png:
        assert png.format == "PNG" and png.width > 800

    missing = CliRunner().invoke(app, ["monitor", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 2 and "not found" in " ".join(missing.output.split())
    bad = CliRunner().invoke(app, ["monitor", str(tmp_path / "p.sqlite"), "--since", "soon"])
    assert bad.exit_code == 2 and "ISO 8601" in " ".join(bad.output.split())
