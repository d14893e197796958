"""The monitor on a generated prediction log: counts, percentiles, low confidence, PSI drift, window, CLI."""

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
    monitor_log,
    population_stability_index,
    report_markdown,
)
from seefood.space.predlog import PredictionLog, read_info, read_rows
from seefood.space.reference import UNIFORM, Reference, load_reference

from .helpers import CLASS_COUNTS, CLASSES


def _generated_log(path: Path, n: int = 60, seed: int = 0) -> dict[str, list]:
    """Write n predictions on 2025-03-01 (one a minute) and 3 rejections; return what was written."""
    rng = np.random.default_rng(seed)
    log = PredictionLog(path)
    written: dict[str, list] = {"labels": [], "conf": [], "model_ms": [], "times": []}
    for i in range(n):
        label = CLASSES[int(rng.choice(4, p=[0.7, 0.1, 0.1, 0.1]))]  # traffic skewed to "donut"
        conf = float(rng.uniform(0.25, 1.0))
        rest = [(c, (1 - conf) / 3) for c in CLASSES if c != label]
        model_ms = float(rng.gamma(4.0, 2.0))
        time = f"2025-03-01T10:{i:02d}:00.000000Z"
        log.record_prediction([(label, conf), *rest], model_ms, model_ms + 5, 640, 480, f"{i:064x}", 1000,
                              time=time)
        for key, value in zip(written, (label, conf, model_ms, time)):
            written[key].append(value)
    for i in range(3):
        log.record_rejection("The file is empty (0 bytes): please upload a photo.", time=f"2025-03-01T11:0{i}:00Z")
    return written


def test_report_matches_the_log(tmp_path: Path) -> None:
    written = _generated_log(tmp_path / "p.sqlite")
    names, counts = CLASSES, [CLASS_COUNTS[c] for c in CLASSES]
    reference = Reference(names, tuple(c / sum(counts) for c in counts), "metrics.class_counts", {"p50": 1.0})
    report = build_report(read_rows(tmp_path / "p.sqlite"), reference, low_confidence=0.5)

    assert report.requests == 60 and report.rejected == 3
    assert report.rejection_reasons == {"The file is empty (0 bytes): please upload a photo.": 3}
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert report.latency_ms is not None
        assert report.latency_ms[key] == pytest.approx(np.percentile(written["model_ms"], q))
    low = sum(c < 0.5 for c in written["conf"])
    assert report.low_confidence == {"threshold": 0.5, "count": low, "rate": pytest.approx(low / 60)}
    assert sum(report.confidence_histogram["counts"]) == 60
    assert report.confidence_histogram["counts"][2] == sum(0.2 <= c < 0.3 for c in written["conf"])
    predicted = {c.name: c.predicted for c in report.classes}
    assert predicted == {c: written["labels"].count(c) for c in CLASSES}
    # PSI by hand: shares + eps, renormalised, sum (a - e) ln(a / e)
    a = np.array([written["labels"].count(c) / 60 for c in CLASSES]) + 1e-4
    e = np.array(counts, dtype=float) / sum(counts) + 1e-4
    a, e = a / a.sum(), e / e.sum()
    assert report.psi == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    assert report.drift == "significant"  # 70 % donut against 10 % in training
    assert report.training_distribution == "metrics.class_counts"
    text = report_markdown(report)
    assert "60 predicted, 3 rejected" in text and "metrics.class_counts" in text


def test_psi_is_zero_for_identical_and_finite_for_empty_classes() -> None:
    assert population_stability_index([0.25] * 4, [0.25] * 4) == pytest.approx(0.0)
    psi = population_stability_index([1.0, 0.0, 0.0], [1 / 3] * 3)
    assert math.isfinite(psi) and psi > 0.25


def test_window_filters_rows(tmp_path: Path) -> None:
    _generated_log(tmp_path / "p.sqlite")
    config = MonitorConfig(log=tmp_path / "p.sqlite", since="2025-03-01T10:10", until="2025-03-01T10:20:00+00:00")
    report = monitor_log(config)
    assert report.requests == 10 and report.rejected == 0
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
        assert read_info(path) == {"schema_version": 1, "reference": {"x": 1}}


def test_monitor_cli_writes_table_png_and_json(tmp_path: Path, decision: Path) -> None:
    _generated_log(tmp_path / "p.sqlite")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["monitor", str(tmp_path / "p.sqlite"), "--reference", str(decision.parent),
                                      "--out", str(out), "--low-confidence", "0.6"])
    assert result.exit_code == 0, result.output
    assert "drift PSI" in result.output and "model latency p90" in result.output
    saved = json.loads((out / "monitor.json").read_text())
    assert saved["requests"] == 60 and saved["low_confidence"]["threshold"] == 0.6
    assert saved["reference_latency_ms"]["p50"] == 0.42
    with Image.open(out / "monitor.png") as png:
        assert png.format == "PNG" and png.width > 800

    missing = CliRunner().invoke(app, ["monitor", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 1 and "not found" in " ".join(missing.output.split())
    bad = CliRunner().invoke(app, ["monitor", str(tmp_path / "p.sqlite"), "--since", "soon"])
    assert bad.exit_code == 2 and "ISO 8601" in " ".join(bad.output.split())
