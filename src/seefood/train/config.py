"""TrainConfig: the one place for training defaults; saved resolved as OUT/config.json."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seefood.errors import ConfigError

if TYPE_CHECKING:
    from seefood.models.registry import ModelSpec

log = logging.getLogger(__name__)

AMP_MODES = ("auto", "bf16", "fp16", "off")
DEVICES = ("auto", "cpu", "cuda")
FREEZE_MODES = (None, "backbone")
EVAL_SPLITS = ("train", "val", "test", "all")  # all: every image of the data, whatever its split
CONFIG_FILE = "config.json"
# settings that may change when resuming without changing what the run computes
RESUME_SAFE = frozenset({"epochs", "patience", "device", "workers", "threads", "log_every", "resume", "out", "force"})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; CLI options map 1:1 onto these fields."""

    model: str = "effnet_b2"  # model registry key: effnet_b2, effnet_lite2, vit_b16, tiny, timm/NAME
    # "auto" (imagenet when the model has pretrained weights, else none), "none" (random init), "imagenet"
    # (the registry's source: torchvision/timm download, or a pip-packaged file) or a local PATH (.pth,
    # .safetensors, checkpoint)
    weights: str = "auto"
    freeze: str | None = None  # None: fine-tune everything; "backbone": train only the classifier head
    image_size: int | None = None  # model input size (eval and checkpoint); None: the architecture's default crop
    train_size: int | None = None  # training crop size (smaller trains faster; CNNs then test well larger); None: image_size
    crop_scale: float = 0.08  # smallest share of a photo's area that a RandomResizedCrop keeps
    # the small-data recipe: this many first epochs train only the head on the frozen backbone (its
    # BatchNorm statistics fixed), then the whole network trains with the backbone at lr x backbone_lr_scale
    head_epochs: int = 0
    backbone_lr_scale: float = 1.0  # backbone learning rate as a fraction of --lr (the head keeps --lr)
    freeze_bn: bool = False  # keep every BatchNorm's running statistics fixed (the pretrained ones) throughout
    # knowledge distillation (seefood.train.distill): a checkpoint folder whose soft predictions join the labels
    teacher: str | None = None
    distill_alpha: float = 0.7  # weight of the teacher's soft targets; the labels' cross-entropy gets 1 - alpha
    distill_temperature: float = 2.0  # softmax temperature of both logit sets in the distillation term
    data: str = "food101"  # data spec: "sample" (generated), "food101", or an ImageFolder PATH
    data_root: str | None = None  # where datasets are cached/downloaded (None: seefood.data's default)
    subset: float | None = None  # keep this seeded fraction of every class, 0 < f <= 1 (None: all images)
    classes: tuple[str, ...] | None = None  # train on these class names only (None: all)
    val_fraction: float = 0.1  # share of each class's training images held out for validation
    epochs: int = 10  # full passes over the training split
    batch_size: int = 32  # images per step per process (global batch = batch_size x processes)
    lr: float = 1e-3  # peak AdamW learning rate, reached after warm-up
    weight_decay: float = 0.05  # AdamW decoupled weight decay (not applied to biases and norms)
    warmup_epochs: float = 1.0  # linear warm-up length before the per-step cosine decay
    label_smoothing: float = 0.1  # cross-entropy label smoothing
    grad_clip: float | None = 1.0  # clip the global gradient norm to this (None: no clipping)
    augment: str = "trivial"  # training augmentation recipe of seefood.data.train_transform
    amp: str = "auto"  # mixed precision: auto (bf16 on CUDA when supported, else fp16; off on CPU), bf16, fp16, off
    channels_last: bool = True  # NHWC memory layout (CUDA and CPU: EfficientNet-Lite2 fwd+bwd 1.8x faster on 2 cores)
    compile: bool = False  # wrap the model in torch.compile
    device: str = "auto"  # auto (CUDA when available), cpu, cuda
    workers: int = 4  # DataLoader worker processes (0: load in the main process)
    seed: int = 0  # seeds torch, numpy, random, the data split, shuffling and augmentation
    patience: int | None = 5  # stop after this many epochs without a better val top-1 (None: never)
    strict_data: bool = False  # fail on the first unreadable image instead of skipping it
    out: str = "runs/train"  # run folder: config.json, last/, best/, tb/, test/, result.json
    resume: str | None = None  # a run folder (or its last/) to continue from
    force: bool = False  # start over in a non-empty --out (removes its previous run files)
    threads: int | None = None  # torch intra-op CPU threads (None: seefood.threads.default_threads())
    log_every: int = 10  # steps between progress/TensorBoard step logs

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (0 <= self.head_epochs < self.epochs or (self.head_epochs == self.epochs and self.freeze == "backbone"),
             f"--head-epochs must be >= 0 and below --epochs ({self.epochs}), got {self.head_epochs}"),
            (0 < self.backbone_lr_scale <= 1, f"--backbone-lr-scale must be in (0, 1], got {self.backbone_lr_scale}"),
            (0 < self.distill_alpha <= 1, f"--distill-alpha must be in (0, 1], got {self.distill_alpha}"),
            (self.distill_temperature > 0, f"--distill-temperature must be > 0, got {self.distill_temperature}"),
            (0 < self.crop_scale <= 1, f"--crop-scale must be in (0, 1], got {self.crop_scale}"),
            (self.train_size is None or self.train_size >= 8, f"--train-size must be >= 8, got {self.train_size}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}"),
            (self.warmup_epochs >= 0, f"--warmup-epochs must be >= 0, got {self.warmup_epochs}"),
            (0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.grad_clip is None or self.grad_clip > 0, f"--grad-clip must be > 0, got {self.grad_clip}"),
            (self.amp in AMP_MODES, f"--amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}"),
            (self.device in DEVICES, f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}"),
            (self.freeze in FREEZE_MODES, f"--freeze must be 'backbone' or left out, got {self.freeze!r}"),
            (self.workers >= 0, f"--workers must be >= 0, got {self.workers}"),
            (self.patience is None or self.patience >= 1, f"--patience must be >= 1, got {self.patience}"),
            (self.image_size is None or self.image_size >= 8, f"--image-size must be >= 8, got {self.image_size}"),
            (self.subset is None or 0 < self.subset <= 1, f"--subset must be a fraction in (0, 1], got {self.subset}"),
            (0 < self.val_fraction < 1, f"--val-fraction must be in (0, 1), got {self.val_fraction}"),
            (self.threads is None or self.threads >= 1, f"--threads must be >= 1, got {self.threads}"),
            (self.log_every >= 1, f"--log-every must be >= 1, got {self.log_every}"),
        ]
        problems = [msg for ok, msg in checks if not ok]
        if problems:
            raise ConfigError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes) if self.classes is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of to_dict; unknown keys are an error that names them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown training settings {unknown}: remove them (known: {', '.join(sorted(names))})")
        values = dict(d)
        if values.get("classes") is not None:
            values["classes"] = tuple(values["classes"])
        return cls(**values)

    def evolve(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate (the data spec, checkpoint and output folder are arguments of `evaluate`)."""

    # which images to evaluate: train, val, test or all; None: a flat <class>/ folder whole (it has no test split of
    # its own), a dataset with a test/ folder (or sample, food101) its test split
    split: str | None = None
    data_root: str | None = None  # dataset cache folder (None: seefood.data's default)
    seed: int = 0  # the data split seed; use the training run's seed for --split val
    val_fraction: float = 0.1  # as in training, so --split val/train select the same images
    strict_data: bool = False  # fail on the first unreadable image instead of skipping it
    batch_size: int = 64  # images per forward pass
    device: str = "auto"  # auto (CUDA when available), cpu, cuda
    workers: int = 2  # DataLoader worker processes (0: load in the main process)
    threads: int | None = None  # torch intra-op CPU threads (None: seefood.threads.default_threads())
    force: bool = False  # replace an existing output folder

    def __post_init__(self) -> None:
        if self.split is not None and self.split not in EVAL_SPLITS:
            raise ConfigError(f"--split must be one of {', '.join(EVAL_SPLITS)}, got {self.split!r}")
        if self.batch_size < 1 or self.workers < 0:
            raise ConfigError("--batch-size must be >= 1 and --workers >= 0")


def resolve_device(requested: str) -> str:
    """auto -> cuda when available, else cpu; cuda without a GPU is an error."""
    import torch

    from seefood.errors import BackendMissingError

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise BackendMissingError(
            "CUDA", reason=f"torch {torch.__version__} sees no CUDA GPU here",
            fix="pass --device cpu (or --device auto: CUDA when there is one, else the CPU)")
    return requested


def resolve_amp(requested: str, device: str) -> str:
    """auto -> bf16 (or fp16 on GPUs without bf16) on CUDA, off on CPU; fp16 on CPU is an error."""
    import torch

    if requested == "auto":
        if device != "cuda":
            return "off"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested == "fp16" and device != "cuda":
        raise ConfigError("--amp fp16 needs CUDA: use --amp bf16 or --amp off on the CPU")
    return requested


def resolve(config: TrainConfig, spec: ModelSpec) -> TrainConfig:
    """The config with auto values made concrete (device, amp, weights, image size): what config.json records."""
    device = resolve_device(config.device)
    weights = config.weights
    if weights == "auto":
        weights = "imagenet" if spec.has_pretrained else "none"
    return config.evolve(
        device=device, amp=resolve_amp(config.amp, device), weights=weights,
        image_size=config.image_size or spec.preprocessing.crop,
    )


def resume_config(run_dir: str | Path, **overrides: Any) -> TrainConfig:
    """The saved config of `run_dir` with `overrides` applied, set to resume there.

    Changing a setting outside RESUME_SAFE is allowed but logged: the continued run then differs
    from one that was never interrupted.
    """
    from seefood.io import read_json

    run = run_dir_of(run_dir)
    if not (run / CONFIG_FILE).is_file():
        raise ConfigError(f"{run} has no {CONFIG_FILE}: --resume needs a run folder written by `seefood train`")
    saved = TrainConfig.from_dict(read_json(run / CONFIG_FILE))
    changed = {k: v for k, v in overrides.items() if getattr(saved, k) != v}
    risky = sorted(k for k in changed if k not in RESUME_SAFE)
    if risky:
        log.warning("resuming with changed %s: the run will not match an uninterrupted one", ", ".join(risky))
    return saved.evolve(**changed, resume=str(run), out=str(run), force=False)


def run_dir_of(path: str | Path) -> Path:
    """The run folder for a --resume value (the folder itself or its last/ checkpoint)."""
    path = Path(path)
    return path.parent if path.name == "last" and (path / "meta.json").is_file() else path
