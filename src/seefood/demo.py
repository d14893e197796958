"""The main job on the bundled default: sample data -> train -> export (int8) -> bench -> pick -> Space.

`seefood demo` runs it; every stage is the same library call the individual commands make, so the
demo is the whole product in miniature: EfficientNet-Lite2 from its packaged ImageNet weights, briefly
fine-tuned on generated pictures at a small input size (a few minutes on a 2-core CPU).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from seefood.errors import OutputExistsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo; the defaults are the bundled main job."""

    out: Path = Path("runs/demo")  # everything goes under this folder
    model: str = "effnet_lite2"  # model registry key (tiny: an untrained 4-block CNN, seconds per epoch)
    weights: str = "auto"  # the model's ImageNet weights where it has them (Lite2: a pip-packaged file), else none
    image_size: int | None = 112  # input size (the generated pictures are 96 px; None: the model's own)
    epochs: int = 3  # training epochs in all
    head_epochs: int | None = None  # head-only epochs first; None: 1 with pretrained weights, else 0
    lr: float = 3e-3  # peak learning rate (the backbone gets a fifth of it after the head epochs)
    per_class_train: int = 60  # generated training images per class
    per_class_test: int = 50  # generated test images per class (>= 200 in all, for parity)
    batch_sizes: tuple[int, ...] = (1, 8)
    threads: int | None = None  # runtime/training threads; None: every core
    max_drop: float = 1.0  # pick: top-1 points an artifact may lose against fp32
    force: bool = False  # replace an existing demo folder
    seed: int = 0


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs."""

    data: Path
    checkpoint: Path
    export_dir: Path
    report: Path
    decision: Path | None
    space: Path | None
    test_top1: float | None
    explanation: str  # why pick chose (or could not choose) an artifact


def run_demo(config: DemoConfig) -> DemoResult:
    """Run every stage in order; a stage that fails raises, and earlier outputs stay on disk."""
    from seefood.bench import BenchConfig, PickRules, pick, run_bench
    from seefood.bench.config import default_threads
    from seefood.data.sample import make_sample_dataset
    from seefood.export.config import ExportConfig
    from seefood.export.pipeline import run_export
    from seefood.models import get_spec
    from seefood.space.card import SPACE_FORMATS
    from seefood.train.config import TrainConfig
    from seefood.train.loop import train

    out = Path(config.out)
    if out.exists() and any(out.iterdir()) and not config.force:
        raise OutputExistsError(f"{out} is not empty: pass --force to run the demo again there, or use --out")
    data = out / "data"
    if not (data / "train").is_dir() or config.force:
        log.info("[1/6] generating the sample dataset in %s", data)
        make_sample_dataset(data, per_class_train=config.per_class_train, per_class_test=config.per_class_test,
                            seed=config.seed, overwrite=True)
    spec = get_spec(config.model)
    weights = config.weights if config.weights != "auto" else ("imagenet" if spec.has_pretrained else "none")
    head_epochs = config.head_epochs if config.head_epochs is not None else int(weights != "none")
    log.info("[2/6] training %s (%s weights) for %d epochs", config.model, weights, config.epochs)
    result = train(TrainConfig(
        model=config.model, weights=weights, image_size=config.image_size, data=str(data), epochs=config.epochs,
        head_epochs=head_epochs, backbone_lr_scale=0.2 if head_epochs else 1.0, batch_size=32, lr=config.lr,
        augment="none", warmup_epochs=1.0 if not head_epochs else 0.5, workers=0, seed=config.seed, patience=None,
        out=str(out / "train"), force=True, threads=config.threads,
    ))
    log.info("[3/6] exporting every CPU format with int8")
    export_dir = out / "export"
    run_export(ExportConfig(
        checkpoint=result.best, out=export_dir, int8=True, calib_size=200, parity_data=data,
        threads=config.threads, force=True, seed=config.seed,
    ))
    log.info("[4/6] benchmarking on the CPU")
    report = out / "report"
    run_bench(BenchConfig(
        export_dirs=(export_dir,), data=data, out=report, batch_sizes=config.batch_sizes, force=True,
        min_runs=20, min_time_s=1.0, threads=config.threads or default_threads(),
    ))
    log.info("[5/6] picking the deploy target")
    # the demo ships a torch-free Space, so it picks among the formats a Space can serve
    decision = pick(report, PickRules(device="cpu", max_drop=config.max_drop, batch_size=min(config.batch_sizes),
                                      formats=tuple(SPACE_FORMATS)))
    decision_path = report / "decision.json" if decision.chosen is not None else None
    space = None
    if decision_path is not None:
        space = _build_space(decision_path, out / "space")
    return DemoResult(
        data=data, checkpoint=result.best, export_dir=export_dir, report=report, decision=decision_path,
        space=space, test_top1=result.test_top1, explanation=decision.explain(),
    )


def _build_space(decision: Path, out: Path) -> Path | None:
    """Build the Space from the decision; a torch-only pick cannot ship as a torch-free Space."""
    from seefood.errors import SeefoodError
    from seefood.space.builder import SpaceConfig, build_space

    log.info("[6/6] building the Hugging Face Space in %s", out)
    try:
        return build_space(SpaceConfig(decision=decision, out=out, force=True)).path
    except SeefoodError as exc:
        log.warning("no Space built: %s", exc)
        return None
