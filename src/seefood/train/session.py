"""Everything one training run holds: data, model, optimizer, loaders, TensorBoard; built once per process."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from seefood.checkpoint import WEIGHTS, load_train_state, read_meta, save_checkpoint, update_meta
from seefood.errors import CheckpointError, DataError
from seefood.io import atomic_dir
from seefood.metadata import ModelMeta
from seefood.models.shape_plan import apply_shape_plan, checkpoint_shape_plan
from seefood.preprocessing import Preprocessing
from seefood.train.config import TrainConfig
from seefood.train.distributed import DistEnv, barrier
from seefood.train.evaluation import write_report
from seefood.train.figures import confusion_figure, predictions_grid
from seefood.train.loaders import eval_loader, spread_images, train_loader
from seefood.train.metrics import EvalMetrics
from seefood.train.optim import make_optimizer, make_scheduler
from seefood.train.rundir import BEST, LAST, TB, TEST
from seefood.train.state import Progress, unpack_train_state
from seefood.train.tensorboard import TensorBoardLog
from seefood.versions import library_versions

log = logging.getLogger(__name__)
GRID_IMAGES = 16  # validation images shown with their predictions in TensorBoard


class Session:
    """The live objects of a run and the file writes around them (only the main process writes)."""

    def __init__(self, config: TrainConfig, env: DistEnv, device: torch.device, out: Path) -> None:
        from seefood.data import ImageDataset, eval_transform, train_transform
        from seefood.models import create_model, get_spec

        self.config, self.env, self.device, self.out = config, env, device, out
        self.splits = _load_splits(config, env)
        spec = get_spec(config.model)
        size = config.image_size or spec.preprocessing.crop
        self.pre: Preprocessing = spec.preprocessing if size == spec.preprocessing.crop else spec.preprocessing.with_size(size)
        self.num_classes = self.splits.num_classes
        # a resumed run takes its weights from last/, so ImageNet weights are not fetched again
        weights = "none" if config.resume else config.weights
        # a pruned checkpoint (as --weights, or the run's own last/) rebuilds its smaller layers from its shape plan
        self.shape_plan, self.sparsity = checkpoint_shape_plan(out / LAST if config.resume else config.weights)
        if self.shape_plan:
            model = apply_shape_plan(create_model(config.model, self.num_classes, "none", config.freeze, size),
                                     self.shape_plan)
        else:
            model = create_model(config.model, self.num_classes, weights, config.freeze, size)
        self.model: nn.Module = model.to(device)
        if self.shape_plan and not config.resume:
            self.load_weights(Path(config.weights))
        self.channels_last = config.channels_last  # CNNs train ~2x faster NHWC on the CPU too (oneDNN)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.teacher: nn.Module | None = None
        if config.teacher:
            from seefood.train.distill import load_teacher

            self.teacher = load_teacher(config.teacher, self.splits.class_names, self.pre, device, self.channels_last)
        pin = device.type == "cuda"
        train_pre = self.pre.with_size(config.train_size) if config.train_size else self.pre
        self.train_loader, self.sampler = train_loader(
            ImageDataset(self.splits.train, train_transform(train_pre, config.augment, (config.crop_scale, 1.0))),
            config.batch_size, config.workers, pin, config.seed, env,
        )
        val_set = ImageDataset(self.splits.val, eval_transform(self.pre))
        self.val_loader = eval_loader(val_set, config.batch_size, config.workers, pin, env)
        self.test_loader = (
            eval_loader(ImageDataset(self.splits.test, eval_transform(self.pre)), config.batch_size, config.workers,
                        pin, env)
            if self.splits.test else None
        )
        self.grid = spread_images(val_set, GRID_IMAGES) if env.is_main else (torch.empty(0), [])
        self.head_prefixes = spec.head_prefixes
        self.optimizer = make_optimizer(self.model, config.lr, config.weight_decay, spec.head_prefixes,
                                        config.backbone_lr_scale)
        self.scheduler = make_scheduler(self.optimizer, len(self.train_loader), config.epochs, config.warmup_epochs,
                                        config.head_epochs)
        self.trainable = {name for name, p in self.model.named_parameters() if p.requires_grad}
        self.phase = "all"
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.amp == "fp16")
        self.progress = Progress(epoch=0, global_step=0, best_top1=-1.0, best_epoch=0, bad_epochs=0)
        if config.resume:
            self._resume()
        self.train_net = self._wrap(self.model)
        self.tb = TensorBoardLog(out / TB, enabled=env.is_main, purge_step=self.progress.global_step)
        if env.is_main and not config.resume:
            self.save(LAST, self.meta({"epoch": 0}), self._boundary_state())  # Ctrl-C in epoch 1 can resume too

    def start_training(self, epoch: int) -> str:
        """Put the model in training mode for `epoch`: 'head' (frozen backbone) or 'all'; returns the phase."""
        phase = "head" if epoch <= self.config.head_epochs else "all"
        if phase != self.phase:
            for name, param in self.model.named_parameters():
                param.requires_grad = name in self.trainable and (phase == "all" or name.startswith(self.head_prefixes))
            self.phase = phase
            if self.env.enabled:  # DDP fixes its parameter set when built: wrap again for the new phase
                self.train_net = self._wrap(self.model)
            log.info("epoch %d trains %s", epoch, "the head only (backbone frozen)" if phase == "head" else "every layer")
        self.train_net.train()
        if phase == "head" or self.config.freeze_bn:
            # a frozen backbone keeps its pretrained BatchNorm statistics (and dropout off) too
            for name, module in self.model.named_modules():
                in_backbone = bool(name) and not f"{name}.".startswith(self.head_prefixes)
                if (phase == "head" and in_backbone) or isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return phase

    def _wrap(self, model: nn.Module) -> nn.Module:
        """DDP across processes, then torch.compile (so the compiler sees DDP's buckets)."""
        net = model
        if self.env.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            net = DistributedDataParallel(model, device_ids=ids)
        if self.config.compile:
            net = torch.compile(net)  # type: ignore[assignment]
        return net

    def _boundary_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        from seefood.train.state import pack_train_state

        return pack_train_state(self.optimizer, self.scheduler, self.scaler, self.progress)

    def _resume(self) -> None:
        last = self.out / LAST
        meta = read_meta(last)
        if meta.architecture != self.config.model or meta.class_names != self.splits.class_names:
            raise CheckpointError(
                f"{last} is a {meta.architecture} for {meta.num_classes} classes, but this run builds "
                f"{self.config.model} for {self.num_classes}: resume with the run's own --model and --data"
            )
        self.load_weights(last)
        tensors, plain = load_train_state(last)
        self.progress = unpack_train_state(tensors, plain, self.optimizer, self.scheduler, self.scaler)
        log.info("resuming %s after epoch %d (step %d)", self.out, self.progress.epoch, self.progress.global_step)

    def load_weights(self, folder: Path) -> None:
        """Load a checkpoint's weights into the (unwrapped) model."""
        try:
            self.model.load_state_dict(load_file(str(folder / WEIGHTS), device=str(self.device)), strict=True)
        except Exception as exc:  # safetensors and load_state_dict raise several unrelated types
            raise CheckpointError(f"{folder / WEIGHTS} does not fit this model ({exc}); resume with the run's "
                                  f"own settings or start a new run") from exc

    def meta(self, metrics: dict[str, Any]) -> ModelMeta:
        """Checkpoint metadata: architecture, classes, preprocessing, metrics, config, versions, data."""
        return ModelMeta(
            architecture=self.config.model, class_names=self.splits.class_names, preprocessing=self.pre,
            sparsity=self.sparsity, shape_plan=self.shape_plan, metrics=dict(metrics), config=self.config.to_dict(),
            versions=library_versions(),
            data_fingerprint=self.splits.fingerprint, extra={"data_source": self.splits.source},
        )

    def save(self, name: str, meta: ModelMeta, state: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None) -> None:
        """Write OUT/<name> atomically."""
        save_checkpoint(self.out / name, self.model, meta, train_state=state)

    def log_epoch(self, epoch: int, stats: dict[str, float], val: EvalMetrics) -> None:
        """Epoch scalars, the confusion matrix and a predictions grid to TensorBoard, one log line."""
        lr = self.optimizer.param_groups[0]["lr"]
        self.tb.epoch(epoch, {
            "train_loss": stats["loss"], "train_accuracy": stats["accuracy"], "val_loss": val.loss,
            "val_accuracy": val.top1, "val_top5": val.top5, "lr": lr, "images_per_sec": stats["images_per_sec"],
        })
        names = self.splits.class_names
        self.tb.figure("val/confusion_matrix", confusion_figure(val.confusion, names, f"epoch {epoch}"), epoch)
        images, labels = self.grid
        if labels:
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                batch = images.to(self.device)
                if self.channels_last:
                    batch = batch.contiguous(memory_format=torch.channels_last)
                preds = self.model(batch).argmax(1).tolist()
            self.model.train(was_training)
            self.tb.image("val/predictions", predictions_grid(images.numpy(), labels, preds, names, self.pre), epoch)
        self.tb.flush()
        log.info("epoch %d/%d: train loss %.4f acc %.2f%% | val loss %.4f top-1 %.2f%% top-5 %.2f%% | %.0f img/s",
                 epoch, self.config.epochs, stats["loss"], 100 * stats["accuracy"], val.loss, 100 * val.top1,
                 100 * val.top5, stats["images_per_sec"])

    def record_test(self, test: EvalMetrics) -> None:
        """Write OUT/test/ (eval.json + confusion.png) and add the test metrics to best's metadata."""
        best = self.out / BEST
        meta = read_meta(best)
        meta = meta.evolve(metrics={**meta.metrics, "test_top1": test.top1, "test_top5": test.top5,
                                    "test_loss": test.loss, "test_count": test.count})
        update_meta(best, meta)

        info = {"checkpoint": str(best.resolve()), "architecture": self.config.model, "data": self.config.data,
                "source": self.splits.source, "data_fingerprint": self.splits.fingerprint, "split": "test",
                "device": str(self.device), "preprocessing": self.pre.to_dict()}
        with atomic_dir(self.out / TEST, overwrite=True) as tmp:
            write_report(tmp, test, self.splits.class_names, info)
        log.info("best (epoch %d) on test: top-1 %.2f%%, top-5 %.2f%% over %d images", self.progress.best_epoch,
                 100 * test.top1, 100 * test.top5, test.count)


def _load_splits(config: TrainConfig, env: DistEnv) -> Any:
    """Load the data on the main process first (it may generate or download it), then on the others."""
    from seefood.data import load_data

    def load() -> Any:
        return load_data(
            config.data, root=Path(config.data_root) if config.data_root else None, subset=config.subset,
            classes=config.classes, seed=config.seed, val_fraction=config.val_fraction, strict=config.strict_data,
        )

    splits = load() if env.is_main else None
    barrier(env)
    splits = splits if splits is not None else load()
    if not splits.train or not splits.val:
        raise DataError(
            f"{splits.source} has {len(splits.train)} training and {len(splits.val)} validation images: need both; "
            f"add images or raise --val-fraction"
        )
    return splits


def build_session(config: TrainConfig, env: DistEnv, device: torch.device, out: Path) -> Session:
    """Build a run's data, model, optimizer and loaders (and restore them from last/ when resuming)."""
    return Session(config, env, device, out)
