"""`seefood space build`: a complete, torch-free Space folder, or a clear error and nothing written."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from seefood.cli.main import app
from seefood.errors import ConfigError, DataError, OutputExistsError
from seefood.io import sha256_file
from seefood.runtimes import RUNTIMES
from seefood.space import SpaceConfig, build_space
from seefood.space.bundle import BundleError, bundle_modules
from seefood.space.card import allowed_imports, requirements
from seefood.space.verify import BLOCKER

from .helpers import CLASSES, write_decision


def _front_matter(readme: str) -> dict[str, object]:
    head = readme.split("---\n")[1]
    return {k: (json.loads(v) if not v.startswith("[") else v) for k, v in
            (line.split(": ", 1) for line in head.strip().splitlines())}


def test_space_folder_is_complete(built_space: Path, onnx_artifact: Path, decision: Path) -> None:
    for name in ("app.py", "requirements.txt", "README.md", "space.json", "model/model.onnx", "model/seefood.json",
                 "seefood_runtime/runtimes/onnx.py", "seefood_runtime/space/monitor.py"):
        assert (built_space / name).is_file(), name
    requirements = (built_space / "requirements.txt").read_text().split()
    assert [r.split("==")[0] for r in requirements] == ["gradio", "fastapi", "uvicorn", "pillow", "numpy", "onnxruntime"]
    assert f"onnxruntime=={importlib.metadata.version('onnxruntime')}" in requirements
    assert not any("torch" in r or "seefood" in r for r in requirements)
    assert sha256_file(built_space / "model/model.onnx") == sha256_file(onnx_artifact / "model.onnx")
    record = json.loads((built_space / "space.json").read_text())
    assert str(onnx_artifact) not in json.dumps(record)  # no local paths published
    assert "artifact" not in record["decision"]["reference"]
    assert len(record["examples"]) == 4 and all((built_space / e).is_file() for e in record["examples"])


def test_readme_has_front_matter_and_measured_numbers(built_space: Path, decision: Path) -> None:
    readme = (built_space / "README.md").read_text()
    front = _front_matter(readme)
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py" and front["license"] == "apache-2.0"
    assert front["sdk_version"] == importlib.metadata.version("gradio")
    assert front["title"] == "seefood tiny"
    measured = json.loads(decision.read_text())
    assert f"| {measured['top1']:.2f}% | {measured['top5']:.2f}% |" in readme  # bench reports percent
    assert f"{measured['latency_ms']['p99']:.2f} ms" in readme and measured["why"] in readme
    assert f"{measured['size_bytes'] / 1e6:.2f} MB" in readme
    assert "onnx-int8" in readme and "never the image" in readme and ", ".join(CLASSES) in readme
    assert "deleted from the server as soon as it is classified" in readme and "POST /api/predict" in readme
    assert "SEEFOOD_MONITOR_TOKEN" in readme and "Off in the public app" in readme
    assert "not recorded with this build" in readme  # this decision has no env.json beside it


@pytest.mark.parametrize("generated", [True, False])
def test_the_card_says_what_the_accuracy_was_measured_on(tmp_path: Path, decision: Path, sample_data: Path,
                                                         generated: bool) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "decision.json").write_text(decision.read_text())
    data = sample_data / "test"
    if not generated:  # the same pictures without the generator's manifest: as a user's folder of photos looks
        data = tmp_path / "photos" / "test"
        data.parent.mkdir()
        (data.parent / "test").symlink_to(sample_data / "test", target_is_directory=True)
    (report / "env.json").write_text(json.dumps({"data": {"root": str(data), "images": 32, "classes": 4}}))
    built = build_space(SpaceConfig(decision=report / "decision.json", out=tmp_path / "space", verify=False))
    readme = (built.path / "README.md").read_text()
    said = json.loads((built.path / "space.json").read_text())["evaluated_on"]
    if generated:
        assert said.startswith("32 generated drawings of 4 classes") and "not food photos" in said
    else:
        assert said == "32 held-out images of 4 classes from `photos/test`"
    assert f"Accuracy measured on: {said}" in readme and str(tmp_path) not in readme  # no local folders


def test_bundled_package_imports_without_torch_or_seefood(built_space: Path) -> None:
    """Every module of seefood_runtime imports where torch and seefood cannot (the gradio UI module is
    imported the same way by the builder's own check and served that way by test_app)."""
    modules = sorted(".".join(p.relative_to(built_space).with_suffix("").parts).removesuffix(".__init__")
                     for p in (built_space / "seefood_runtime").rglob("*.py"))
    modules.remove("seefood_runtime.space.ui")  # gradio takes seconds to import
    script = BLOCKER + (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "print(json.dumps({'blocked': BLOCKED_ATTEMPTS, 'loaded': sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('torch', 'torchvision', 'seefood'))}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=built_space, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen == {"blocked": [], "loaded": []}
    assert "seefood_runtime.space.service" in modules and "seefood_runtime.runtimes.onnx" in modules


def test_openvino_spaces_bundle_the_openvino_runtime(tmp_path: Path) -> None:
    bundled = bundle_modules(tmp_path, {"openvino": RUNTIMES["openvino"]}, allowed_imports("openvino"))
    assert "seefood.runtimes.openvino" in bundled.modules and "seefood.runtimes.onnx" not in bundled.modules
    assert "openvino" in bundled.third_party and "onnxruntime" not in bundled.third_party
    registry = (tmp_path / "seefood_runtime/runtimes/__init__.py").read_text()
    assert "'openvino': 'seefood_runtime.runtimes.openvino:" in registry and "torchscript" not in registry
    assert requirements("openvino")[-1] == f"openvino=={importlib.metadata.version('openvino')}"


def test_bundling_a_torch_runtime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="imports torch"):
        bundle_modules(tmp_path, {"pytorch": RUNTIMES["pytorch"]}, allowed_imports("onnx"))


def test_torch_formats_are_refused(tmp_path: Path, onnx_artifact: Path) -> None:
    art = tmp_path / "torchscript-fp32"
    art.mkdir()
    meta = json.loads((onnx_artifact / "seefood.json").read_text())
    (art / "seefood.json").write_text(json.dumps({**meta, "format": "torchscript"}))
    picked = write_decision(tmp_path / "report", art, format="torchscript")
    with pytest.raises(ConfigError, match="needs torch"):
        build_space(SpaceConfig(decision=picked, out=tmp_path / "space"))
    assert not (tmp_path / "space").exists()


def test_bad_decisions_say_what_to_do(tmp_path: Path, onnx_artifact: Path) -> None:
    with pytest.raises(DataError, match="run `seefood pick"):
        build_space(SpaceConfig(decision=tmp_path / "decision.json", out=tmp_path / "s"))
    (tmp_path / "partial.json").write_text(json.dumps({"artifact": str(onnx_artifact)}))
    with pytest.raises(DataError, match="lacks"):
        build_space(SpaceConfig(decision=tmp_path / "partial.json", out=tmp_path / "s"))
    gone = write_decision(tmp_path / "r1", onnx_artifact)
    gone.write_text(json.dumps({**json.loads(gone.read_text()), "artifact": str(tmp_path / "deleted")}))
    with pytest.raises(DataError, match="does not exist"):
        build_space(SpaceConfig(decision=gone, out=tmp_path / "s"))
    mismatch = write_decision(tmp_path / "r2", onnx_artifact, format="openvino")
    with pytest.raises(DataError, match="holds 'onnx'"):
        build_space(SpaceConfig(decision=mismatch, out=tmp_path / "s"))
    assert not (tmp_path / "s").exists()


def test_examples_from_a_folder_and_force(tmp_path: Path, decision: Path) -> None:
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "ex" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "ex" / cls / f"{i}.png")
    out = tmp_path / "space"
    built = build_space(SpaceConfig(decision=decision, out=out, examples=tmp_path / "ex", num_examples=3, verify=False,
                                    title="My: \"food\" demo", log_images=True))
    assert built.examples == ("examples/01-0.png", "examples/02-0.png", "examples/03-1.png")  # one per folder in turn
    assert built.verification is None
    readme = (out / "README.md").read_text()
    assert _front_matter(readme)["title"] == 'My: "food" demo'
    assert "supplied by the builder" in readme and "uploaded image itself" in readme
    with pytest.raises(OutputExistsError, match="--force"):
        build_space(SpaceConfig(decision=decision, out=out, verify=False))
    build_space(SpaceConfig(decision=decision, out=out, verify=False, force=True))
    assert len(list((out / "examples").iterdir())) == 4
    (tmp_path / "ex" / "b" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(DataError, match="would be refused"):
        build_space(SpaceConfig(decision=decision, out=tmp_path / "s2", examples=tmp_path / "ex" / "b", verify=False))


def test_a_rebuild_with_force_keeps_the_monitoring_log(tmp_path: Path, decision: Path, tiny_images: dict[str, Path]
                                                      ) -> None:
    from seefood.space.predlog import read_rows
    from seefood.space.service import SpaceService

    out = tmp_path / "space"
    args = ["space", "build", str(decision), "--out", str(out), "--no-verify", "--num-examples", "3"]
    assert CliRunner().invoke(app, args).exit_code == 0
    served = SpaceService.from_folder(out)  # the Space as `seefood space serve` runs it: logs/predictions.sqlite
    served.classify(tiny_images["rgb.jpg"])
    served.close()
    log = out / "logs" / "predictions.sqlite"
    assert len(read_rows(log)) == 1
    (out / "examples" / "stale.png").write_bytes(b"from the earlier build")
    result = CliRunner().invoke(app, [*args[:-1], "2", "--force"])
    assert result.exit_code == 0, result.output
    assert len(read_rows(log)) == 1  # the monitoring history survives the rebuild
    assert len(list((out / "examples").iterdir())) == 2  # what the build writes is replaced whole
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_build_cli(tmp_path: Path, decision: Path) -> None:
    out = tmp_path / "space"
    args = ["space", "build", str(decision), "--out", str(out), "--no-verify", "--num-examples", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "onnxruntime==" in result.output and len(list((out / "examples").iterdir())) == 2
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "--force" in " ".join(again.output.split())
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0
    bad = CliRunner().invoke(app, [*args[:-2], "--num-examples", "0", "--force"])
    assert bad.exit_code == 2 and "--num-examples" in bad.output
    sized = CliRunner().invoke(app, [*args, "--force", "--workers", "1", "--queue-size", "4"])
    assert sized.exit_code == 0, sized.output
    record = json.loads((out / "space.json").read_text())
    assert (record["workers"], record["queue_size"]) == (1, 4)
    assert "At most 1 photos are classified at once and 4 wait" in (out / "README.md").read_text()
