"""The Space's prediction service: checked upload -> top-k labels + model time, logged (torch-free).

The gradio UI (`seefood.space.ui`) and the JSON endpoint (`seefood.space.server`) are thin layers
over `SpaceService`; tests use the service directly. Each request runs in a small worker pool with a
timeout, so one pathological upload can neither hang the web worker nor block later requests, and
admission is bounded: at most `workers` requests run and `queue_size` wait; the next one is refused at
once with a "busy, retry" message (BusyError) and logged as 'busy'. Every request is logged exactly
once, and the monitoring totals are updated as it is logged (the owner's report never re-reads the log).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seefood.errors import ConfigError, DataError
from seefood.runtimes import Runtime, load_runtime, softmax
from seefood.space.monitor import MonitorReport, build_report
from seefood.space.predlog import PredictionLog, utc_now
from seefood.space.reference import SPACE_RECORD, Reference, reference_from_meta
from seefood.space.stats import LogStats
from seefood.space.uploads import LoadedImage, UploadError, UploadLimits, load_upload, load_upload_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpaceSettings:
    """How the Space serves its model; stored in space.json at the Space's root."""

    title: str
    description: str = ""  # Markdown shown under the title
    model_dir: str = "model"  # the artifact folder, relative to the Space
    examples: tuple[str, ...] = ()  # example images, relative to the Space
    log_path: str = "logs/predictions.sqlite"  # relative to the Space unless absolute ($SEEFOOD_LOG overrides)
    log_images: bool = False  # also store uploaded bytes in the log
    limits: UploadLimits = field(default_factory=UploadLimits)
    timeout_s: float = 30.0  # per request: waiting for a worker + checks + decoding + model
    workers: int = 2  # predictions running at once (a 2-core Space)
    queue_size: int = 16  # requests waiting for a worker; one more is refused as busy
    threads: int | None = None  # runtime intra-op threads; None: the runtime's default
    top_k: int = 5
    low_confidence: float = 0.5  # threshold of the owner's monitoring report
    monitor_window: int = 2000  # latency percentiles of the monitoring report cover this many recent predictions
    evaluated_on: str = ""  # what the accuracy in `decision` was measured on, in words (the card says it)
    decision: dict[str, Any] = field(default_factory=dict)  # the bench decision that picked this model

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.workers < 1 or self.top_k < 1 or self.monitor_window < 1:
            raise ConfigError(f"timeout_s, workers, top_k and monitor_window must be positive, got {self}")
        if self.queue_size < 0:
            raise ConfigError(f"queue_size must be 0 or more, got {self.queue_size}")

    @property
    def capacity(self) -> int:
        """Requests admitted at once (running + waiting)."""
        return self.workers + self.queue_size

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["examples"] = list(self.examples)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpaceSettings:
        """Inverse of to_dict; keys it does not know (build provenance) are ignored."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["limits"] = UploadLimits(**known.get("limits", {}))
        known["examples"] = tuple(known.get("examples", ()))
        return cls(**known)


@dataclass(frozen=True)
class Prediction:
    """One answered request."""

    labels: tuple[tuple[str, float], ...]  # top-k (name, probability), most likely first
    model_ms: float  # runtime.run + sync
    total_ms: float  # checks + decoding + preprocessing + model
    width: int
    height: int
    note: str  # conversions applied to the upload
    image: Image.Image = field(repr=False)  # the RGB photo as classified (EXIF rotation applied)


class BusyError(UploadError):
    """Every worker is busy and the waiting line is full: the request was refused at once (HTTP 503)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=503)


class SpaceService:
    """Loads the Space's artifact once and answers classify requests."""

    def __init__(self, root: Path, settings: SpaceSettings, runtime: Runtime, log_path: Path) -> None:
        self.root = root
        self.settings = settings
        self.runtime = runtime
        latency = settings.decision.get("latency_ms")
        self.reference: Reference = reference_from_meta(
            runtime.meta, dict(latency) if latency else None, settings.decision.get("name"))
        self.log = PredictionLog(log_path, store_images=settings.log_images)
        self.log.set_info({"reference": self.reference.to_info(), "model_dir": settings.model_dir,
                           "format": runtime.meta.format, "precision": runtime.meta.precision})
        # the monitoring totals: aggregated once from the log (in SQL), then updated per request
        self.stats = LogStats.from_log(log_path, settings.low_confidence, latency_window=settings.monitor_window)
        self._pool = concurrent.futures.ThreadPoolExecutor(settings.workers, thread_name_prefix="seefood-predict")
        self._admission = threading.Lock()
        self._in_flight = 0  # admitted requests whose work has not ended (running or waiting for a worker)
        self._warm_up()

    def _warm_up(self) -> None:
        """One untimed run, so the first visitor's model time is not the session's set-up cost."""
        crop = self.runtime.meta.preprocessing.crop
        self.runtime.run(np.zeros((1, 3, crop, crop), dtype=np.float32))
        self.runtime.sync()

    @classmethod
    def from_folder(cls, root: str | Path, log_path: str | Path | None = None, device: str = "cpu") -> SpaceService:
        """Read space.json in a built Space folder and load its artifact."""
        root = Path(root).resolve()
        try:
            settings = SpaceSettings.from_dict(json.loads((root / SPACE_RECORD).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DataError(f"{root} has no {SPACE_RECORD}: build the Space with `seefood space build`") from None
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise DataError(f"{root / SPACE_RECORD} is invalid ({exc}): rebuild the Space") from None
        runtime = load_runtime(root / settings.model_dir, device=device, threads=settings.threads)
        path = Path(log_path) if log_path else Path(settings.log_path)
        return cls(root, settings, runtime, path if path.is_absolute() else root / path)

    @property
    def example_paths(self) -> list[Path]:
        """Absolute paths of the bundled examples."""
        return [self.root / e for e in self.settings.examples]

    def _predict(self, load: Callable[[], LoadedImage], start: float) -> tuple[Prediction, LoadedImage]:
        loaded = load()
        batch = self.runtime.meta.preprocessing.batch([loaded.image])
        t0 = time.perf_counter()
        logits = self.runtime.run(batch)
        self.runtime.sync()
        model_ms = (time.perf_counter() - t0) * 1e3
        probs = softmax(np.asarray(logits, dtype=np.float32))[0]
        names = self.runtime.meta.class_names
        order = np.argsort(-probs)[: self.settings.top_k]
        labels = tuple((names[i], float(probs[i])) for i in order)
        total_ms = (time.perf_counter() - start) * 1e3
        return Prediction(labels, model_ms, total_ms, loaded.width, loaded.height, loaded.note, loaded.image), loaded

    def classify(self, path: str | Path | None, source: str = "ui") -> Prediction:
        """Check, decode and classify one uploaded file; UploadError (BusyError under load) carries the
        message for the user. `source` is logged: 'ui', 'api' or 'json'."""
        return self._serve(lambda: load_upload(path, self.settings.limits), source)

    def classify_bytes(self, data: bytes, source: str = "json") -> Prediction:
        """`classify` for an upload already in memory (the JSON endpoint's request body)."""
        return self._serve(lambda: load_upload_bytes(data, self.settings.limits), source)

    def _serve(self, load: Callable[[], LoadedImage], source: str) -> Prediction:
        start = time.perf_counter()
        with self._admission:
            admitted = self._in_flight < self.settings.capacity
            self._in_flight += admitted
        if not admitted:
            message = (f"The Space is busy ({self.settings.workers} photos being classified and "
                       f"{self.settings.queue_size} waiting): please retry in a few seconds.")
            self.record_busy(message, source)
            raise BusyError(message)
        try:
            future = self._pool.submit(self._predict, load, start)
        except RuntimeError:  # the pool was shut down: the app is stopping
            self._leave()
            raise
        future.add_done_callback(lambda _: self._leave())  # when the work ends, not when the caller stops waiting
        try:
            prediction, loaded = future.result(timeout=self.settings.timeout_s)
        except UploadError as exc:
            self.record_rejection(str(exc), source, exc.nbytes, exc.sha256)
            raise
        except concurrent.futures.TimeoutError:
            message = (f"The photo took longer than {self.settings.timeout_s:g} s to process: "
                       f"please try a smaller photo, or again in a moment.")
            self.record_rejection(message, source)
            raise UploadError(message, status=504) from None
        except Exception as exc:  # the model itself failed: logged with its traceback, re-raised for the UI
            log.exception("prediction failed")
            self.record_rejection(f"internal error: {type(exc).__name__}", source)
            raise
        when = utc_now()
        self._write_log(lambda: self.log.record_prediction(
            prediction.labels, prediction.model_ms, prediction.total_ms, loaded.width, loaded.height,
            loaded.sha256, loaded.nbytes, image=loaded.data, time=when, source=source))
        self.stats.add_prediction(when, prediction.labels[0][0], prediction.labels[0][1], prediction.model_ms,
                                  prediction.total_ms)
        return prediction

    def _leave(self) -> None:
        with self._admission:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        """Admitted requests not yet finished (running or waiting for a worker)."""
        with self._admission:
            return self._in_flight

    def record_rejection(self, message: str, source: str, nbytes: int | None = None,
                         sha256: str | None = None) -> None:
        """Log one refused upload (its size and sha256 where known, never its bytes)."""
        when = utc_now()
        self._write_log(lambda: self.log.record_rejection(message, sha256, nbytes, time=when, source=source))
        self.stats.add_refusal(when, "rejected", message)

    def record_busy(self, message: str, source: str) -> None:
        """Log one request refused under load (here, or by gradio's own queue: source 'queue')."""
        when = utc_now()
        self._write_log(lambda: self.log.record_rejection(message, time=when, source=source, status="busy"))
        self.stats.add_refusal(when, "busy", message)

    @staticmethod
    def _write_log(write: Callable[[], None]) -> None:
        try:
            write()
        except sqlite3.Error:  # a full disk or locked log must not turn an answer into a crash
            log.exception("could not write the prediction log")

    def monitor(self) -> MonitorReport:
        """The monitoring report over this Space's whole log, from the running totals: O(classes + window)."""
        return build_report(self.stats, self.reference, str(self.log.path))

    def close(self) -> None:
        """Stop the worker pool (requests still running finish in the background) and close the log."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.log.close()
