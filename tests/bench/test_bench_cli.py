"""`seefood bench` and `seefood pick` through typer's CliRunner: files written, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from seefood.cli import bench as bench_cli
from seefood.cli import pick as pick_cli
from seefood.runtimes import RUNTIMES

from .conftest import CLASSES
from .fakes import make_eval_data, make_export

QUICK = ["--min-runs", "3", "--min-time", "0", "--warmup", "1", "--threads", "1", "--no-progress"]


@pytest.fixture
def app() -> typer.Typer:
    """A fresh app with only the bench and pick commands (the main app imports every feature)."""
    app = typer.Typer()
    bench_cli.register(app)
    pick_cli.register(app)
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
    assert "was not written" in " ".join(result.output.split())


def test_a_what_if_pick_that_finds_nothing_keeps_the_good_decision(report: Path, app: typer.Typer) -> None:
    assert CliRunner().invoke(app, ["pick", str(report)]).exit_code == 0
    good = (report / "decision.json").read_bytes()
    what_if = CliRunner().invoke(app, ["pick", str(report), "--budget-ms", "0.001"])
    assert what_if.exit_code == 1 and (report / "decision.json").read_bytes() == good
    assert "is kept as it was (onnx-int8" in " ".join(what_if.output.split())
    assert sorted(p.name for p in report.iterdir() if "decision" in p.name) == ["decision.json"]


def test_pick_dry_run_writes_nothing(report: Path, app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["pick", str(report), "--dry-run"])
    assert result.exit_code == 0 and "chose onnx-int8" in result.output
    assert not (report / "decision.json").exists()


def test_pick_target_is_a_preset_of_formats(report: Path, app: typer.Typer) -> None:
    from seefood.formats import target_formats

    assert target_formats("mobile") == ("executorch", "litert")
    assert set(target_formats("space")) == {"onnx", "openvino"}
    mobile = CliRunner().invoke(app, ["pick", str(report), "--target", "mobile"])  # no mobile rows here
    assert mobile.exit_code == 1 and "format — fake is not among --formats executorch,litert" in mobile.output
    assert CliRunner().invoke(app, ["pick", str(report), "--target", "tv"]).exit_code == 2  # unknown target
    both = CliRunner().invoke(app, ["pick", str(report), "--target", "mobile", "--formats", "onnx"])
    assert both.exit_code == 2 and "not both" in both.output


def test_pick_errors_exit_nonzero(report: Path, app: typer.Typer, tmp_path: Path) -> None:
    assert CliRunner().invoke(app, ["pick", str(report), "--device", "cuda"]).exit_code == 1  # no cuda rows
    assert CliRunner().invoke(app, ["pick", str(report), "--max-drop", "-1"]).exit_code == 2  # ConfigError
    assert CliRunner().invoke(app, ["pick", str(tmp_path / "nowhere")]).exit_code == 2  # a bad argument


def test_bench_bad_arguments_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    export = make_export(tmp_path, CLASSES, {"onnx-fp32": {}})
    base = ["bench", str(export), "--out", str(tmp_path / "r"), *QUICK]
    bad_batch = CliRunner().invoke(app, [*base, "--data", str(tmp_path), "--batch-size", "one"])
    assert bad_batch.exit_code == 2 and "--batch-size" in bad_batch.output
    assert CliRunner().invoke(app, [*base, "--data", str(tmp_path), "--device", "tpu"]).exit_code == 2
    assert CliRunner().invoke(app, [*base, "--data", str(tmp_path), "--devices", "tpu"]).exit_code == 2  # old name
    missing = CliRunner().invoke(app, [*base, "--data", str(tmp_path / "missing")])
    assert missing.exit_code == 2 and "--data" in missing.output
    gone = CliRunner().invoke(app, ["bench", str(tmp_path / "gone"), "--data", str(tmp_path), "--out", "r", *QUICK])
    assert gone.exit_code == 2 and "seefood export" in " ".join(gone.output.split())
    clash = CliRunner().invoke(app, [*base, "--data", str(tmp_path), "--batch-size", "2", "--batch-sizes", "8"])
    assert clash.exit_code == 2 and "old spelling" in " ".join(clash.output.split())


def test_bench_prints_its_table_and_marks_unsteady_rows(tmp_path: Path, app: typer.Typer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from seefood.bench import runner
    from seefood.bench.stats import summarize

    def jittery(*args: object, **kwargs: object) -> object:
        """Timings whose slowest tenth is 4x the median, as on a busy machine."""
        from seefood.bench.measure import Timing

        return Timing(first_run_ms=None, stats=summarize([0.010] * 8 + [0.040] * 2, batch_size=1))

    monkeypatch.setattr(runner, "measure_latency", jittery)
    export = make_export(tmp_path, CLASSES, {"onnx-fp32": {"size": 3000}})
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=1)
    result = CliRunner().invoke(app, ["bench", str(export), "--data", str(data), "--out", str(tmp_path / "r"),
                                      *QUICK], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for column in ("artifact", "ran", "MB", "top-1 % (95 % CI)", "p50 ms", "speed-up", "status"):
        assert column in text
    assert "onnx-fp32" in text and "unsteady timing: p90 4.0x p50" in text
    report = (tmp_path / "r" / "report.md").read_text()
    assert report.index("## Summary") < report.index("## cpu") and "unsteady timing: p90 4.0x p50" in report


def test_a_re_bench_of_a_re_exported_artifact_replaces_its_rows_and_says_so(app: typer.Typer, tmp_path: Path) -> None:
    export = make_export(tmp_path, CLASSES, {"onnx-int8": {"size": 900, "precision": "int8"}})
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=1)
    args = ["bench", str(export), "--data", str(data), "--out", str(tmp_path / "r"), *QUICK]
    assert CliRunner().invoke(app, args).exit_code == 0
    for attempt in range(2):  # two re-exports to the same folder: still one row of it, each time said
        (export / "onnx-int8" / "model.bin").write_bytes(b"re-exported %d" % attempt)
        again = CliRunner().invoke(app, args)
        assert again.exit_code == 0, again.output
        text = " ".join(again.output.split())
        assert "replaced the earlier row of onnx-int8" in text and "re-exported" in text
        assert text.count("replaced the earlier row of") == 1  # the unchanged reference is not re-measured
        names = [json.loads(line)["name"] for line in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
        assert sorted(names) == ["fake-fp32", "onnx-int8"]
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert "re-measured (--force)" in " ".join(forced.output.split())


def test_bench_exits_1_when_nothing_could_be_measured(app: typer.Typer, tmp_path: Path) -> None:
    export = make_export(tmp_path, CLASSES, {"onnx-fp32": {"fail": "load"}})
    (tmp_path / "run" / "best" / "meta.json").write_text("{broken")  # the reference cannot load either
    data = make_eval_data(tmp_path / "data", CLASSES, per_class=1)
    result = CliRunner().invoke(app, ["bench", str(export), "--data", str(data), "--out", str(tmp_path / "r"), *QUICK])
    assert result.exit_code == 1 and (tmp_path / "r" / "report.md").exists()
