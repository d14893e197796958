"""`seefood bench` and `seefood pick` through typer's CliRunner: files written, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seefood.cli import bench as bench_cli
from seefood.runtimes import RUNTIMES

from .conftest import CLASSES
from .fakes import make_eval_data, make_export

QUICK = ["--min-runs", "3", "--min-time", "0", "--warmup", "1", "--threads", "1", "--no-progress"]


@pytest.fixture
def app() -> typer.Typer:
    """A fresh app with only the bench and pick commands (the main app imports every feature)."""
    app = typer.Typer()
    bench_cli.register(app)
    return app


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report folder written once by `seefood bench` over a fake export (one artifact 25 points worse)."""
    tmp = tmp_path_factory.mktemp("bench-cli")
    export = make_export(tmp, CLASSES, {
        "onnx-fp32": {"size": 3000},
        "onnx-int8": {"size": 900, "precision": "int8", "delay_ms": 5.0},
        "ov-int8": {"size": 800, "precision": "int8", "wrong": ["donuts"]},
    })
    data = make_eval_data(tmp / "data", CLASSES, per_class=1)
    out = tmp / "report"
    app = typer.Typer()
    bench_cli.register(app)
    with pytest.MonkeyPatch.context() as mp:  # the function-scoped autouse fixture is not active here
        mp.setitem(RUNTIMES, "fake", "tests.bench.fakes:FakeRuntime")
        result = CliRunner().invoke(app, ["bench", str(export), "--data", str(data), "--out", str(out),
                                          "--batch-sizes", "1", *QUICK])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def report(measured: Path, tmp_path: Path) -> Path:
    """A private copy of the measured report (pick writes into it)."""
    return Path(shutil.copytree(measured, tmp_path / "report"))


def test_bench_writes_the_report(report: Path) -> None:
    names = {json.loads(line)["name"] for line in (report / "results.jsonl").read_text().splitlines()}
    assert names == {"fake-fp32", "onnx-fp32", "onnx-int8", "ov-int8"}
    for name in ("results.csv", "report.md", "pareto.png", "env.json"):
        assert (report / name).stat().st_size > 0


def test_pick_chooses_and_writes_decision(report: Path, app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["pick", str(report), "--device", "cpu", "--max-drop", "1.0"])
    assert result.exit_code == 0, result.output
    decision = json.loads((report / "decision.json").read_text())
    assert decision["name"] == "onnx-int8" and decision["device"] == "cpu" and decision["batch_size"] == 1
    assert {r["name"]: r["rule"] for r in decision["rejected"]} == {"ov-int8": "accuracy", "onnx-fp32": "size"}
    assert "chose onnx-int8" in result.output and "rejected ov-int8: accuracy" in result.output


def test_pick_with_nothing_qualifying_exits_1_and_says_what_to_relax(report: Path, app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["pick", str(report), "--budget-ms", "0.001"])
    assert result.exit_code == 1
    assert "--budget-ms" in result.output and not (report / "decision.json").exists()


def test_pick_errors_exit_nonzero(report: Path, app: typer.Typer, tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["pick", str(report), "--device", "cuda"]).exit_code == 1  # no cuda rows
    assert CliRunner().invoke(app, ["pick", str(report), "--max-drop", "-1"]).exit_code == 2  # ConfigError
    assert CliRunner().invoke(app, ["pick", str(tmp_path / "nowhere")]).exit_code == 1


def test_bench_bad_options_exit_2_and_missing_data_exit_1(app: typer.Typer, tmp_path: Path) -> None:
    export = make_export(tmp_path, CLASSES, {"onnx-fp32": {}})
    base = ["bench", str(export), "--out", str(tmp_path / "r"), *QUICK]
    bad_batch = CliRunner().invoke(app, [*base, "--data", str(tmp_path), "--batch-sizes", "one"])
    assert bad_batch.exit_code == 2 and "--batch-sizes" in bad_batch.output
    assert CliRunner().invoke(app, [*base, "--data", str(tmp_path), "--devices", "tpu"]).exit_code == 2
    assert CliRunner().invoke(app, [*base, "--data", str(tmp_path / "missing")]).exit_code == 1


def test_bench_exits_1_when_nothing_could_be_measured(app: typer.Typer, tmp_path: Path) -> None:
    export = make_export(tmp_path, CLASSES, {"onnx-fp32": {"fail": "load"}})
    (tmp_path / "run" / "best" / "meta.json").write_text("{broken")  # the reference cannot load either
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=1)
    result = CliRunner().invoke(app, ["bench", str(export), "--data", str(data), "--out", str(tmp_path / "r"), *QUICK])
    assert result.exit_code == 1 and (tmp_path / "r" / "report.md").exists()
