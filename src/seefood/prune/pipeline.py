"""`prune_checkpoint`: measure, prune, fine-tune to recover, measure again, and write DIR.

DIR/pruned/      the checkpoint right after pruning (what fine-tuning starts from)
DIR/finetune/    the recovery fine-tuning run (seefood.train: config.json, last/, best/, tb/, test/)
DIR/checkpoint/  the result: pruned + fine-tuned, with shape plan, sparsity and metrics.prune
DIR/baseline/    with --baseline: the *unpruned* model fine-tuned with the same recipe and epochs (the fair
                 comparison: same training budget, no pruning)
DIR/prune.json   the report (written last: a DIR without it holds an unfinished run)
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import nn

from seefood.checkpoint import WEIGHTS, Checkpoint, load_checkpoint, save_checkpoint, update_meta
from seefood.errors import ConfigError, DataError, OutputExistsError
from seefood.io import atomic_write_json, force_deletions, remove_path, to_jsonable
from seefood.metadata import ModelMeta
from seefood.models import create_model
from seefood.prune.config import PRUNE_JSON, PruneConfig
from seefood.prune.importance import get_criterion, import_torch_pruning
from seefood.prune.measure import EvalData, cpu_batch, interleaved_latency, top1
from seefood.prune.recalibrate import recalibrate_batchnorm
from seefood.prune.recipes import get_recipe
from seefood.prune.report import PruneReport, Stage
from seefood.prune.structured import PruneOutcome, count_parameters, prune_model
from seefood.threads import resolve_threads
from seefood.torch_threads import torch_threads
from seefood.train.config import TrainConfig, resolve_device
from seefood.versions import library_versions
from seefood.workers import loader_workers

log = logging.getLogger(__name__)

PRUNED, FINETUNE, RESULT, BASELINE = "pruned", "finetune", "checkpoint", "baseline"
OUTPUTS = (PRUNED, FINETUNE, RESULT, BASELINE, PRUNE_JSON)  # what --force replaces in DIR
MAX_WARMUP_EPOCHS = 0.5  # recovery starts from trained weights: a short warm-up is enough


def prepare_out(config: PruneConfig) -> Path:
    """DIR, checked: a non-empty DIR needs --force, which then clears only what a prune run writes."""
    out = config.out
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out {out} is a file: choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not config.force:
        raise OutputExistsError(f"{out} is not empty: pass --force to replace an earlier prune run there "
                                f"(other files stay), or choose another --out")
    for path in force_deletions(out, OUTPUTS) if out.is_dir() else []:
        remove_path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def source_train_config(meta: ModelMeta) -> TrainConfig:
    """How the checkpoint was trained (its saved config), or the defaults when it records none."""
    try:
        return TrainConfig.from_dict(meta.config)
    except (ConfigError, TypeError) as exc:
        log.info("the checkpoint records no usable training config (%s): fine-tuning with the defaults", exc)
        return TrainConfig()


def finetune_config(
    config: PruneConfig, meta: ModelMeta, base: TrainConfig, data: str, start: Path, out: Path | None = None
) -> TrainConfig:
    """The recovery run: the source's recipe and data split, starting from `start` (the pruned checkpoint).

    The --baseline run is the same config started from the unpruned checkpoint, written to `out`.
    """
    return base.evolve(
        model=meta.architecture, weights=str(start), freeze=None, image_size=meta.preprocessing.crop, data=data,
        data_root=config.data_root or base.data_root, classes=meta.class_names, epochs=config.finetune_epochs,
        batch_size=config.batch_size or base.batch_size, lr=config.lr or base.lr,
        warmup_epochs=min(base.warmup_epochs, MAX_WARMUP_EPOCHS), device=config.device, amp="auto",
        compile=False, workers=config.workers, patience=None, out=str(out or config.out / FINETUNE), resume=None,
        force=False, threads=config.threads,
        # recovery trains every layer at one rate; BatchNorm keeps the source recipe's choice (frozen statistics stay
        # exact for the kept channels), and the unpruned model teaches when distill is on
        head_epochs=0, backbone_lr_scale=1.0, freeze_bn=base.freeze_bn,
        teacher=str(config.checkpoint) if config.distill else None,
    )


def _eval_data(config: PruneConfig, meta: ModelMeta, base: TrainConfig, data: str) -> tuple[EvalData, Any]:
    """The held-out images accuracy is measured on (test split, else val), and the loaded splits."""
    from seefood.data import load_data

    root = config.data_root or base.data_root
    splits = load_data(data, root=Path(root) if root else None, subset=base.subset, classes=meta.class_names,
                       seed=base.seed, val_fraction=base.val_fraction)
    if splits.class_names != meta.class_names:
        raise DataError(f"{data} orders its classes {splits.class_names[:5]}..., the checkpoint "
                        f"{meta.class_names[:5]}...: pass the data the checkpoint was trained on")
    split = "test" if splits.test else "val"
    samples = splits.split(split)
    if not samples:
        raise DataError(f"{data} has no test or validation images to measure accuracy on: add a test/ split")
    batch = config.batch_size or base.batch_size
    return EvalData(split, tuple(samples), meta.preprocessing, meta.num_classes, batch, config.workers), splits


def _training_sample(config: PruneConfig, data: EvalData, train: tuple[Any, ...], count: int,
                     seed: int) -> torch.utils.data.DataLoader[Any]:
    """`count` seeded training images with the eval preprocessing, in CPU-sized batches (pruning runs on the CPU)."""
    from seefood.data import ImageDataset, eval_transform

    picks = np.random.default_rng(seed).permutation(len(train))[:count]
    dataset = ImageDataset([train[i] for i in picks], eval_transform(data.preprocessing))
    return torch.utils.data.DataLoader(dataset, batch_size=cpu_batch(data.batch_size),
                                       num_workers=loader_workers(config.workers))


def _gradient_batches(config: PruneConfig, data: EvalData, train: tuple[Any, ...]) -> list[Any]:
    """The batches taylor importance and block influence are computed on."""
    if not get_criterion(config.importance).needs_gradients and not config.drop_blocks:
        return []
    return list(_training_sample(config, data, train, config.grad_batches * cpu_batch(data.batch_size), config.seed))


def _recalibrate(config: PruneConfig, model: nn.Module, data: EvalData, train: tuple[Any, ...]) -> int:
    """Fresh BatchNorm statistics for the pruned model from a seeded sample of training images."""
    if not config.recalibrate_images:
        return 0
    loader = _training_sample(config, data, train, config.recalibrate_images, config.seed + 1)
    seen = recalibrate_batchnorm(model, (images for images, _ in loader))
    log.info("re-estimated BatchNorm statistics of the pruned model on %d training images", seen)
    return seen


def _stage(model: nn.Module, macs: int, weights: Path, metrics: Any) -> Stage:
    return Stage(params=count_parameters(model), macs=macs, size_bytes=weights.stat().st_size,
                 top1=metrics.top1, top5=metrics.top5)


def _pruned_meta(meta: ModelMeta, source: Checkpoint, outcome: PruneOutcome, fresh_params: int) -> ModelMeta:
    """The pruned model's metadata: shape plan, sparsity against the unpruned architecture, provenance.

    The source's metrics are dropped: they describe another model.
    """
    return meta.evolve(
        sparsity=1.0 - outcome.params_after / fresh_params, shape_plan=outcome.shape_plan, metrics={},
        parent_sha256=source.sha256,
        versions=library_versions(), created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        extra={**meta.extra, "pruned_from": str(source.path.resolve())},
    )


def prune_checkpoint(config: PruneConfig, console: Console | None = None, show_progress: bool = True) -> PruneReport:
    """Prune config.checkpoint (blocks, then config.ratio of its parameters), fine-tune, measure, write DIR."""
    import_torch_pruning()  # fail before any work when the backend is missing
    get_recipe(read_architecture(config.checkpoint))
    out = prepare_out(config)
    with torch_threads(config.threads) as threads:  # the one thread policy (seefood.threads)
        return _run(config.evolve(threads=threads), out, console, show_progress)


def read_architecture(checkpoint: Path) -> str:
    """The architecture a checkpoint folder records."""
    from seefood.checkpoint import read_meta

    return read_meta(checkpoint).architecture


def _run(config: PruneConfig, out: Path, console: Console | None, show_progress: bool) -> PruneReport:
    source = load_checkpoint(config.checkpoint)
    meta = source.meta
    base = source_train_config(meta)
    data = config.data or meta.config.get("data")
    if not data:
        raise ConfigError(f"{config.checkpoint} records no training data: pass --data (an ImageFolder path or 'sample')")
    try:
        eval_data, splits = _eval_data(config, meta, base, str(data))
    except DataError as exc:
        if config.data:
            raise
        raise ConfigError(f"the checkpoint's training data {data!r} is not readable from here ({exc}): "
                          f"pass --data PATH (the same ImageFolder, wherever it lives now)") from exc
    device = torch.device(resolve_device(config.device))
    log.info("measuring the original on %d %s images", len(eval_data.samples), eval_data.split)
    before = top1(source.model, eval_data, device)
    source.model.cpu()

    size = meta.preprocessing.crop
    fresh = create_model(meta.architecture, meta.num_classes, weights="none", image_size=size)
    fresh_params = count_parameters(fresh)
    outcome = prune_model(
        source.model, meta.architecture, config.ratio, torch.zeros(1, 3, size, size), config.importance,
        config.round_to, _gradient_batches(config, eval_data, splits.train), fresh=fresh,
        drop_blocks=config.drop_blocks,
    )
    recalibrated = _recalibrate(config, outcome.model, eval_data, splits.train)
    pruned_meta = _pruned_meta(meta, source, outcome, fresh_params)
    save_checkpoint(out / PRUNED, outcome.model, pruned_meta)
    right_after = top1(outcome.model, eval_data, device)
    log.info("top-1 %.2f%% -> %.2f%% right after pruning", 100 * before.top1, 100 * right_after.top1)

    finetune: dict[str, Any] | None = None
    final_model, final_meta = outcome.model, pruned_meta
    if config.finetune_epochs:
        from seefood.train.loop import train

        run = finetune_config(config, meta, base, str(data), out / PRUNED)
        result = train(run, console=console, show_progress=show_progress)
        best = load_checkpoint(result.best)
        final_model, final_meta = best.model, best.meta.evolve(parent_sha256=source.sha256, extra={
            **best.meta.extra, "pruned_from": str(source.path.resolve())})
        finetune = {"run": str(result.out.resolve()), "best_epoch": result.best_epoch, "lr": run.lr,
                    "best_val_top1": result.best_val_top1, "seconds": round(result.seconds, 1),
                    "teacher": run.teacher, "freeze_bn": run.freeze_bn}
    after = top1(final_model, eval_data, device) if config.finetune_epochs else right_after
    final_model.cpu()
    save_checkpoint(out / RESULT, final_model, final_meta)

    baseline: Stage | None = None
    if config.baseline:
        from seefood.train.loop import train

        log.info("same-budget baseline: fine-tuning the unpruned model for %d epochs", config.finetune_epochs)
        run = finetune_config(config, meta, base, str(data), config.checkpoint, out=out / BASELINE)
        result = train(run, console=console, show_progress=show_progress)
        best = load_checkpoint(result.best)
        metrics = top1(best.model, eval_data, device)
        best.model.cpu()
        baseline = Stage(count_parameters(best.model), outcome.macs_before, (result.best / WEIGHTS).stat().st_size,
                         metrics.top1, metrics.top5)

    latency: list[Any] = [None, None]
    if config.latency_runs:
        sample = torch.from_numpy(meta.preprocessing.batch([_first_image(eval_data)]))
        latency = list(interleaved_latency([source.model, final_model], sample, config.latency_runs, config.threads))
    report = PruneReport(
        architecture=meta.architecture, source=str(source.path.resolve()), checkpoint=str((out / RESULT).resolve()),
        ratio=config.ratio, sparsity=outcome.sparsity, channel_ratio=outcome.channel_ratio,
        importance=config.importance, round_to=config.round_to, removed=_removed(meta.architecture, outcome),
        dropped_blocks=outcome.depth.removed if outcome.depth else (),
        block_influence=outcome.depth.influence if outcome.depth else None,
        split=eval_data.split, images=before.count,
        original=Stage(outcome.params_before, outcome.macs_before, (source.path / WEIGHTS).stat().st_size,
                       before.top1, before.top5, latency[0]),
        pruned=_stage(outcome.model, outcome.macs_after, out / PRUNED / WEIGHTS, right_after),
        finetuned=Stage(count_parameters(final_model), outcome.macs_after, (out / RESULT / WEIGHTS).stat().st_size,
                        after.top1, after.top5, latency[1]),
        baseline=baseline, finetune_epochs=config.finetune_epochs, max_drop=config.max_drop,
        threads=resolve_threads(config.threads), finetune=finetune, trials=outcome.trials,
        recalibrated_images=recalibrated,
    )
    write_report(out, report, config.to_dict())
    log.info("pruned model: %s (accuracy rule %s)", out / RESULT, report.accuracy_rule)
    return report


def _removed(architecture: str, outcome: PruneOutcome) -> tuple[str, ...]:
    """What this run removed, for the report: whole blocks and/or the recipe's channels."""
    blocks = (f"{len(outcome.depth.removed)} residual block(s)",) if outcome.depth else ()
    return blocks + (get_recipe(architecture).notes if outcome.trials else ())


def _first_image(data: EvalData) -> Any:
    from PIL import Image

    with Image.open(data.samples[0].path) as im:
        return im.convert("RGB")


def write_report(out: Path, report: PruneReport, config: dict[str, Any]) -> Path:
    """Store the report as metrics of DIR/checkpoint (with the accuracy rule) and as DIR/prune.json."""
    from seefood.checkpoint import read_meta

    result = out / RESULT
    meta = read_meta(result)
    metrics = {**meta.metrics, "prune": report.to_dict(), "accuracy_rule": report.accuracy_rule}
    update_meta(result, meta.evolve(metrics=to_jsonable(metrics)))
    return atomic_write_json(out / PRUNE_JSON, {**report.to_dict(), "config": config})
