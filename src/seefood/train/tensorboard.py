"""TensorBoard logging under OUT/tb/: step and epoch scalars, figures, hyper-parameters."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from seefood.train.figures import figure_to_array

log = logging.getLogger(__name__)

HPARAMS_RUN = "hparams"  # sub-run that add_hparams writes beside the scalars


def _hparam_value(value: Any) -> int | float | str | bool:
    """TensorBoard accepts numbers, strings and bools only."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


class TensorBoardLog:
    """A SummaryWriter that only the main process opens; on other ranks every call is a no-op."""

    def __init__(self, logdir: str | Path, enabled: bool = True, purge_step: int | None = None) -> None:
        self.logdir = Path(logdir)
        self._writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events a killed run wrote after its last saved epoch
            self._writer = SummaryWriter(log_dir=str(self.logdir), purge_step=purge_step or None)

    def step(self, global_step: int, scalars: Mapping[str, float]) -> None:
        """Per-step scalars under step/<name>."""
        if self._writer is not None:
            for name, value in scalars.items():
                self._writer.add_scalar(f"step/{name}", value, global_step)

    def epoch(self, epoch: int, scalars: Mapping[str, float]) -> None:
        """Per-epoch scalars under epoch/<name>."""
        if self._writer is not None:
            for name, value in scalars.items():
                self._writer.add_scalar(f"epoch/{name}", value, epoch)

    def figure(self, tag: str, fig: Figure, epoch: int) -> None:
        """A matplotlib figure as an image (rendered without pyplot)."""
        if self._writer is None:
            return
        self.image(tag, figure_to_array(fig), epoch)

    def image(self, tag: str, pixels: np.ndarray, epoch: int) -> None:
        """An HxWx3 uint8 image."""
        if self._writer is not None:
            self._writer.add_image(tag, pixels, epoch, dataformats="HWC")

    def hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        """The run's settings with its final metrics (the HParams tab)."""
        if self._writer is not None:
            self._writer.add_hparams(
                {k: _hparam_value(v) for k, v in hparams.items()},
                {f"hparam/{k}": float(v) for k, v in metrics.items()},
                run_name=HPARAMS_RUN,
            )

    def flush(self) -> None:
        """Write pending events to disk."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
