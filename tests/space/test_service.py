"""The Space's prediction service in-process: correct top-5, logged requests, timeouts, model failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seefood.metadata import ModelMeta
from seefood.runtimes import load_runtime, top_k
from seefood.space.predlog import read_rows
from seefood.space.service import SpaceService
from seefood.space.uploads import UploadError

from .helpers import CLASSES


@pytest.fixture
def service(built_space: Path, tmp_path: Path) -> Iterator[SpaceService]:
    svc = SpaceService.from_folder(built_space, log_path=tmp_path / "log.sqlite")
    yield svc
    svc.close()


@pytest.mark.parametrize("name", ["rgb.jpg", "gray.png", "rgba.png", "palette.png", "cmyk.jpg", "gray16.png",
                                  "exif_rotated.jpg"])
def test_predictions_match_the_runtime(service: SpaceService, tiny_images: dict[str, Path], name: str,
                                       onnx_artifact: Path) -> None:
    prediction = service.classify(tiny_images[name])
    with Image.open(tiny_images[name]) as image:
        expected = top_k(load_runtime(onnx_artifact, threads=1), [image], k=5)[0]
    assert [n for n, _ in prediction.labels] == [n for n, _ in expected]
    assert [p for _, p in prediction.labels] == pytest.approx([p for _, p in expected], abs=1e-5)
    assert sorted(n for n, _ in prediction.labels) == sorted(CLASSES)  # 4 classes: the top-5 is all of them
    assert 0 < prediction.model_ms <= prediction.total_ms
    rows = read_rows(service.log.path)
    assert len(rows) == 1 and rows[0].status == "ok" and rows[0].label == prediction.labels[0][0]
    assert (rows[0].width, rows[0].height) == (prediction.width, prediction.height)


def test_rejections_are_logged_and_later_requests_work(service: SpaceService, bad_files: dict[str, Path],
                                                       tiny_images: dict[str, Path]) -> None:
    for path in bad_files.values():
        with pytest.raises(UploadError):
            service.classify(path)
    assert service.classify(tiny_images["rgb.jpg"]).labels
    rows = read_rows(service.log.path)
    assert [r.status for r in rows] == ["rejected"] * len(bad_files) + ["ok"]
    report = service.monitor()
    assert report.requests == 1 and report.rejected == len(bad_files)
    assert report.training_distribution == "metrics.class_counts"


@dataclass
class SlowRuntime:
    """A Runtime that, once `gate` is set, blocks on it until the test opens it (or raises): the timeout and
    failure paths, with no wall-clock assertion that a loaded machine could flake."""

    meta: ModelMeta
    gate: threading.Event | None = None  # run() waits until it is set (at most 60 s), then sets `finished`
    finished: threading.Event = field(default_factory=threading.Event)
    fail: bool = False
    path: Path = Path(".")
    device: str = "cpu"
    threads: int = 1
    precision_ran: str = "fp32"

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self.fail:
            raise RuntimeError("the session broke")
        if self.gate is not None:
            self.gate.wait(timeout=60.0)
            self.finished.set()
        return np.zeros((batch.shape[0], len(self.meta.class_names)), dtype=np.float32)

    def sync(self) -> None:
        """Nothing queued."""


def test_slow_requests_time_out_with_a_message(service: SpaceService, tiny_images: dict[str, Path],
                                               tmp_path: Path) -> None:
    slow = SpaceService(service.root, replace(service.settings, timeout_s=0.2),
                        SlowRuntime(service.runtime.meta), tmp_path / "slow.sqlite")
    gate = slow.runtime.gate = threading.Event()  # after the warm-up: the model now runs until the gate opens
    with pytest.raises(UploadError, match="took longer than 0.2 s"):
        slow.classify(tiny_images["rgb.jpg"])
    assert not slow.runtime.finished.is_set()  # the caller was answered while the model was still running
    gate.set()
    assert slow.runtime.finished.wait(timeout=60.0)
    slow.close()
    assert read_rows(tmp_path / "slow.sqlite")[0].error.startswith("The photo took longer")


def test_model_failures_are_logged_and_reraised(service: SpaceService, tiny_images: dict[str, Path],
                                                tmp_path: Path) -> None:
    broken = SpaceService(service.root, service.settings, SlowRuntime(service.runtime.meta), tmp_path / "b.sqlite")
    broken.runtime.fail = True
    with pytest.raises(RuntimeError, match="the session broke"):
        broken.classify(tiny_images["rgb.jpg"])
    broken.close()
    assert read_rows(tmp_path / "b.sqlite")[0].error == "internal error: RuntimeError"


def test_settings_round_trip(service: SpaceService) -> None:
    settings = service.settings
    assert type(settings).from_dict({**settings.to_dict(), "build": {"ignored": True}}) == settings
    assert [p.name for p in service.example_paths] == [Path(e).name for e in settings.examples]
