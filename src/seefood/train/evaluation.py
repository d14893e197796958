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
from seefood.torch_threads import torch_threads
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
    split: str  # train, val, test or all
    count: int  # images evaluated
    top1: float  # fraction, 0..1
    top5: float  # fraction, 0..1
    loss: float
    per_class: dict[str, float | None] = field(default_factory=dict)  # None: no images of that class
    report: Path | None = None  # the eval.json file (None: no output folder was given)
    confusion_png: Path | None = None
    seconds: float = 0.0
    data: str = ""  # what was evaluated: the dataset's source


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


def default_split(data_spec: str) -> str:
    """What `evaluate` reads when no split is asked: a flat <class>/ folder whole, else the test split."""
    from seefood.data.folders import find_split_folders

    path = Path(data_spec).expanduser()
    return "all" if path.is_dir() and find_split_folders(path) is None else "test"


def _trained_on(meta_config: Mapping[str, Any], data_spec: str) -> bool:
    """Whether the checkpoint was trained on the folder `data_spec` names."""
    trained = meta_config.get("data")
    if not trained:
        return False
    if trained == data_spec:
        return True
    a, b = Path(str(trained)).expanduser(), Path(data_spec).expanduser()
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def evaluate(
    checkpoint_path: str | Path, data_spec: str, out: str | Path | None = None, options: EvalOptions | None = None
) -> EvalResult:
    """Evaluate a checkpoint folder on `data_spec` (a flat folder whole, else its test split; EvalOptions.split).

    With `out`, eval.json and confusion.png are written into that folder; without, nothing is written.
    The checkpoint, device and output folder are checked before the data is scanned.
    """
    from seefood.data import ImageDataset, eval_transform, load_data

    opts = options or EvalOptions()
    out, checkpoint_path = (Path(out) if out is not None else None), Path(checkpoint_path)
    if out is not None and out.exists() and not opts.force:
        raise OutputExistsError(f"{out} already exists: pass --force to replace it, or choose another --out")
    meta = read_meta(checkpoint_path)
    device = torch.device(resolve_device(opts.device))
    split = opts.split or default_split(data_spec)
    if split == "all" and _trained_on(meta.config, data_spec):
        log.warning("%s was trained on %s: evaluating all of it includes the photos it learned from; --split test "
                    "evaluates only the held-out test photos, as training did", checkpoint_path, data_spec)
    splits = load_data(
        data_spec, root=Path(opts.data_root) if opts.data_root else None, seed=opts.seed,
        val_fraction=opts.val_fraction, strict=opts.strict_data,
    )
    chosen = (sorted((*splits.train, *splits.val, *splits.test), key=lambda s: s.path) if split == "all"
              else splits.split(split))
    samples = _map_to_model(tuple(chosen), splits.class_names, meta.class_names)
    if not samples:
        raise DataError(f"the {split} split of {data_spec!r} is empty: choose another --split or data")
    start = time.perf_counter()
    with torch_threads(opts.threads) as threads:
        model = load_checkpoint(checkpoint_path).model.to(device)
        dataset = ImageDataset(samples, eval_transform(meta.preprocessing))
        loader = eval_loader(dataset, opts.batch_size, opts.workers, device.type == "cuda", DistEnv())
        metrics = evaluate_model(model, loader, meta.num_classes, device)
    info = {
        "checkpoint": str(checkpoint_path.resolve()), "architecture": meta.architecture, "data": data_spec,
        "source": splits.source, "data_fingerprint": splits.fingerprint, "split": split, "threads": threads,
        "device": str(device), "preprocessing": meta.preprocessing.to_dict(),
    }
    if out is not None:
        with atomic_dir(out, overwrite=opts.force) as tmp:
            write_report(tmp, metrics, meta.class_names, info)
    seconds = time.perf_counter() - start
    log.info("%s on %s/%s: top-1 %.2f%%, top-5 %.2f%% over %d images%s", checkpoint_path, data_spec,
             split, 100 * metrics.top1, 100 * metrics.top5, metrics.count, f" -> {out}" if out else "")
    return EvalResult(
        checkpoint=checkpoint_path, split=split, count=metrics.count, top1=metrics.top1, top5=metrics.top5,
        loss=metrics.loss, per_class=metrics.per_class(meta.class_names),
        report=out / REPORT_JSON if out is not None else None,
        confusion_png=out / CONFUSION_PNG if out is not None else None, seconds=seconds, data=splits.source,
    )
