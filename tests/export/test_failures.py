"""The paths where something goes wrong: parity misses, export errors, missing backends, bad arguments."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from seefood.cli.main import app
from seefood.errors import BackendMissingError, OutputExistsError
from seefood.export.formats import EXPORTERS
from seefood.export.formats.tensorrt import TENSORRT
from seefood.export.pipeline import run_export
from seefood.runtimes import load_runtime, read_artifact_meta

runner = CliRunner()


def _cli(checkpoint: Path, data: Path, out: Path, *args: str) -> Any:
    return runner.invoke(app, ["export", str(checkpoint), "--out", str(out), "--parity-data", str(data),
                               "--min-parity-images", "16", "--threads", "1", "--latency-runs", "2", *args])


def _corrupting(export: Any) -> Any:
    """Wrap an exporter so it exports a model whose classifier weights are scrambled."""

    def corrupt(model: torch.nn.Module, *args: Any) -> Path:
        broken = copy.deepcopy(model)
        with torch.no_grad():
            broken.classifier.weight.copy_(torch.randn_like(broken.classifier.weight) * 50)
        return export(broken, *args)  # type: ignore[no-any-return]

    return corrupt


def _missing(name: str, install: str) -> Any:
    def check() -> None:
        raise BackendMissingError(name, install)

    return check


def test_parity_miss_moves_the_artifact_to_failed(
    monkeypatch: pytest.MonkeyPatch, checkpoint: Path, parity_photos: Path, tmp_path: Path
) -> None:
    ts = EXPORTERS["torchscript"]
    monkeypatch.setitem(EXPORTERS, "torchscript", dataclasses.replace(ts, export=_corrupting(ts.export)))
    out = tmp_path / "export"
    result = _cli(checkpoint, parity_photos, out, "--formats", "torchscript")
    assert result.exit_code == 1, result.output
    assert "exported-but-parity-failed" in result.output
    assert not (out / "torchscript-fp32").exists()  # never handed to bench
    meta = read_artifact_meta(out / "failed" / "torchscript-fp32")
    assert meta.parity is not None and meta.parity["passed"] is False
    assert meta.parity["top1_agreement"] < 0.99 and meta.parity["failures"]
    row = json.loads((out / "export.json").read_text())["rows"][0]
    assert row["status"] == "exported-but-parity-failed" and row["path"] == "failed/torchscript-fp32"
    assert "agreement" in row["reason"]


def test_an_export_error_is_a_row_and_the_other_formats_go_on(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any
) -> None:
    def boom(*args: Any) -> Path:
        raise RuntimeError("tracer exploded")

    monkeypatch.setitem(EXPORTERS, "torchscript", dataclasses.replace(EXPORTERS["torchscript"], export=boom))
    report = run_export(quick_config(formats=("torchscript", "openvino"), latency_runs=0))
    rows = {r.name: r for r in report.rows}
    assert rows["torchscript-fp32"].status == "export-failed"
    assert rows["torchscript-fp32"].reason == "RuntimeError: tracer exploded"
    assert rows["openvino-fp32"].status == "passed"
    assert not report.ok


def test_missing_backend_requested_explicitly_fails_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, checkpoint: Path, parity_photos: Path, tmp_path: Path
) -> None:
    ov = EXPORTERS["openvino"]
    monkeypatch.setitem(EXPORTERS, "openvino", dataclasses.replace(
        ov, check_backend=_missing("OpenVINO", "pip install 'seefood[openvino]'")))
    out = tmp_path / "export"
    result = _cli(checkpoint, parity_photos, out, "--formats", "torchscript,openvino", "--fp16")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    rows = {r["name"]: r for r in json.loads((out / "export.json").read_text())["rows"]}
    assert rows["torchscript-fp32"]["status"] == "passed"
    for name in ("openvino-fp32", "openvino-fp16"):
        assert rows[name]["status"] == "export-failed"
        assert "pip install 'seefood[openvino]'" in rows[name]["reason"]
    assert "pip install 'seefood[openvino]'" in " ".join(result.output.split())  # [extras] are not markup


def test_missing_backend_among_default_formats_is_skipped(
    monkeypatch: pytest.MonkeyPatch, quick_config: Any
) -> None:
    ov = EXPORTERS["openvino"]
    monkeypatch.setitem(EXPORTERS, "openvino", dataclasses.replace(
        ov, check_backend=_missing("OpenVINO", "pip install 'seefood[openvino]'")))
    onnx = EXPORTERS["onnx"]  # missing too: keeps this test fast (ONNX has its own round trip)
    monkeypatch.setitem(EXPORTERS, "onnx", dataclasses.replace(onnx, check_backend=_missing("ONNX", "pip install onnx")))
    report = run_export(quick_config(latency_runs=0))
    rows = {r.name: r for r in report.rows}
    assert rows["openvino-fp32"].status == rows["onnx-fp32"].status == "skipped"
    assert rows["torchscript-fp32"].status == "passed"
    assert rows["tensorrt-fp32"].status == "skipped"
    assert report.ok


def test_tensorrt_is_gated_with_the_install_command(quick_config: Any) -> None:
    pytest.importorskip("torch", reason="torch is a core dependency")
    try:
        TENSORRT.check_backend()
    except BackendMissingError as exc:
        assert "pip install 'seefood[tensorrt]' on a machine with an NVIDIA GPU" in str(exc)
    else:
        pytest.skip("torch_tensorrt and a GPU are present: the gate is open")
    report = run_export(quick_config(formats=("tensorrt",), latency_runs=0))
    assert [r.status for r in report.rows] == ["export-failed"]
    assert "TensorRT" in (report.rows[0].reason or "")
    assert TENSORRT.unsupported("fp32", "cpu") is not None


def test_existing_out_dir_is_never_overwritten_without_force(
    checkpoint: Path, parity_photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = _cli(checkpoint, parity_photos, out, "--formats", "torchscript")
    assert result.exit_code == 1 and "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    result = _cli(checkpoint, parity_photos, out, "--formats", "torchscript", "--force")
    assert result.exit_code == 0, result.output
    # --force replaces only what export writes: a file of the user's stays (issue 14)
    assert (out / "keep.txt").read_text() == "mine" and (out / "torchscript-fp32" / "model.pt").is_file()


def test_run_export_refuses_before_doing_any_work(quick_config: Any) -> None:
    config = quick_config(formats=("torchscript",))
    config.out.mkdir()
    with pytest.raises(OutputExistsError, match="--force"):
        run_export(config)


@pytest.mark.parametrize("args, message", [
    (["--batch", "3"], "--batch must be 1 or dynamic"),
    (["--formats", "onnx,coreml"], "unknown format(s) coreml"),
    (["--device", "tpu"], "--device must be cpu or cuda"),
    (["--min-parity-images", "500"], "--min-parity-images 500 exceeds"),
    (["--min-parity-images", "100"], "parity needs at least 100"),  # the sample test split has 32 photos
])
def test_bad_arguments_exit_2_with_what_to_do(
    checkpoint: Path, parity_photos: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = _cli(checkpoint, parity_photos, tmp_path / "export", *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())  # rich wraps long lines
    assert not (tmp_path / "export").exists()


def test_missing_checkpoint_exits_2(parity_photos: Path, tmp_path: Path) -> None:
    result = _cli(tmp_path / "nope", parity_photos, tmp_path / "export")
    assert result.exit_code == 2 and "seefood train" in result.output


def test_static_batch_artifacts_still_take_any_batch(quick_config: Any) -> None:
    report = run_export(quick_config(formats=("torchscript", "openvino"), batch="1", latency_runs=0))
    assert report.ok


    batch = np.random.default_rng(0).standard_normal((5, 3, 64, 64)).astype(np.float32)
    outputs = []
    for name in ("torchscript-fp32", "openvino-fp32"):
        runtime = load_runtime(report.out / name, threads=1, exact=True)
        assert runtime.meta.extra["batch"] == 1
        outputs.append(runtime.run(batch))
    assert outputs[0].shape == (5, 4)
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-3, atol=1e-3 * float(np.abs(outputs[0]).max()))
