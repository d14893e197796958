"""`seefood space build`: the picked artifact -> a complete, PyTorch-free Gradio Space folder.

SPACE/
  app.py  requirements.txt  README.md  space.json  .gitignore
  model/             the artifact (model file + seefood.json)
  examples/          drawn pictures, or images from --examples DIR
  seefood_runtime/   the torch-free seefood modules the app needs (see bundle.py)
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import seefood
from seefood.data.sample import SAMPLE_MANIFEST
from seefood.errors import ConfigError, DataError, MissingInputError
from seefood.io import atomic_dir, atomic_write_json, atomic_write_text, dir_size, sha256_file
from seefood.runtimes import RUNTIMES, read_artifact_meta
from seefood.space import bundle, card, examples
from seefood.space.predlog import utc_now
from seefood.space.reference import SPACE_RECORD
from seefood.space.service import SpaceSettings
from seefood.space.uploads import UploadLimits
from seefood.space.verify import Verification, verify_space

log = logging.getLogger(__name__)
MODEL_DIR = "model"
EXAMPLES_DIR = "examples"
REQUIRED_DECISION_KEYS = ("artifact", "name", "format", "precision")
BENCH_ENV = "env.json"  # written by `seefood bench` beside results.jsonl (and decision.json, after pick)

APP_PY = '''"""{title}: the Gradio app of this Space, written by `seefood space build` (needs neither torch nor seefood).

The page is at /, the JSON endpoint at POST /api/predict; the owner's monitoring is on only when the
secret $SEEFOOD_MONITOR_TOKEN is set.
"""

import logging
import os
from pathlib import Path

from seefood_runtime.space.server import launch
from seefood_runtime.space.service import SpaceService
from seefood_runtime.space.ui import build_ui, monitor_token_from_env

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
# $SEEFOOD_LOG moves the prediction log, e.g. to /data/predictions.sqlite on a Space with persistent storage
service = SpaceService.from_folder(Path(__file__).resolve().parent, log_path=os.environ.get("SEEFOOD_LOG"))
ui = build_ui(service, monitor_token=monitor_token_from_env())
demo = ui.demo

if __name__ == "__main__":
    launch(ui, service)  # host and port: $GRADIO_SERVER_NAME / $GRADIO_SERVER_PORT (Spaces set them)
'''
GITIGNORE = "logs/\n__pycache__/\n*.pyc\n"


@dataclass(frozen=True)
class SpaceConfig:
    """Options of `seefood space build` (the CLI maps its flags onto these fields)."""

    decision: Path  # REPORT/decision.json from `seefood pick` (or the report folder holding it)
    out: Path  # the Space folder to write
    examples: Path | None = None  # folder of example images; None: draw them
    log_images: bool = False  # keep uploaded images in the prediction log (mind your visitors' privacy)
    title: str | None = None  # None: derived from the artifact
    license: str = "apache-2.0"  # Hugging Face license id in the front matter
    force: bool = False  # replace an existing `out`
    num_examples: int = 4
    limits: UploadLimits = field(default_factory=UploadLimits)
    timeout_s: float = 30.0  # per request
    threads: int | None = None  # runtime threads in the Space; None: every core it has
    workers: int = 2  # predictions running at once (a free Space has 2 cores)
    queue_size: int = 16  # requests waiting for a worker; the next one is answered "busy, retry"
    low_confidence: float = 0.5  # threshold of the owner's monitoring report
    verify: bool = True  # classify the examples in a torch-free interpreter before finishing

    def __post_init__(self) -> None:
        if not 1 <= self.num_examples <= 20:
            raise ConfigError(f"--num-examples must be between 1 and 20, got {self.num_examples}")
        if not 0.0 < self.low_confidence <= 1.0:
            raise ConfigError(f"--low-confidence must be in (0, 1], got {self.low_confidence}")
        if self.workers < 1 or self.queue_size < 0:
            raise ConfigError(f"--workers must be >= 1 and --queue-size >= 0, got {self.workers} and {self.queue_size}")


@dataclass(frozen=True)
class SpaceBuild:
    """What `build_space` wrote."""

    path: Path
    format: str
    precision: str
    requirements: tuple[str, ...]
    modules: tuple[str, ...]  # seefood modules bundled as seefood_runtime
    examples: tuple[str, ...]  # relative paths
    size_bytes: int
    verification: Verification | None  # None when verify=False


def read_decision(path: Path) -> tuple[dict[str, Any], Path]:
    """The decision record and the artifact folder it names (relative paths: beside the decision)."""
    path = path / "decision.json" if path.is_dir() else path
    try:
        decision = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingInputError(f"{path} not found: run `seefood pick REPORT` first, then pass REPORT/decision.json") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not readable JSON ({exc}): re-run `seefood pick`") from None
    missing = [k for k in REQUIRED_DECISION_KEYS if not isinstance(decision, dict) or k not in decision]
    if missing:
        raise DataError(f"{path} lacks {missing}: it is not a decision written by `seefood pick`")
    artifact = Path(decision["artifact"])
    artifact = artifact if artifact.is_absolute() else path.parent / artifact
    if not artifact.is_dir():
        raise DataError(f"the picked artifact {artifact} does not exist: re-run the export or `seefood pick`")
    return decision, artifact


def evaluated_on(decision_path: Path) -> str:
    """What `seefood bench` measured the accuracy on, in words, from env.json beside the decision ("" when
    unknown). Generated data (a sample.json manifest) is named as such: its accuracy says nothing about photos."""
    report = decision_path if decision_path.is_dir() else decision_path.parent
    try:
        env = json.loads((report / BENCH_ENV).read_text(encoding="utf-8"))
        data = env["data"]
        images, classes, root = int(data["images"]), int(data["classes"]), Path(str(data["root"]))
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    candidates = [root, report / root, report.parent / root] if not root.is_absolute() else [root]
    folder = next((c for c in candidates if c.is_dir()), None)
    if folder is not None and any((f / SAMPLE_MANIFEST).is_file() for f in (folder, folder.parent)):
        return (f"{images} generated drawings of {classes} classes (seefood's sample generator), not food photos: "
                f"it says nothing about real photos")
    name = "/".join(root.parts[-2:])  # no local folders of the build machine beyond the data set's own name
    return f"{images} held-out images of {classes} classes from `{name}`"


def _title(config: SpaceConfig, architecture: str) -> str:
    title = config.title if config.title is not None else f"seefood {architecture}"
    if not title.strip() or "\n" in title:
        raise ConfigError("--title must be a non-empty single line")
    return title.strip()


def build_space(config: SpaceConfig) -> SpaceBuild:
    """Write the Space folder atomically; on any failure nothing is left at `config.out`."""
    decision, artifact = read_decision(Path(config.decision))
    meta = read_artifact_meta(artifact)
    if meta.format != decision["format"]:
        raise DataError(f"the decision says {decision['format']!r} but {artifact} holds {meta.format!r}: re-run pick")
    reqs = card.requirements(meta.format)  # refuses torch formats before anything is written
    title = _title(config, meta.architecture)
    with atomic_dir(Path(config.out), overwrite=config.force) as tmp:
        shutil.copytree(artifact, tmp / MODEL_DIR)
        bundled = bundle.bundle_modules(tmp, {meta.format: RUNTIMES[meta.format]}, card.allowed_imports(meta.format))
        if config.examples is not None:
            paths = examples.copy_examples(Path(config.examples), tmp / EXAMPLES_DIR, config.num_examples, config.limits)
            note = "The example images were supplied by the builder of this Space (`--examples`)."
        else:
            paths = examples.generate_examples(tmp / EXAMPLES_DIR, meta.class_names, config.num_examples)
            note = ("The example images are drawn by code (seefood's sample generator), not photos: "
                    "upload a real photo to judge the model.")
        rel_examples = tuple(p.relative_to(tmp).as_posix() for p in paths)
        measured_on = evaluated_on(Path(config.decision))
        settings = SpaceSettings(
            title=title, description=f"Upload a food photo: {meta.num_classes} classes, top-5 with probabilities.",
            model_dir=MODEL_DIR, examples=rel_examples, log_images=config.log_images, limits=config.limits,
            timeout_s=config.timeout_s, threads=config.threads, workers=config.workers,
            queue_size=config.queue_size, low_confidence=config.low_confidence, evaluated_on=measured_on,
            decision=card.public_decision(decision),
        )
        atomic_write_json(tmp / SPACE_RECORD, {**settings.to_dict(), "build": {
            "seefood_version": seefood.__version__, "created": utc_now(), "artifact_name": artifact.name,
            "artifact_sha256": {p.name: sha256_file(p) for p in sorted((tmp / MODEL_DIR).iterdir()) if p.is_file()},
            "modules": list(bundled.modules), "requirements": reqs,
        }})
        atomic_write_text(tmp / "app.py", APP_PY.format(title=title.replace('"', "'")))
        atomic_write_text(tmp / "requirements.txt", "\n".join(reqs) + "\n")
        atomic_write_text(tmp / "README.md", card.readme(title, config.license, meta, decision, note, config.log_images,
                                                         measured_on, settings.workers, settings.queue_size))
        atomic_write_text(tmp / ".gitignore", GITIGNORE)
        verification = verify_space(tmp) if config.verify else None
        size = dir_size(tmp)
    log.info("wrote the Space to %s (%s %s, %.1f MB)", config.out, meta.format, meta.precision, size / 1e6)
    return SpaceBuild(Path(config.out), meta.format, meta.precision, tuple(reqs), bundled.modules, rel_examples, size,
                      verification)
