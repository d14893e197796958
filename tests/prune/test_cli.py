"""`seefood prune` and `seefood-export --prune` through typer's CliRunner."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seefood.cli.main import app
from seefood.prune import PRUNE_JSON
from seefood.prune.report import PASSED
from seefood.runtimes import read_artifact_meta

runner = CliRunner()
QUICK = ["--workers", "0", "--threads", "1", "--latency-runs", "2", "--device", "cpu"]


def test_prune_writes_the_result_and_prints_the_table(tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "p"
    result = runner.invoke(app, ["prune", str(tiny_checkpoint), "--ratio", "0.3", "--out", str(out),
                                 "--finetune-epochs", "0", "--importance", "l2", "--max-drop", "100", *QUICK])
    assert result.exit_code == 0, result.output
    assert "parameters" in result.output and "MACs" in result.output
    report = json.loads((out / PRUNE_JSON).read_text())
    assert report["accuracy"]["rule"] == PASSED and report["params"]["after"] < report["params"]["before"]


def test_a_failed_accuracy_rule_exits_1_with_advice(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seefood.prune import pipeline

    real = pipeline.prune_checkpoint

    def losing(config: Any, **kwargs: Any) -> Any:  # the real run, reported as 50 points worse
        report = real(config, **kwargs)
        worse = dataclasses.replace(report.finetuned, top1=(report.original.top1 or 0.0) - 0.5)
        return dataclasses.replace(report, finetuned=worse)

    monkeypatch.setattr(pipeline, "prune_checkpoint", losing)
    result = runner.invoke(app, ["prune", str(tiny_checkpoint), "--ratio", "0.3", "--out", str(tmp_path / "p"),
                                 "--finetune-epochs", "0", "--importance", "l2", *QUICK])
    assert result.exit_code == 1, result.output
    assert "smaller --ratio" in result.output


def test_a_non_empty_out_needs_force_which_keeps_other_files(tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "p"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["prune", str(tiny_checkpoint), "--ratio", "0.3", "--out", str(out), "--finetune-epochs", "0",
            "--importance", "l2", "--max-drop", "100", *QUICK]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "--force" in refused.output and list(out.iterdir()) == [out / "notes.txt"]
    result = runner.invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "mine" and (out / PRUNE_JSON).is_file()


def test_bad_ratio_is_exit_2(tmp_path: Path, tiny_checkpoint: Path) -> None:
    result = runner.invoke(app, ["prune", str(tiny_checkpoint), "--ratio", "1.5", "--out", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "--ratio" in result.output


@pytest.mark.slow
def test_export_with_prune_exports_the_pruned_checkpoint(
    tmp_path: Path, tiny_checkpoint: Path, sample_data: Path
) -> None:
    out = tmp_path / "export"
    result = runner.invoke(app, [
        "export", str(tiny_checkpoint), "--out", str(out), "--prune", "0.3", "--data", str(sample_data),
        "--finetune-epochs", "0", "--formats", "onnx", "--int8", "--calib-size", "30", "--parity-data",
        str(sample_data), "--min-parity-images", "16", "--min-agreement-int8", "0.5", "--max-drop", "100",
        "--threads", "1", "--latency-runs", "2",
    ])
    assert result.exit_code == 0, result.output
    pruned_dir = tmp_path / "export-prune"
    export_json = json.loads((out / "export.json").read_text())
    assert export_json["checkpoint"] == str((pruned_dir / "checkpoint").resolve())  # bench's fp32 reference
    assert export_json["config"]["prune"] == {"ratio": 0.3, "data": str(sample_data), "finetune_epochs": 0,
                                              "drop_blocks": 0}
    artifact = read_artifact_meta(out / "onnx-fp32")
    assert artifact.sparsity > 0.2 and artifact.shape_plan
    assert artifact.metrics["accuracy_rule"] == PASSED  # what `seefood pick` reads
    assert artifact.parity and artifact.parity["passed"]  # parity against the pruned model
    report = json.loads((pruned_dir / PRUNE_JSON).read_text())
    assert report["int8"]["name"] == "onnx-int8" and report["int8"]["latency_ms"] > 0
    assert report["config"]["export"] == str(out.resolve())


def test_prune_baseline_flag_adds_the_same_budget_column(tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "p"
    result = runner.invoke(app, ["prune", str(tiny_checkpoint), "--ratio", "0.3", "--out", str(out),
                                 "--finetune-epochs", "1", "--baseline", "--max-drop", "100", *QUICK],
                           terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "baseline" in result.output
    report = json.loads((out / PRUNE_JSON).read_text())
    assert report["config"]["baseline"] is True and report["accuracy"]["baseline"] is not None
    assert (out / "baseline" / "best" / "model.safetensors").is_file()


@pytest.mark.slow
def test_drop_blocks_removes_whole_blocks_and_reports_them(tmp_path: Path, sample_data: Path) -> None:
    import torch

    from seefood.checkpoint import load_checkpoint, save_checkpoint
    from seefood.metadata import ModelMeta
    from seefood.models import create_model, get_spec
    from tests.conftest import SAMPLE_CLASSES

    torch.manual_seed(0)
    meta = ModelMeta("effnet_b2", SAMPLE_CLASSES, get_spec("effnet_b2").preprocessing.with_size(64),
                     config={"data": str(sample_data), "batch_size": 8, "val_fraction": 0.2})
    checkpoint = save_checkpoint(tmp_path / "effnet" / "best", create_model("effnet_b2", len(SAMPLE_CLASSES),
                                                                             image_size=64), meta)
    out = tmp_path / "p"
    result = runner.invoke(app, ["prune", str(checkpoint), "--ratio", "0", "--drop-blocks", "3", "--out", str(out),
                                 "--finetune-epochs", "0", "--importance", "l2", "--max-drop", "100", *QUICK])
    assert result.exit_code == 0, result.output
    assert "3 block(s)" in result.output
    report = json.loads((out / PRUNE_JSON).read_text())
    assert [p.rsplit(".", 1)[0] for p in report["dropped_blocks"]] == ["features.1", "features.2", "features.3"]
    assert len(report["block_influence"]) == 16 and report["removed"] == ["3 residual block(s)"]
    assert report["params"]["after"] < report["params"]["before"] and report["trials"] == []
    pruned = load_checkpoint(out / "checkpoint")
    assert all(isinstance(pruned.model.get_submodule(p), torch.nn.Identity) for p in report["dropped_blocks"])
