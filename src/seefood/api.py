"""seefood's Python API: each CLI command as one function that returns the record the command prints.

    import seefood

    run = seefood.train("my_photos/", out="runs/lite2", model="effnet_lite2", epochs=3)   # TrainResult
    exported = seefood.export(run.best, out="runs/lite2-export", int8=True)              # ExportReport
    measured = seefood.bench("runs/lite2-export", data="my_photos/", out="runs/report")  # BenchRun
    decision = seefood.pick("runs/report", max_drop=1.0)                                 # Decision
    model = seefood.load(decision.chosen.path)                                           # Model
    print(model.predict("photo.jpg").label)                                              # Prediction

Keyword options are the fields of the config dataclass each command maps its options onto (TrainConfig,
ExportConfig, BenchConfig, PickRules, EvalOptions), with the same defaults; docs/api.md lists them. Errors are
the seefood.errors hierarchy (ConfigError for a bad option, DataError for unusable photos, ...).
Importing this module is cheap: torch and the back-ends load when a function needs them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seefood.errors import ConfigError
from seefood.formats import target_formats

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from seefood.bench import BenchRun, Decision
    from seefood.export import ExportReport
    from seefood.metadata import ModelMeta
    from seefood.runtimes import Runtime
    from seefood.runtimes.classify import Prediction
    from seefood.train import EvalResult, TrainResult

    ImageLike = str | Path | Image.Image | np.ndarray

__all__ = ["Model", "bench", "evaluate", "export", "load", "pick", "target_formats", "train"]


def _config(cls: type, what: str, **values: Any) -> Any:
    """cls(**values), with an unknown keyword named as a ConfigError that lists the known ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{what} has no option {', '.join(unknown)}: use {', '.join(sorted(known))}")
    return cls(**values)


def _paths(items: str | Path | Sequence[str | Path]) -> tuple[Path, ...]:
    return (Path(items),) if isinstance(items, (str, Path)) else tuple(Path(p) for p in items)


def train(data: str | Path, out: str | Path, **options: Any) -> TrainResult:
    """Fine-tune a model on `data` into the run folder `out` (`seefood train`); returns its TrainResult.

    data: "sample", "food101" or a folder (train/ and test/ with <class>/ sub-folders, or just <class>/ folders).
    options: TrainConfig fields, e.g. model="effnet_lite2", weights="imagenet", epochs=3, image_size=224,
    device="cpu", threads=2, workers=0, force=True. The result's `best` is the checkpoint to export.
    """
    from seefood.train import TrainConfig
    from seefood.train import train as run_training

    options = {k: tuple(v) if k == "classes" and v is not None else v for k, v in options.items()}
    config = _config(TrainConfig, "train()", data=str(data), out=str(out), **options)
    return run_training(config)  # type: ignore[no-any-return]


def evaluate(checkpoint: str | Path, data: str | Path, out: str | Path | None = None, **options: Any) -> EvalResult:
    """Top-1/top-5, per-class accuracy and confusion of a checkpoint on `data` (`seefood evaluate`).

    A flat <class>/ folder is evaluated whole, a dataset with test/ on its test split (options: EvalOptions
    fields, e.g. split="test", device="cpu", workers=0). With `out`, eval.json and confusion.png go there.
    """
    from seefood.train import EvalOptions
    from seefood.train.evaluation import evaluate as run_evaluation

    return run_evaluation(Path(checkpoint), str(data), out, _config(EvalOptions, "evaluate()", **options))


def export(checkpoint: str | Path, out: str | Path, **options: Any) -> ExportReport:
    """Export a checkpoint to deployment formats, each checked against PyTorch on real photos (`seefood export`).

    options: ExportConfig fields, e.g. formats=("onnx", "openvino"), int8=True, parity_data="my_photos/",
    threads=2, force=True. The report's rows say which artifacts passed and where they are (out/<format>-<precision>).
    """
    from seefood.export import ExportConfig, run_export

    if isinstance(options.get("formats"), str):
        options["formats"] = tuple(f.strip() for f in options["formats"].split(",") if f.strip())
    if isinstance(options.get("prune"), (int, float)):  # prune=0.3: the ratio, the other settings at their defaults
        from seefood.export import PruneOptions

        options["prune"] = PruneOptions(ratio=float(options["prune"]))
    config = _config(ExportConfig, "export()", checkpoint=Path(checkpoint), out=Path(out), **options)
    if config.prune is not None:
        from seefood.prune import prune_then_export

        return prune_then_export(config)[1]  # type: ignore[no-any-return]
    return run_export(config)  # type: ignore[no-any-return]


def bench(export_dirs: str | Path | Sequence[str | Path], data: str | Path, out: str | Path,
          **options: Any) -> BenchRun:
    """Measure accuracy, latency, memory and size of every artifact in the export folder(s) (`seefood bench`).

    data: labelled photos, a dataset folder (its test/) or a <class>/<photo> folder (all of it).
    options: BenchConfig fields, e.g. devices=("cpu",), batch_sizes=(1, 8), threads=2, min_time_s=2.0,
    force=True, progress=False, eager_variants=("bf16", "compile") (the reference checkpoint again as those
    rows). Returns every row of the report folder `out` (BenchRun.rows: BenchResult).
    """
    from seefood.bench import BenchConfig, run_bench

    return run_bench(_config(BenchConfig, "bench()", export_dirs=_paths(export_dirs), data=Path(data),
                             out=Path(out), **options))


def pick(report: str | Path, target: str | None = None, write: bool = True, **rules: Any) -> Decision:
    """Choose the deploy target from a bench report (`seefood pick`); returns the Decision.

    rules: PickRules fields, e.g. max_drop=1.0, budget_ms=20.0, device="cpu", batch_size=1, formats=("onnx",);
    target: "space" or "mobile", a preset of formats. decision.json is written only when something qualifies
    (and `write`): a pick that finds nothing leaves an earlier decision.json as it was. `decision.chosen` is
    the chosen BenchResult (None when nothing qualifies; `decision.advice` then says what to relax).
    """
    from seefood.bench import PickRules
    from seefood.bench import pick as run_pick

    if target is not None:
        if rules.get("formats") is not None:
            raise ConfigError("pass formats or target, not both (target is a preset of formats)")
        rules["formats"] = target_formats(target)
    elif isinstance(rules.get("formats"), str):
        rules["formats"] = tuple(f.strip() for f in rules["formats"].split(",") if f.strip())
    return run_pick(Path(report), _config(PickRules, "pick()", **rules), write=write)


class Model:
    """A loaded artifact (or checkpoint) that classifies photos: what `seefood predict` runs, kept in memory."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def path(self) -> Path:
        """The artifact or checkpoint folder."""
        return self.runtime.path

    @property
    def meta(self) -> ModelMeta:
        """Its metadata: architecture, class names, preprocessing, format, precision, parity, ..."""
        return self.runtime.meta

    @property
    def class_names(self) -> tuple[str, ...]:
        """The labels it predicts, in logit order."""
        return self.runtime.meta.class_names

    def __repr__(self) -> str:
        meta = self.runtime.meta
        return (f"Model({str(self.path)!r}, {meta.format}-{meta.precision}, {meta.num_classes} classes, "
                f"{self.runtime.device}, {self.runtime.threads} threads)")

    def predict(self, image: ImageLike, top_k: int = 5) -> Prediction:
        """The top-k labels of one photo: a file path, a PIL image or an HxWx3 uint8 array."""
        return self.predict_many([image], top_k=top_k)[0]

    def predict_many(self, images: Sequence[ImageLike] | str | Path, top_k: int = 5,
                     batch_size: int = 8) -> list[Prediction]:
        """Predictions for many photos, `batch_size` at a time: paths (files, folders, glob patterns, as the CLI
        takes them) and in-memory images (PIL or arrays) in any mix, in the order given."""
        if top_k < 1 or batch_size < 1:
            raise ConfigError(f"top_k and batch_size must be >= 1, got {top_k} and {batch_size}")
        items = [images] if isinstance(images, (str, Path)) else list(images)
        return [p for batch in _batches(_expand(items), batch_size) for p in self._classify(batch, top_k)]

    def _classify(self, batch: list[tuple[Path | None, Any]], top_k: int) -> list[Prediction]:
        from seefood.runtimes.classify import classify, open_photo

        started = time.perf_counter()  # decoding counts in each Prediction's ms, as in `seefood predict`
        resize = self.runtime.meta.preprocessing.resize
        images = [open_photo(p, draft=resize) if p is not None else image for p, image in batch]
        return classify(self.runtime, images, top_k, paths=[p for p, _ in batch], started=started)


def _expand(items: list[Any]) -> list[tuple[Path | None, Any]]:
    """(path, None) for every photo a path item names, (None, image) for an in-memory image."""
    from seefood.preprocessing import PixelLimits
    from seefood.runtimes.classify import check_photo, find_photos

    out: list[tuple[Path | None, Any]] = []
    for item in items:
        if isinstance(item, (str, Path)):
            for path in find_photos([item]):
                check_photo(path, PixelLimits())  # a refused file fails before any is classified
                out.append((path, None))
        else:
            out.append((None, item))
    return out


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def load(path: str | Path, device: str = "cpu", threads: int | None = None) -> Model:
    """Load an artifact folder (EXPORT_DIR/<format>-<precision>) or a checkpoint folder (runs/NAME/best).

    threads: intra-op threads (None: every core). `load(...).predict("photo.jpg")` returns a Prediction.
    """
    from seefood.runtimes import load_runtime

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} does not exist: pass an artifact folder from export() or a checkpoint folder")
    return Model(load_runtime(path, device=device, threads=threads))
