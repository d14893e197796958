"""The int8 recipe record and helpers shared by the per-backend quantisers."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seefood.errors import ExportError
from seefood.metadata import ModelMeta

if TYPE_CHECKING:
    from torch import nn

# quantize(fp32_artifact_dir, model, meta, calibration batches, out_dir) -> the int8 model file in out_dir
QuantizeFn = Callable[[Path, "nn.Module", ModelMeta, list[np.ndarray], Path], Path]


@dataclass(frozen=True)
class Int8Recipe:
    """One way to make an int8 model for one format; the pipeline keeps the first that passes parity."""

    name: str  # unique within its format, recorded in the artifact's metadata
    description: str  # one line for logs and reports: what it does and when it helps
    quantize: QuantizeFn


def model_family(meta: ModelMeta, model: nn.Module | None = None) -> str:
    """'transformer' or 'cnn': the family recorded in the model registry for the checkpoint's architecture.

    An architecture the registry does not know is an error (ModelError), never a guess: CNN and
    transformer int8 rules differ, and a wrong guess would only show as a silent accuracy loss.
    """
    from seefood.models import get_spec

    return get_spec(meta.architecture).family


def require_file(path: Path, what: str) -> Path:
    """`path` if it exists, else an ExportError that says the fp32 export must come first."""
    if not path.is_file():
        raise ExportError(
            f"{what} not found at {path}: int8 quantisation starts from the fp32 export of the same model; "
            f"export the fp32 artifact first"
        )
    return path


def calibration_images(calib: list[np.ndarray]) -> int:
    """Number of images in a list of calibration batches; an empty set is an error."""
    total = sum(int(b.shape[0]) for b in calib)
    if total == 0:
        raise ExportError("int8 quantisation needs calibration images, got none: pass a dataset with training images")
    return total


@contextlib.contextmanager
def staged_files(out_dir: Path, names: tuple[str, ...]) -> Iterator[Path]:
    """Yield a temp folder inside `out_dir`; on success move `names` from it into `out_dir`.

    A quantiser that fails half-way leaves no partial model file behind.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=out_dir) as tmp:
        yield Path(tmp)
        for name in names:
            if not (Path(tmp) / name).is_file():
                raise ExportError(f"the quantiser did not write {name}; this is a seefood bug, please report it")
        for name in names:
            os.replace(Path(tmp) / name, out_dir / name)
