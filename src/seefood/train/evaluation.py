"""Evaluate a checkpoint on a data split: top-1/top-5, per-class accuracy, confusion matrix PNG + JSON."""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seefood.checkpoint import load_checkpoint, read_meta
from seefood.errors import DataError, OutputExistsError
from seefood.io import atomic_dir, atomic_write_bytes, atomic_write_json, to_jsonable
from seefood.train.config import EvalOptions, resolve_device
from seefood.train.distributed import DistEnv
from seefood.train.figures import confusion_figure, figure_to_png
from seefood.train.loaders import eval_loader
from seefood.train.metrics import EvalMetrics, evaluate_model

log = logging.getLogger(__name__)

REPORT_JSON = "eval.json"
CONFUSION_PNG = "confusion.png"


@dataclass(frozen=True)
class EvalResult:
    """Accuracy of one checkpoint on one split, and where the report was written."""

    checkpoint: Path
    split: str
    count: int  # images evaluated
    top1: float
    top5: float
    loss: float
    per_class: dict[str, float | None] = field(default_factory=dict)  # None: no images of that class
    report: Path = Path()  # the eval.json file
    confusion_png: Path = Path()
    seconds: float = 0.0


def write_report(
    folder: Path, metrics: EvalMetrics, class_names: tuple[str, ...], info: Mapping[str, Any]
) -> tuple[Path, Path]:
    """Write eval.json (metrics, per-class accuracy, confusion counts) and confusion.png into `folder`."""
    title = f"{info.get('split', '')} top-1 {metrics.top1:.1%} ({metrics.count} images)"
    png = atomic_write_bytes(folder / CONFUSION_PNG, figure_to_png(confusion_figure(metrics.confusion, class_names, title)))
    report = {
        **to_jsonable(dict(info)),
        "count": metrics.count,
        "top1": metrics.top1,
        "top5": metrics.top5,
        "loss": metrics.loss,
        "per_class": metrics.per_class(class_names),
        "class_names": list(class_names),
        "confusion": metrics.confusion.tolist(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return atomic_write_json(folder / REPORT_JSON, report), png


def _map_to_model(samples: tuple[Any, ...], data_names: tuple[str, ...], model_names: tuple[str, ...]) -> list[Any]:
    """Relabel samples from the dataset's class order to the model's; unknown classes are an error."""
    from seefood.data import Sample

    index = {name: i for i, name in enumerate(model_names)}
    unknown = sorted({data_names[s.label] for s in samples} - set(index))
    if unknown:
        raise DataError(
            f"the data has classes the model was not trained on: {unknown[:5]}{' ...' if len(unknown) > 5 else ''}; "
            f"evaluate on data with the model's classes ({', '.join(model_names[:5])}, ...) only"
        )
    return [Sample(s.path, index[data_names[s.label]]) for s in samples]


def evaluate(
    checkpoint_path: str | Path, data_spec: str, out: str | Path, options: EvalOptions | None = None
) -> EvalResult:
    """Evaluate a checkpoint folder on a split of `data_spec`; write eval.json + confusion.png into `out`."""
    from seefood.data import ImageDataset, eval_transform, load_data

    opts = options or EvalOptions()
    out, checkpoint_path = Path(out), Path(checkpoint_path)
    if out.exists() and not opts.force:
        raise OutputExistsError(f"{out} already exists: pass --force to replace it, or choose another --out")
    meta = read_meta(checkpoint_path)
    device = torch.device(resolve_device(opts.device))
    splits = load_data(
        data_spec, root=Path(opts.data_root) if opts.data_root else None, seed=opts.seed, val_fraction=opts.val_fraction, strict=opts.strict_data
    )
    samples = _map_to_model(splits.split(opts.split), splits.class_names, meta.class_names)
    if not samples:
        raise DataError(f"the {opts.split} split of {data_spec!r} is empty: choose another --split or data")
    start = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    try:
        model = load_checkpoint(checkpoint_path).model.to(device)
        dataset = ImageDataset(samples, eval_transform(meta.preprocessing))
        loader = eval_loader(dataset, opts.batch_size, opts.workers, device.type == "cuda", DistEnv())
        metrics = evaluate_model(model, loader, meta.num_classes, device)
    finally:
        torch.set_num_threads(previous_threads)
    info = {
        "checkpoint": str(checkpoint_path.resolve()), "architecture": meta.architecture, "data": data_spec,
        "source": splits.source, "data_fingerprint": splits.fingerprint, "split": opts.split,
        "device": str(device), "preprocessing": meta.preprocessing.to_dict(),
    }
    with atomic_dir(out, overwrite=opts.force) as tmp:
        write_report(tmp, metrics, meta.class_names, info)
    seconds = time.perf_counter() - start
    log.info("%s on %s/%s: top-1 %.2f%%, top-5 %.2f%% over %d images -> %s", checkpoint_path, data_spec,
             opts.split, 100 * metrics.top1, 100 * metrics.top5, metrics.count, out)
    return EvalResult(
        checkpoint=checkpoint_path, split=opts.split, count=metrics.count, top1=metrics.top1, top5=metrics.top5,
        loss=metrics.loss, per_class=metrics.per_class(meta.class_names), report=out / REPORT_JSON,
        confusion_png=out / CONFUSION_PNG, seconds=seconds,
    )
