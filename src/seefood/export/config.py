"""ExportConfig: every setting of `seefood export`, with its default and a comment, in one place."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from seefood.errors import ConfigError
from seefood.export import recipes as recipe_tables
from seefood.formats import export_formats
from seefood.threads import resolve_threads

BATCH_CHOICES = ("1", "dynamic")
DEVICE_CHOICES = ("cpu", "cuda")


@dataclass(frozen=True)
class PruneOptions:
    """What `seefood export --prune` asks of seefood.prune before exporting (the rest of seefood prune's settings
    keep their defaults; export's threads, seed, --max-drop and --force are shared)."""

    ratio: float  # --prune: fraction of the parameters channel pruning removes (0 with drop_blocks: blocks only)
    data: str | None = None  # --data: what it fine-tunes and measures on (None: the checkpoint's data)
    finetune_epochs: int = 3  # --finetune-epochs: recovery fine-tuning epochs
    drop_blocks: int = 0  # --drop-blocks: whole residual blocks removed before the channels

    def problems(self) -> list[str]:
        """What is wrong with these settings (empty: nothing)."""
        problems = []
        if not (0 <= self.ratio < 1 and (self.ratio > 0 or self.drop_blocks > 0)):
            problems.append(f"--prune is the fraction of parameters to remove, between 0 and 1 (0 only with "
                            f"--drop-blocks), got {self.ratio}")
        if self.drop_blocks < 0:
            problems.append(f"--drop-blocks must be >= 0, got {self.drop_blocks}")
        if self.finetune_epochs < 0:
            problems.append(f"--finetune-epochs must be >= 0, got {self.finetune_epochs}")
        return problems


@dataclass(frozen=True)
class ExportConfig:
    """What to export, where, and how strictly to check it."""

    checkpoint: Path  # a checkpoint folder written by `seefood train` (model.safetensors + meta.json)
    out: Path  # EXPORT_DIR; one sub-folder per artifact, failed ones under failed/
    formats: tuple[str, ...] | None = None  # format registry keys (seefood.formats); None: every one installed here
    fp16: bool = False  # also export fp16 variants where the format and device support them
    int8: bool = False  # also quantise to int8 (recipes from seefood.export.quantize)
    # --int8-recipe: only these int8 recipe names (seefood.export.quantize.INT8_RECIPES), in registry order;
    # None: every recipe of each format, default first, remedies after
    int8_recipes: tuple[str, ...] | None = None
    calib_data: Path | None = None  # training images for int8 calibration; None: the checkpoint's dataset
    calib_size: int = 300  # calibration images (seeded, class-stratified)
    parity_data: Path | None = None  # labelled photos (test/<class>/* or <class>/*); None: checkpoint's test split
    parity_size: int = 400  # at most this many parity images (seeded sample when there are more)
    min_parity_images: int = 200  # fewer parity images than this is an error: agreement would be noise
    batch: str = "dynamic"  # "1" (static batch of one) or "dynamic" (any batch size)
    device: str = "cpu"  # where to export and check: cpu or cuda
    # the parity gate (seefood.export.parity.ParityThresholds): every artifact must (a) lose at most max_drop
    # top-1 points on the parity photos and (b) agree with the fp32 model on >= min_confident_agreement of the
    # photos where the fp32 model's top-1 probability is >= confident_prob; where fewer than min_confident
    # photos are that confident (a near-chance model), raw top-1 agreement >= min_agreement(_int8) instead
    max_drop: float = 1.0  # largest allowed top-1 accuracy drop, in percentage points
    min_confident_agreement: float = 0.99  # top-1 agreement required on the confident photos
    confident_prob: float = 0.5  # fp32 softmax top-1 probability from which a photo counts as confident
    min_confident: int = 50  # fewer confident photos than this: raw agreement is judged instead
    min_agreement: float = 0.99  # fp32/fp16 artifacts: raw top-1 agreement (only with too few confident photos)
    min_agreement_int8: float = 0.97  # int8 artifacts: raw top-1 agreement (only with too few confident photos)
    threads: int | None = None  # intra-op threads for every runtime; None: seefood.threads.default_threads()
    opset: int = 18  # ONNX opset (>= 18)
    latency_runs: int = 20  # quick b=1 latency: timed runs per artifact after warm-up (0: skip)
    force: bool = False  # replace an existing EXPORT_DIR
    seed: int = 0  # parity and calibration sampling
    # --prune RATIO: seefood.prune.export prunes and fine-tunes the checkpoint first, then exports the result;
    # run_export itself never prunes, it records the settings in export.json
    prune: PruneOptions | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.formats is not None:
            if not self.formats:
                problems.append("--formats is empty: name at least one, or leave it out for every installed one")
            unknown = [f for f in self.formats if f not in export_formats()]
            if unknown:
                problems.append(f"unknown format(s) {', '.join(unknown)}: use {', '.join(export_formats())}")
        if self.int8_recipes is not None:
            problems += int8_recipe_problems(self.int8_recipes, self.int8)
        if self.batch not in BATCH_CHOICES:
            problems.append(f"--batch must be 1 or dynamic, got {self.batch!r}")
        if self.device not in DEVICE_CHOICES:
            problems.append(f"--device must be cpu or cuda, got {self.device!r}")
        if self.min_confident < 1:
            problems.append(f"min_confident must be >= 1, got {self.min_confident}")
        for name in ("min_agreement", "min_agreement_int8", "min_confident_agreement", "confident_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} is a fraction between 0 and 1, got {getattr(self, name)}")
        if self.max_drop < 0:
            problems.append(f"--max-drop is in accuracy points and must be >= 0, got {self.max_drop}")
        if self.calib_size < 1 or self.parity_size < 1 or self.min_parity_images < 1:
            problems.append("--calib-size, --parity-size and --min-parity-images must be >= 1")
        if self.min_parity_images > self.parity_size:
            problems.append(
                f"--min-parity-images {self.min_parity_images} exceeds --parity-size {self.parity_size}: raise "
                f"--parity-size"
            )
        if self.threads is not None and self.threads < 1:
            problems.append(f"--threads must be >= 1, got {self.threads}; leave it out to use every core it may use")
        if self.opset < 18:
            problems.append(f"--opset must be >= 18 (opset 17 gets silently upgraded), got {self.opset}")
        if self.prune is not None:
            problems += (self.prune.problems() if isinstance(self.prune, PruneOptions) else
                         [f"prune must be a PruneOptions(ratio=...), got {self.prune!r}"])
        if self.latency_runs < 0:
            problems.append(f"latency_runs must be >= 0, got {self.latency_runs}")
        if not Path(self.checkpoint).is_dir():
            problems.append(f"checkpoint {self.checkpoint} is not a folder: pass a folder written by `seefood train`")
        if problems:
            raise ConfigError("; ".join(problems))

    def recipes_for(self, recipes: list[Any]) -> list[Any]:
        """The recipes of one format that --int8-recipe keeps (all of them without it)."""
        if self.int8_recipes is None:
            return list(recipes)
        return [r for r in recipes if r.name in self.int8_recipes]

    @property
    def dynamic_batch(self) -> bool:
        """Whether artifacts accept any batch size."""
        return self.batch == "dynamic"

    @property
    def resolved_threads(self) -> int:
        """The thread count every runtime gets."""
        return resolve_threads(self.threads)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (recorded in export.json)."""
        d = asdict(self)
        d["threads"] = self.resolved_threads
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def int8_recipe_problems(names: tuple[str, ...], int8: bool) -> list[str]:
    """What is wrong with --int8-recipe NAMES (unknown names, or given without --int8)."""
    problems = [] if int8 else ["--int8-recipe picks int8 recipes: it needs --int8"]
    if not names:
        return [*problems, "--int8-recipe is empty: name at least one recipe, or leave it out for all"]
    recipes, why_not = recipe_tables.load_recipes()
    if recipes is None:
        return [*problems, str(why_not)]
    known = [r.name for rs in recipes.values() for r in rs]
    unknown = [n for n in names if n not in known]
    if unknown:
        problems.append(f"unknown int8 recipe(s) {', '.join(unknown)}: use {', '.join(known)}")
    return problems
