"""The Space's prediction service in-process: correct top-5, each request logged once (refusals with size and
sha256), bounded admission ("busy, retry"), timeouts, model failures, monitoring from running totals."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seefood.metadata import ModelMeta
from seefood.runtimes import load_runtime, top_k
from seefood.space.predlog import read_rows
from seefood.space.service import BusyError, SpaceService
from seefood.space.stats import LogStats
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
    assert rows[0].source == "ui" and rows[0].nbytes == tiny_images[name].stat().st_size


def test_bytes_and_files_are_classified_alike(service: SpaceService, tiny_images: dict[str, Path]) -> None:
    data = tiny_images["cmyk.jpg"].read_bytes()
    from_bytes = service.classify_bytes(data)
    from_file = service.classify(tiny_images["cmyk.jpg"], source="api")
    assert from_bytes.labels == from_file.labels and from_bytes.note == from_file.note
    assert [(r.source, r.sha256) for r in read_rows(service.log.path)] == [
        ("json", hashlib.sha256(data).hexdigest()), ("api", hashlib.sha256(data).hexdigest())]


def test_rejections_are_logged_and_later_requests_work(service: SpaceService, bad_files: dict[str, Path],
                                                       tiny_images: dict[str, Path]) -> None:
    for path in bad_files.values():
        with pytest.raises(UploadError):
            service.classify(path)
    assert service.classify(tiny_images["rgb.jpg"]).labels
    rows = read_rows(service.log.path)
    assert [r.status for r in rows] == ["rejected"] * len(bad_files) + ["ok"]
    for (case, path), row in zip(bad_files.items(), rows):
        assert row.nbytes == path.stat().st_size, case  # the size of every refused upload
        data = path.read_bytes()
        # its sha256 too, except when the size alone refused it (then it is never read)
        assert row.sha256 == (None if case == "too_large" else hashlib.sha256(data).hexdigest()), case
    report = service.monitor()
    assert report.requests == 1 and report.rejected == len(bad_files) and report.busy == 0
    assert report.training_distribution == "metrics.class_counts"


def test_monitoring_comes_from_running_totals(service: SpaceService, tiny_images: dict[str, Path],
                                              bad_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The report matches what a full read of the log gives, and building it reads nothing."""
    for name in ("rgb.jpg", "gray.png", "rgba.png", "cmyk.jpg"):
        service.classify(tiny_images[name])
    with pytest.raises(UploadError):
        service.classify(bad_files["empty"])
    from seefood.space import predlog, stats

    def no_reading(*_: object, **__: object) -> None:
        raise AssertionError("the owner's report re-read the log")

    monkeypatch.setattr(predlog, "open_log", no_reading)
    monkeypatch.setattr(stats, "open_log", no_reading)
    report = service.monitor()
    monkeypatch.undo()
    full = LogStats.from_log(service.log.path, service.settings.low_confidence)
    assert (report.requests, report.rejected) == (full.ok, full.rejected) == (4, 1)
    assert {c.name: c.predicted for c in report.classes if c.predicted} == dict(full.labels)
    assert report.confidence_histogram["counts"] == full.histogram
    assert report.drift is None and report.drift_min_requests == 100  # 4 predictions: no verdict


def test_a_restarted_service_resumes_the_totals(built_space: Path, tiny_images: dict[str, Path],
                                                tmp_path: Path) -> None:
    first = SpaceService.from_folder(built_space, log_path=tmp_path / "log.sqlite")
    first.classify(tiny_images["rgb.jpg"])
    first.record_busy("busy", "queue")
    first.close()
    second = SpaceService.from_folder(built_space, log_path=tmp_path / "log.sqlite")
    second.classify(tiny_images["gray.png"])
    report = second.monitor()
    second.close()
    assert (report.requests, report.busy, report.latency_requests) == (2, 1, 2)


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


def test_a_burst_beyond_capacity_is_refused_at_once_and_logged(service: SpaceService, tiny_images: dict[str, Path],
                                                               tmp_path: Path) -> None:
    """1 worker + 1 waiting: while the model is held, a third request is refused with "busy, retry" at once."""
    held = SpaceService(service.root, replace(service.settings, workers=1, queue_size=1),
                        SlowRuntime(service.runtime.meta), tmp_path / "busy.sqlite")
    gate = held.runtime.gate = threading.Event()
    answers: list[object] = []
    threads = [threading.Thread(target=lambda: answers.append(held.classify(tiny_images["rgb.jpg"], "json")))
               for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while held.in_flight < 2 and time.monotonic() < deadline:  # both admitted (one runs, one waits)
        time.sleep(0.01)
    with pytest.raises(BusyError, match="busy .* please retry") as info:
        held.classify(tiny_images["gray.png"], source="api")
    assert info.value.status == 503
    gate.set()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == 2  # the admitted ones were answered
    held.classify(tiny_images["gray.png"])  # capacity is back
    report = held.monitor()
    held.close()
    rows = read_rows(tmp_path / "busy.sqlite")
    assert sorted(r.status for r in rows) == ["busy", "ok", "ok", "ok"]
    busy = next(r for r in rows if r.status == "busy")
    assert busy.source == "api" and "retry" in (busy.error or "")
    assert (report.requests, report.busy) == (3, 1)


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
