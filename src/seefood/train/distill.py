"""Knowledge distillation: a frozen teacher checkpoint's soft predictions as an extra training target.

Used by `seefood prune` to recover a pruned model towards the model it was pruned from (the standard
recovery of NNCF's and Torch-Pruning's recipes), and by `seefood train --teacher CKPT` for any student.
The loss is (1 - alpha) * cross-entropy(labels) + alpha * T^2 * KL(teacher_T || student_T) (Hinton et al.,
2015), with both logit sets softened by the temperature T.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seefood.errors import ConfigError
from seefood.preprocessing import Preprocessing

log = logging.getLogger(__name__)


def load_teacher(path: str | Path, class_names: list[str], pre: Preprocessing, device: torch.device,
                 channels_last: bool) -> nn.Module:
    """The teacher checkpoint's model, frozen in eval mode on `device`.

    It must score the same classes in the same order and expect the same normalisation as the student
    (the student's images are fed to it as they are); anything else is a ConfigError naming the mismatch.
    """
    from seefood.checkpoint import load_checkpoint

    teacher = load_checkpoint(path)
    meta = teacher.meta
    if list(meta.class_names) != list(class_names):
        raise ConfigError(f"teacher {path} scores {meta.num_classes} classes ({meta.class_names[:3]}...), the student "
                          f"{len(class_names)} ({class_names[:3]}...): distil from a checkpoint of the same data")
    tp = meta.preprocessing
    if (tuple(tp.mean), tuple(tp.std)) != (tuple(pre.mean), tuple(pre.std)):
        raise ConfigError(f"teacher {path} expects mean {tp.mean} / std {tp.std}, the student {pre.mean} / {pre.std}: "
                          f"the teacher would see wrongly normalised images")
    model = teacher.model.to(device).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    for param in model.parameters():
        param.requires_grad_(False)
    log.info("distilling from %s (%s)", path, meta.architecture)
    return model


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, hard: nn.Module,
                      alpha: float, temperature: float) -> torch.Tensor:
    """(1 - alpha) * hard(student, labels) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))."""
    t = temperature
    soft = F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1), reduction="batchmean",
                    log_target=True) * (t * t)
    if alpha >= 1.0:
        return soft
    return (1.0 - alpha) * hard(student, labels) + alpha * soft
