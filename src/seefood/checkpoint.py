"""Checkpoints as folders: `model.safetensors` + `meta.json` (+ `train_state.*` for resuming).

The checkpoint contract every layer reads (training writes it; export, the runtimes, bench and prune read
it), so it sits beside metadata.py rather than inside train/: runtimes/ and export/ never import train/.
The model is rebuilt from its metadata by `seefood.models.build_from_meta`.
Loading never unpickles: tensors come from safetensors, everything else from JSON.
Every save writes a temp folder and renames it into place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from seefood.errors import CheckpointError
from seefood.io import atomic_dir, atomic_write_text, read_json, sha256_file
from seefood.metadata import ModelMeta

WEIGHTS = "model.safetensors"
META = "meta.json"
STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the model (eval mode, CPU) and its metadata."""

    path: Path
    model: nn.Module
    meta: ModelMeta

    @property
    def sha256(self) -> str:
        """sha256 of the weights file (artifacts record it as their parent)."""
        return sha256_file(self.path / WEIGHTS)


def _state_dict_for_saving(model: nn.Module) -> dict[str, torch.Tensor]:
    module = getattr(model, "module", model)  # unwrap DDP
    module = getattr(module, "_orig_mod", module)  # unwrap torch.compile
    # safetensors refuses shared storage; contiguous clones are cheap next to the disk write
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    meta: ModelMeta,
    train_state: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None,
) -> Path:
    """Atomically write (or replace) a checkpoint folder."""
    path = Path(path)
    with atomic_dir(path, overwrite=True) as tmp:
        save_file(_state_dict_for_saving(model), str(tmp / WEIGHTS), metadata={"format": "pt"})
        (tmp / META).write_text(json.dumps(meta.to_dict(), indent=2) + "\n", encoding="utf-8")
        if train_state is not None:
            tensors, plain = train_state
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / STATE_TENSORS))
            (tmp / STATE_JSON).write_text(json.dumps(plain, indent=2) + "\n", encoding="utf-8")
    return path


def update_meta(path: str | Path, meta: ModelMeta) -> Path:
    """Atomically replace only the metadata of an existing checkpoint (the weights stay untouched)."""
    path = Path(path)
    if not (path / WEIGHTS).is_file():
        raise CheckpointError(f"{path} has no {WEIGHTS}: save the checkpoint before updating its metadata")
    return atomic_write_text(path / META, json.dumps(meta.to_dict(), indent=2) + "\n")


def read_meta(path: str | Path) -> ModelMeta:
    """Read only the metadata of a checkpoint folder."""
    path = Path(path)
    if not (path / META).is_file():
        raise CheckpointError(
            f"{path} is not a seefood checkpoint (no {META}); pass a folder written by `seefood train`, "
            f"e.g. runs/NAME/best"
        )
    try:
        return ModelMeta.from_dict(read_json(path / META))
    except (ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path / META} is damaged: {exc}") from exc


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Rebuild the model from metadata and load its weights (strict), eval mode, on CPU."""
    path = Path(path)
    meta = read_meta(path)
    if not (path / WEIGHTS).is_file():
        raise CheckpointError(f"{path} has metadata but no {WEIGHTS}: the checkpoint is incomplete")
    from seefood.models import build_from_meta  # imports every model module: only when a model is built

    model = build_from_meta(meta)
    try:
        state = load_file(str(path / WEIGHTS))
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        raise CheckpointError(f"{path / WEIGHTS} does not match its metadata ({meta.architecture}): {exc}") from exc
    model.eval()
    return Checkpoint(path=path, model=model, meta=meta)


def load_train_state(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read the optimizer/scheduler/RNG state saved beside `last` for --resume."""
    path = Path(path)
    if not (path / STATE_TENSORS).is_file() or not (path / STATE_JSON).is_file():
        raise CheckpointError(f"{path} has no training state to resume from; only `last` checkpoints do")
    return load_file(str(path / STATE_TENSORS)), read_json(path / STATE_JSON)
