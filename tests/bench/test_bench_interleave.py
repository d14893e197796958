"""Interleaved A/B latency: alternation, ratios against the first artifact, the CLI and its guards."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seefood.bench import interleave
from seefood.bench.interleave import interleaved_latency, interleaved_times
from seefood.cli.main import app
from seefood.errors import ConfigError
from tests.bench import fakes
from tests.bench.fakes import FakeClock, make_artifact, meta_for

CLASSES = ("a", "b")


def test_rounds_alternate_between_the_calls() -> None:
    order: list[str] = []
    times = interleaved_times([lambda: order.append("A"), lambda: order.append("B")], rounds=3, warmup=1)
    assert order == ["A", "B"] + ["A", "B"] * 3  # warm-up of each, then A B A B A B
    assert [len(t) for t in times] == [3, 3]
    with pytest.raises(ConfigError):
        interleaved_times([lambda: None], rounds=0, warmup=0)
    order.clear()
    blocks = interleaved_times([lambda: order.append("A"), lambda: order.append("B")], rounds=2, warmup=0,
                               block=2, settle=1)
    assert order == ["A"] * 3 + ["B"] * 3 + ["A"] * 3 + ["B"] * 3  # 1 settling + 2 timed, in turn
    assert [len(t) for t in blocks] == [4, 4]


def test_a_slower_artifact_gets_a_ratio_above_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the fake runtimes sleep on a fake clock that interleave reads: the ratio is exact on any machine
    FakeClock().patch(monkeypatch, interleave, fakes)
    fast = make_artifact(tmp_path, "fast", meta_for(CLASSES, delay_ms=1.0))
    slow = make_artifact(tmp_path, "slow", meta_for(CLASSES, delay_ms=6.0))
    report = interleaved_latency([fast, slow], rounds=4, warmup=1, threads=1, block=3)
    first, second = report.rows
    assert first.ratio == 1.0 and first.within_noise_of_first
    assert second.ratio == pytest.approx(6.0) and not second.within_noise_of_first
    assert report.to_dict()["rows"][1]["latency"]["runs"] == 12


def test_guards(tmp_path: Path) -> None:
    one = make_artifact(tmp_path, "one", meta_for(CLASSES))
    with pytest.raises(ConfigError, match="at least two"):
        interleaved_latency([one])


def test_cli_prints_the_table_and_writes_json_without_overwriting(tmp_path: Path) -> None:
    a = make_artifact(tmp_path, "a", meta_for(CLASSES))
    b = make_artifact(tmp_path, "b", meta_for(CLASSES, delay_ms=2.0))
    out = tmp_path / "ab.json"
    args = ["latency", str(a), str(b), "--rounds", "5", "--warmup", "1", "--threads", "1", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "interleaved latency" in result.output and "ratio" in result.output
    assert json.loads(out.read_text())["rows"][0]["path"] == str(a)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "--force" in again.output


def test_each_turn_idles_first_so_the_previous_runtimes_pool_stops_spinning(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(interleave, "time", types.SimpleNamespace(perf_counter=lambda: 0.0,
                                                                  sleep=lambda s: order.append(f"idle {s}")))
    interleaved_times([lambda: order.append("A"), lambda: order.append("B")], rounds=2, warmup=0, block=1,
                      settle=1, idle_s=0.05)
    assert order == ["idle 0.05", "A", "A", "idle 0.05", "B", "B"] * 2


def test_the_report_records_the_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeClock().patch(monkeypatch, interleave, fakes)
    a = make_artifact(tmp_path, "a", meta_for(CLASSES, delay_ms=1.0))
    b = make_artifact(tmp_path, "b", meta_for(CLASSES, delay_ms=1.0))
    report = interleaved_latency([a, b], rounds=2, warmup=0, threads=1, block=1)
    assert report.to_dict()["idle_s"] == interleave.POOL_IDLE_S > 0
