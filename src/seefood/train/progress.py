"""Rich progress bars for epochs (loss, accuracy, images/s) and the end-of-run summary table."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from seefood.train.result import TrainResult

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11


class EpochBars:
    """One bar per epoch; disabled (all calls no-ops) on non-main ranks or when asked."""

    def __init__(self, console: Console | None, enabled: bool, epochs: int) -> None:
        self.epochs = epochs
        self._task: TaskID | None = None
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"),
            console=console or Console(stderr=True),
            disable=not enabled,
        )

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def start_epoch(self, epoch: int, steps: int) -> None:
        """Add the bar of `epoch` (1-based)."""
        self._task = self._progress.add_task(f"epoch {epoch}/{self.epochs}", total=steps, stats="")

    def advance(self, steps: int, loss: float, accuracy: float, images_per_sec: float) -> None:
        """Move the current bar and show running training stats."""
        if self._task is not None:
            stats = f"loss {loss:.3f}  acc {accuracy:6.1%}  {images_per_sec:,.0f} img/s"
            self._progress.update(self._task, advance=steps, stats=stats)

    def end_epoch(self, val_top1: float, val_loss: float) -> None:
        """Append the validation result to the finished bar."""
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, stats=f"{task.fields['stats']}  | val acc {val_top1:6.1%} "
                                                    f"loss {val_loss:.3f}")
            self._task = None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def summary_table(result: TrainResult) -> Table:
    """The run's outcome as a rich table (the CLI prints it)."""
    table = Table(title="seefood train", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    rows = [
        ("best val top-1", f"{_pct(result.best_val_top1)} (epoch {result.best_epoch})"),
        ("test top-1", _pct(result.test_top1)),
        ("test top-5", _pct(result.test_top5)),
        ("epochs", f"{result.epochs_run}{' (stopped early)' if result.stopped_early else ''}"),
        ("throughput", f"{result.images_per_sec:,.0f} img/s on {result.device}"),
        ("time", f"{result.seconds:,.1f} s"),
        ("best checkpoint", str(result.best)),
        ("resume from", str(result.last)),
        ("tensorboard", f"tensorboard --logdir {result.out / 'tb'}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def summary_line(result: TrainResult) -> str:
    """The same outcome as one log line."""
    return (
        f"best val top-1 {_pct(result.best_val_top1)} (epoch {result.best_epoch}), test top-1 "
        f"{_pct(result.test_top1)}, top-5 {_pct(result.test_top5)}, {result.epochs_run} epochs, "
        f"{result.images_per_sec:,.0f} img/s, {result.seconds:.1f} s -> {result.best}"
    )
