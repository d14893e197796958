"""A fake Runtime (format "fake") and builders for artifacts, export folders and evaluation data.

The fake predicts a class from the red level of a solid-colour image, so accuracy is known in
advance; `meta.extra["fake"]` makes it slow, wrong on some classes, or fail on load or run.
"""

from __future__ import annotations

import json
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seefood.metadata import ModelMeta
from seefood.preprocessing import Preprocessing

PRE = Preprocessing(resize=20, crop=16)  # small images keep the tests fast


class FakeClock:
    """A clock that only moves when something sleeps on it: timed assertions that no loaded machine can flake.

    `patch(monkeypatch, *modules)` gives each module a `time` whose perf_counter/monotonic read this clock
    and whose sleep advances it (the real `time` module is left alone).
    """

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def read(self) -> float:
        return self.now

    def patch(self, monkeypatch: Any, *modules: types.ModuleType) -> FakeClock:
        fake = types.SimpleNamespace(perf_counter=self.read, monotonic=self.read, time=self.read, sleep=self.sleep)
        for module in modules:
            monkeypatch.setattr(module, "time", fake)
        return self


def red_level(index: int) -> int:
    """The red value of the images of class `index` (well apart, so resizing cannot confuse them)."""
    return 20 + 45 * index


class FakeRuntime:
    """Runtime protocol over nothing: nearest red level -> class, with controlled delay and failures."""

    def __init__(self, path: Path, meta: ModelMeta, device: str = "cpu", threads: int | None = None,
                 **_: Any) -> None:
        self.path, self.meta, self.device = path, meta, device
        self.threads = threads or 1
        self.precision_ran = meta.precision
        self.behaviour: dict[str, Any] = dict(meta.extra.get("fake", {}))
        if self.behaviour.get("fail") == "load":
            raise RuntimeError("fake load failure")
        # class name -> red level, in the dataset's order the artifact was "trained" on
        self.levels = {name: red_level(i) for i, name in enumerate(self.behaviour.get("trained_on", meta.class_names))}
        self.calls: list[str] = []

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits favouring the class whose red level is nearest the batch's mean red."""
        self.calls.append("run")
        if self.behaviour.get("fail") == "run":
            raise RuntimeError("fake inference failure")
        time.sleep(float(self.behaviour.get("delay_ms", 0.0)) / 1000.0)
        pre = self.meta.preprocessing
        red = (batch[:, 0].mean(axis=(1, 2)) * pre.std[0] + pre.mean[0]) * 255.0
        names = list(self.meta.class_names)
        logits = np.zeros((batch.shape[0], len(names)), dtype=np.float32)
        wrong = set(self.behaviour.get("wrong", ()))
        for row, value in enumerate(red):
            name = min(self.levels, key=lambda n: abs(self.levels[n] - value))
            j = names.index(name)
            if name in wrong:
                j = (j + 1) % len(names)
            logits[row, j] = 10.0
            logits[row] += np.linspace(0.0, 1.0, len(names), dtype=np.float32)  # a deterministic top-5 order
        return logits

    def sync(self) -> None:
        """Nothing is queued on a fake device."""
        self.calls.append("sync")


def make_eval_data(root: Path, classes: tuple[str, ...], per_class: int = 3, split: bool = True) -> Path:
    """Solid-colour PNGs: <root>/test/<class>/i.png (and a train/ copy when `split`), or flat <root>/<class>/."""
    parts = ("train", "test") if split else ("",)
    for part in parts:
        for i, name in enumerate(classes):
            folder = root / part / name if part else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(per_class):
                Image.new("RGB", (24 + k, 24), (red_level(i), 100 + k, 50)).save(folder / f"{k}.png")
    return root


def meta_for(classes: tuple[str, ...], fmt: str = "fake", precision: str = "fp32", **extra: Any) -> ModelMeta:
    """Metadata of a fake artifact; `extra` goes to meta.extra["fake"] (behaviour) unless named metrics."""
    metrics = extra.pop("metrics", {})
    return ModelMeta(
        architecture="tiny", class_names=classes, preprocessing=PRE, format=fmt, precision=precision,
        metrics=metrics, extra={"fake": extra},
    )


def make_artifact(export_dir: Path, name: str, meta: ModelMeta, size: int = 1000) -> Path:
    """EXPORT_DIR/<name>/ with seefood.json and a model file of `size` bytes."""
    folder = export_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seefood.json").write_text(json.dumps(meta.to_dict()), encoding="utf-8")
    (folder / "model.bin").write_bytes(name.encode().ljust(size, b"\0"))
    return folder


def make_export(root: Path, classes: tuple[str, ...], artifacts: dict[str, dict[str, Any]],
                ref_size: int = 4000) -> Path:
    """An export folder: a fake fp32 reference checkpoint named by export.json, plus the given artifacts.

    artifacts: name -> {"size": bytes, "precision": ..., other keys: fake behaviour / metrics}.
    """
    ckpt = root / "run" / "best"
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / "meta.json").write_text(json.dumps(meta_for(classes).to_dict()), encoding="utf-8")
    (ckpt / "model.safetensors").write_bytes(b"reference".ljust(ref_size, b"\0"))
    export_dir = root / "export"
    export_dir.mkdir(parents=True, exist_ok=True)
    (export_dir / "export.json").write_text(json.dumps({"checkpoint": str(ckpt.absolute())}), encoding="utf-8")
    for name, spec in artifacts.items():
        spec = dict(spec)
        size = spec.pop("size", 1000)
        precision = spec.pop("precision", "fp32")
        make_artifact(export_dir, name, meta_for(classes, precision=precision, **spec), size=size)
    return export_dir



def tiny_export(root: Path, classes: tuple[str, ...], name: str, write: Callable[[Any, Any, Path], None]) -> Path:
    """root/run/best (a seeded tiny checkpoint) + root/export/<name> (`write(model, example, folder)` writes the
    model file; its seefood.json is added) + root/export/export.json naming the checkpoint: the export folder."""
    import torch

    from seefood.checkpoint import save_checkpoint
    from seefood.models import create_model, get_spec
    from seefood.runtimes import ARTIFACT_META

    torch.manual_seed(0)
    model = create_model("tiny", len(classes)).eval()
    meta = ModelMeta(architecture="tiny", class_names=classes, preprocessing=get_spec("tiny").preprocessing)
    ckpt = save_checkpoint(root / "run" / "best", model, meta)
    folder = root / "export" / name
    folder.mkdir(parents=True)
    write(model, torch.zeros(1, 3, meta.preprocessing.crop, meta.preprocessing.crop), folder)
    fmt = name.rsplit("-", 1)[0]
    (folder / ARTIFACT_META).write_text(json.dumps(meta.evolve(format=fmt).to_dict()), encoding="utf-8")
    (root / "export" / "export.json").write_text(json.dumps({"checkpoint": str(ckpt.absolute())}), encoding="utf-8")
    return root / "export"
