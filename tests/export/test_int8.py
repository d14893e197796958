"""The int8 recipe loop, with fake recipes: order, fallback, failed/, and what gets recorded."""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from seefood.errors import ConfigError
from seefood.export import read_embedded_metadata
from seefood.export.formats.base import quiet_tracing
from seefood.export.int8 import calibration_source
from seefood.export.latency import _flag_slow_int8
from seefood.export.pipeline import run_export
from seefood.export.report import ArtifactRow
from seefood.io import OUTPUTS_RECORD
from seefood.runtimes import read_artifact_meta


@dataclass(frozen=True)
class FakeRecipe:
    """Same shape as seefood.export.quantize.Int8Recipe."""

    name: str
    description: str
    quantize: Any


def _copy_fp32(fp32_dir: Path, model: torch.nn.Module, meta: Any, calib: list[np.ndarray], out: Path) -> Path:
    """A 'quantiser' that keeps the fp32 TorchScript file: passes parity."""
    assert calib and calib[0].shape[1:] == (3, 64, 64)  # the deployment preprocessing reached the recipe
    out.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(fp32_dir / "model.pt", out / "model.pt"))


def _scrambled(fp32_dir: Path, model: torch.nn.Module, meta: Any, calib: list[np.ndarray], out: Path) -> Path:
    """A 'quantiser' that ruins the classifier: misses parity."""
    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.classifier.weight.copy_(torch.randn_like(broken.classifier.weight) * 50)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_tracing():
        torch.jit.save(torch.jit.trace(broken, torch.zeros(1, 3, 64, 64)), str(out / "model.pt"))
    return out / "model.pt"


def _crashing(*args: Any) -> Path:
    raise RuntimeError("calibrator ran out of memory")


def _patch_recipes(monkeypatch: pytest.MonkeyPatch, recipes: dict[str, list[FakeRecipe]] | None) -> None:
    why = None if recipes is not None else "int8 is unavailable: seefood.export.quantize does not import (x)"
    monkeypatch.setattr("seefood.export.recipes.load_recipes", lambda: (recipes, why))


def _int8_config(quick_config: Any, sample_data: Path) -> Any:
    return quick_config(formats=("torchscript",), int8=True, calib_data=sample_data, calib_size=8, latency_runs=0)


def test_recipes_are_tried_in_order_until_one_passes(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any, sample_data: Path
) -> None:
    _patch_recipes(monkeypatch, {"torchscript": [FakeRecipe("scrambled", "misses", _scrambled),
                                                 FakeRecipe("copy", "passes", _copy_fp32),
                                                 FakeRecipe("never", "not reached", _crashing)]})
    report = run_export(_int8_config(quick_config, sample_data))
    row = next(r for r in report.rows if r.name == "torchscript-int8")
    assert (row.status, row.recipe, row.path) == ("passed", "copy", "torchscript-int8")
    assert [a["recipe"] for a in row.attempts] == ["scrambled", "copy"]
    assert row.attempts[0]["status"] == "parity-failed" and row.attempts[0]["parity"]["top1_agreement"] < 0.97
    meta = read_embedded_metadata(report.out / "torchscript-int8")
    assert meta is not None and meta.precision == "int8"
    assert [a["recipe"] for a in meta.extra["int8"]["attempts"]] == ["scrambled", "copy"]
    assert sorted(p.name for p in report.out.iterdir()) == [OUTPUTS_RECORD, "export.json", "torchscript-fp32",
                                                             "torchscript-int8"]


def test_when_no_recipe_passes_the_last_attempt_goes_to_failed(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any, sample_data: Path
) -> None:
    _patch_recipes(monkeypatch, {"torchscript": [FakeRecipe("scrambled", "misses", _scrambled),
                                                 FakeRecipe("crash", "raises", _crashing)]})
    report = run_export(_int8_config(quick_config, sample_data))
    row = next(r for r in report.rows if r.name == "torchscript-int8")
    assert row.status == "exported-but-parity-failed" and row.path == "failed/torchscript-int8"
    assert "scrambled" in (row.reason or "") and "calibrator ran out of memory" in (row.reason or "")
    assert read_artifact_meta(report.out / "failed" / "torchscript-int8").extra["int8"]["recipe"] == "scrambled"
    assert not report.ok
    assert [p.name for p in report.out.iterdir() if p.name.startswith(".")] == [OUTPUTS_RECORD]  # no staging


def test_missing_quantize_package_is_a_clear_row(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any, sample_data: Path
) -> None:
    _patch_recipes(monkeypatch, None)
    report = run_export(_int8_config(quick_config, sample_data))
    row = next(r for r in report.rows if r.name == "torchscript-int8")
    assert row.status == "export-failed" and "seefood.export.quantize" in (row.reason or "")
    assert next(r for r in report.rows if r.name == "torchscript-fp32").status == "passed"


def test_calibration_falls_back_to_the_checkpoint_dataset_else_must_be_given(checkpoint: Path) -> None:
    meta = read_artifact_meta(checkpoint)  # records the sample folder as its training data
    assert calibration_source(None, meta) == Path(meta.config["data"])
    assert calibration_source(Path("/given"), meta) == Path("/given")
    with pytest.raises(ConfigError, match="--calib-data"):
        calibration_source(None, meta.evolve(config={}))


def test_a_slow_int8_is_called_out_plainly() -> None:
    fp32 = ArtifactRow("onnx-fp32", "onnx", "fp32", "passed", latency_ms=2.0)
    int8 = ArtifactRow("onnx-int8", "onnx", "int8", "passed", latency_ms=2.5)
    flagged = _flag_slow_int8([fp32, int8], "onnx")
    assert "NOT faster" in flagged[1].notes[0] and "not worth deploying" in flagged[1].notes[0]
    fast = _flag_slow_int8([fp32, int8.with_(latency_ms=1.0)], "onnx")
    assert "2.00x faster" in fast[1].notes[0]


def test_int8_recipe_keeps_only_the_named_recipes(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any, sample_data: Path
) -> None:
    recipes = {"torchscript": [FakeRecipe("scrambled", "misses", _scrambled), FakeRecipe("copy", "passes", _copy_fp32)],
               "onnx": [FakeRecipe("onnx-only", "another format's", _crashing)]}
    _patch_recipes(monkeypatch, recipes)
    report = run_export(quick_config(formats=("torchscript",), int8=True, calib_data=sample_data, calib_size=8,
                                     latency_runs=0, int8_recipes=("copy",)))
    row = next(r for r in report.rows if r.name == "torchscript-int8")
    assert row.status == "passed" and [a["recipe"] for a in row.attempts] == ["copy"]
    assert list(report.config["int8_recipes"]) == ["copy"]

    other = run_export(quick_config(formats=("torchscript",), int8=True, calib_data=sample_data, calib_size=8,
                                    latency_runs=0, int8_recipes=("onnx-only",), force=True))
    row = next(r for r in other.rows if r.name == "torchscript-int8")
    assert row.status == "skipped" and "names none of torchscript's recipes (scrambled, copy)" in (row.reason or "")


def test_int8_recipe_names_are_checked_before_any_work(quick_config: Any) -> None:
    pytest.importorskip("onnxruntime")
    with pytest.raises(ConfigError, match=r"unknown int8 recipe\(s\) fastest: use .*nncf-ptq"):
        quick_config(int8=True, int8_recipes=("fastest",))
    with pytest.raises(ConfigError, match="needs --int8"):
        quick_config(int8=False, int8_recipes=("nncf-ptq",))
