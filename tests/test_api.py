"""The Python API (seefood.api, docs/api.md): train -> evaluate -> export -> bench -> pick -> load().predict on the
tiny model and the generated sample data, the records each step returns, and a cheap, torch-free `import seefood`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import seefood
from seefood.errors import ConfigError

FAST = {"model": "tiny", "weights": "none", "image_size": 32, "batch_size": 16, "workers": 0, "threads": 1,
        "device": "cpu", "val_fraction": 0.2}


def test_import_seefood_is_cheap_and_torch_free() -> None:
    code = ("import sys, seefood; assert 'torch' not in sys.modules and 'seefood.api' not in sys.modules; "
            "seefood.pick; seefood.load; assert 'torch' not in sys.modules; print(seefood.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == seefood.__version__


def test_the_subpackages_named_like_api_functions_are_callable_and_still_modules() -> None:
    import seefood.bench.records  # the import system sets seefood.bench to the subpackage: still callable
    import seefood.export.report
    import seefood.train.config

    for name in ("train", "export", "bench"):
        assert callable(getattr(seefood, name))
    assert seefood.bench.records.RESULTS_JSONL == "results.jsonl" and seefood.train.config.EVAL_SPLITS
    from seefood import bench

    assert bench is sys.modules["seefood.bench"] and callable(bench)
    with pytest.raises(ConfigError, match="has no option colour"):
        seefood.bench("x", data="y", out="z", colour="red")


@pytest.mark.slow
def test_the_whole_path_through_the_api(tmp_path: Path, sample_data: Path) -> None:
    from seefood.bench import BenchRun, Decision
    from seefood.export import ExportReport
    from seefood.runtimes.classify import Prediction
    from seefood.train import EvalResult, TrainResult

    run = seefood.train(sample_data, out=tmp_path / "run", epochs=1, **FAST)
    assert isinstance(run, TrainResult) and (run.best / "meta.json").is_file()

    evaluated = seefood.evaluate(run.best, sample_data, workers=0, device="cpu")
    assert isinstance(evaluated, EvalResult) and evaluated.split == "test" and evaluated.count == 4 * 8
    assert evaluated.report is None  # no out: nothing written

    exported = seefood.export(run.best, out=tmp_path / "export", formats="onnx", parity_data=sample_data,
                              min_parity_images=16, threads=1, latency_runs=0)
    assert isinstance(exported, ExportReport) and (tmp_path / "export" / "onnx-fp32" / "seefood.json").is_file()

    measured = seefood.bench(tmp_path / "export", data=sample_data, out=tmp_path / "report", min_runs=3,
                             min_time_s=0.0, warmup=1, threads=1, progress=False)
    assert isinstance(measured, BenchRun) and {r.name for r in measured.rows} >= {"onnx-fp32"}
    assert all(r.ok for r in measured.rows)

    decision = seefood.pick(tmp_path / "report", max_drop=100.0)
    assert isinstance(decision, Decision) and decision.chosen is not None
    assert json.loads((tmp_path / "report" / "decision.json").read_text())["name"] == decision.chosen.name
    assert seefood.pick(tmp_path / "report", target="mobile").chosen is None  # no ExecuTorch artifact here
    assert json.loads((tmp_path / "report" / "decision.json").read_text())["name"] == decision.chosen.name

    model = seefood.load(decision.chosen.path)
    assert model.class_names == ("donut", "pizza", "salad", "sushi") and "onnx-fp32" in repr(model)
    photo = min((sample_data / "test" / "pizza").iterdir())
    one = model.predict(photo, top_k=2)
    assert isinstance(one, Prediction) and one.path == photo and len(one.top) == 2
    assert one.label == one.top[0].label and 0 < one.probability <= 1 and one.ms > 0
    label, probability = one.top[0]  # a Score unpacks like the pair the CLI prints
    assert (label, probability) == (one.label, one.probability)
    assert json.loads(json.dumps(one.to_dict()))["top"][0]["label"] == one.label

    with Image.open(photo) as image:
        in_memory = [image.convert("RGB"), np.asarray(image.convert("RGB"))]
    mixed = model.predict_many([*in_memory, sample_data / "test" / "sushi", photo], batch_size=3)
    assert [p.path for p in mixed[:2]] == [None, None] and mixed[0].top == mixed[1].top == mixed[-1].top
    assert len(mixed) == 2 + 8 + 1 and mixed[-1].path == photo

    checkpoint = seefood.load(run.best, threads=1)  # a checkpoint folder loads too (PyTorch runtime)
    assert checkpoint.predict(photo).top[0].label in checkpoint.class_names
    with pytest.raises(ConfigError, match="does not exist"):
        seefood.load(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="top_k"):
        model.predict(photo, top_k=0)
