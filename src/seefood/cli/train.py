"""`seefood train` / `seefood-train`: options -> TrainConfig -> library.

Multi-GPU: `torchrun --nproc_per_node N $(which seefood-train) --model effnet_b2 ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seefood.cli.common import cli_errors, console, existing, make_console, setup_logging
from seefood.train.config import AMP_MODES, DEVICES, TrainConfig, resume_config

_T = TrainConfig()
stdout = make_console()


def _d(default: Any) -> str:
    """How a TrainConfig default is shown in --help (the options themselves default to None: 'not given')."""
    return "off" if default is None else str(default)


def _overrides(**options: Any) -> dict[str, Any]:
    """Options the user gave (not None), converted to TrainConfig field values."""
    given = {k: v for k, v in options.items() if v is not None}
    if "classes" in given:
        given["classes"] = tuple(c.strip() for c in given["classes"].split(",") if c.strip())
    for name in ("grad_clip", "patience"):  # 0 switches these off
        if given.get(name) == 0:
            given[name] = None
    if given.get("freeze") == "none":
        given["freeze"] = None
    if "resume" in given:
        given["resume"] = str(given["resume"])
    for name in ("out", "data_root", "teacher"):
        if name in given:
            given[name] = str(given[name])
    return given


@cli_errors
def train_command(
    model: Annotated[str | None, typer.Option(help="Model registry key (seefood.models)", show_default=_d(_T.model))] = None,
    weights: Annotated[str | None, typer.Option(help="auto (imagenet if the model has it), none, imagenet or a local weights PATH", show_default=_d(_T.weights))] = None,
    freeze: Annotated[str | None, typer.Option(help="backbone: train only the head; none: everything", show_default="none")] = None,
    image_size: Annotated[int | None, typer.Option(help="Input size", show_default="the model's crop")] = None,
    train_size: Annotated[int | None, typer.Option(help="Training crop size (CNNs: smaller trains faster)", show_default="--image-size")] = None,
    crop_scale: Annotated[float | None, typer.Option(help="Smallest area share a random crop keeps", show_default=_d(_T.crop_scale))] = None,
    head_epochs: Annotated[int | None, typer.Option(help="First epochs train only the head (frozen backbone)", show_default=_d(_T.head_epochs))] = None,
    backbone_lr_scale: Annotated[float | None, typer.Option(help="Backbone LR as a fraction of --lr", show_default=_d(_T.backbone_lr_scale))] = None,
    freeze_bn: Annotated[bool | None, typer.Option(
        "--freeze-bn/--no-freeze-bn", help="Keep BatchNorm statistics fixed", show_default=_d(_T.freeze_bn))] = None,
    teacher: Annotated[Path | None, typer.Option(help="Distil from this checkpoint folder (same classes)", show_default="none")] = None,
    distill_alpha: Annotated[float | None, typer.Option(help="Weight of the teacher's soft targets", show_default=_d(_T.distill_alpha))] = None,
    distill_temperature: Annotated[float | None, typer.Option(help="Distillation softmax temperature", show_default=_d(_T.distill_temperature))] = None,
    data: Annotated[str | None, typer.Option(help="Photos to train on: sample, food101, or a folder of <class>/ sub-folders (15 % held out for test) or "
             "with train/ and test/", show_default=_d(_T.data))] = None,
    data_root: Annotated[Path | None, typer.Option(help="Dataset cache folder", show_default="~/.cache/seefood")] = None,
    subset: Annotated[float | None, typer.Option(help="Keep this fraction of every class", show_default="all")] = None,
    classes: Annotated[str | None, typer.Option(help="Comma-separated class names to keep", show_default="all")] = None,
    val_fraction: Annotated[float | None, typer.Option(help="Validation share of train", show_default=_d(_T.val_fraction))] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs", show_default=_d(_T.epochs))] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step per process", show_default=_d(_T.batch_size))] = None,
    lr: Annotated[float | None, typer.Option(help="Peak AdamW learning rate", show_default=_d(_T.lr))] = None,
    weight_decay: Annotated[float | None, typer.Option(help="AdamW weight decay", show_default=_d(_T.weight_decay))] = None,
    warmup_epochs: Annotated[float | None, typer.Option(help="Linear warm-up epochs", show_default=_d(_T.warmup_epochs))] = None,
    label_smoothing: Annotated[float | None, typer.Option(help="Label smoothing", show_default=_d(_T.label_smoothing))] = None,
    grad_clip: Annotated[float | None, typer.Option(help="Max gradient norm, 0: off", show_default=_d(_T.grad_clip))] = None,
    augment: Annotated[str | None, typer.Option(help="trivial, randaugment or none", show_default=_d(_T.augment))] = None,
    amp: Annotated[str | None, typer.Option(help=f"Mixed precision: {', '.join(AMP_MODES)}", show_default=_d(_T.amp))] = None,
    channels_last: Annotated[bool | None, typer.Option(
        "--channels-last/--no-channels-last", help="NHWC memory layout", show_default=_d(_T.channels_last))] = None,
    compile: Annotated[bool | None, typer.Option(
        "--compile/--no-compile", help="torch.compile the model", show_default=_d(_T.compile))] = None,
    device: Annotated[str | None, typer.Option(help=", ".join(DEVICES), show_default=_d(_T.device))] = None,
    workers: Annotated[int | None, typer.Option(help="DataLoader workers", show_default=_d(_T.workers))] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed", show_default=_d(_T.seed))] = None,
    patience: Annotated[int | None, typer.Option(help="Early-stopping epochs, 0: off", show_default=_d(_T.patience))] = None,
    strict_data: Annotated[bool | None, typer.Option(
        "--strict-data/--no-strict-data", help="Fail on unreadable images", show_default=_d(_T.strict_data))] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder", show_default=_d(_T.out))] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this folder (its saved settings)")] = None,
    force: Annotated[bool | None, typer.Option("--force", help="Start over in a non-empty --out")] = None,
    threads: Annotated[int | None, typer.Option(
        help="torch CPU threads", show_default="every core this process may use")] = None,
    log_every: Annotated[int | None, typer.Option(help="Steps between step logs", show_default=_d(_T.log_every))] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging")] = False,
) -> None:
    """Fine-tune a model; writes config.json, best/, last/, tb/, test/ and result.json into --out.

    [bold]Examples[/]

    seefood train --model effnet_lite2 --weights imagenet --data my_photos/ --epochs 10 --out runs/mine
    seefood train --resume runs/mine --epochs 15
    """
    from seefood.train.distributed import detect
    from seefood.train.loop import train
    from seefood.train.progress import summary_table

    setup_logging(verbose)
    given = _overrides(
        model=model, weights=weights, freeze=freeze, image_size=image_size, train_size=train_size,
        crop_scale=crop_scale, head_epochs=head_epochs, backbone_lr_scale=backbone_lr_scale, freeze_bn=freeze_bn,
        teacher=teacher, distill_alpha=distill_alpha, distill_temperature=distill_temperature, data=data, data_root=data_root,
        subset=subset, classes=classes, val_fraction=val_fraction, epochs=epochs, batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, warmup_epochs=warmup_epochs, label_smoothing=label_smoothing, grad_clip=grad_clip,
        augment=augment, amp=amp, channels_last=channels_last, compile=compile, device=device, workers=workers,
        seed=seed, patience=patience, strict_data=strict_data, out=out, force=force, threads=threads,
        log_every=log_every,
    )
    if resume is not None:
        given.setdefault("out", str(resume))
        config = resume_config(resume, **given)
    else:
        config = TrainConfig(**given)
    _check_arguments(config)
    result = train(config, console=console)
    if detect().is_main:
        stdout.print(summary_table(result))


def _check_arguments(config: TrainConfig) -> None:
    """The model and weights the command line names, checked before the data is scanned (a bad one: exit 2)."""
    from seefood.errors import ConfigError, ModelError
    from seefood.models import get_spec

    try:
        get_spec(config.model)
    except ModelError as exc:
        raise ConfigError(str(exc)) from None
    if config.weights not in ("auto", "none", "imagenet") and not config.resume:
        existing(Path(config.weights).expanduser(), "--weights",
                 "auto, none, imagenet, or a .pth / .safetensors file or a checkpoint folder")


def register(app: typer.Typer) -> None:
    """Add the train command to the main app (`seefood evaluate` lives in cli/evaluate.py)."""
    app.command("train")(train_command)


def main() -> None:
    """Entry point of the `seefood-train` console script (also what torchrun launches)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(train_command)
    app()


if __name__ == "__main__":
    main()
