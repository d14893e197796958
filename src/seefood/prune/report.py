"""The record of one pruning run: DIR/prune.json, `metrics.prune` of the checkpoint, and the rich table."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rich import box
from rich.table import Table

from seefood.bench.stats import LatencyStats

PASSED, FAILED = "passed", "failed"  # metrics.accuracy_rule values; `seefood pick` skips "failed"


@dataclass(frozen=True)
class Stage:
    """One model of the run: the original, the model right after pruning, or the fine-tuned result."""

    params: int
    macs: int  # multiply-accumulates per image (conv/linear layers)
    size_bytes: int  # model.safetensors on disk
    top1: float | None  # fraction on the evaluation split (None: not measured)
    top5: float | None
    latency: LatencyStats | None = None  # b=1 eager PyTorch on the CPU (None: not measured for this stage)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (latency with its percentiles)."""
        d = asdict(self)
        d["latency"] = self.latency.to_dict() if self.latency else None
        return d


@dataclass(frozen=True)
class PruneReport:
    """Everything `seefood prune` measured; `accuracy_rule` says whether the result may be deployed."""

    architecture: str
    source: str  # the checkpoint that was pruned
    checkpoint: str  # the result: the pruned (and fine-tuned) checkpoint folder
    ratio: float  # asked: fraction of parameters to remove
    sparsity: float  # got: fraction of parameters removed
    channel_ratio: float  # the per-layer channel ratio given to torch_pruning
    importance: str
    round_to: int
    removed: tuple[str, ...]  # what the architecture's recipe removes ("attention heads", ...)
    split: str  # where accuracy was measured: test (or val when the data has no test split)
    images: int
    original: Stage
    pruned: Stage
    finetuned: Stage
    finetune_epochs: int
    max_drop: float  # top-1 points the result may lose against the original
    threads: int  # torch intra-op threads of the latency check
    finetune: dict[str, Any] | None = None  # the fine-tuning run: folder, best epoch, seconds
    baseline: Stage | None = None  # --baseline: the unpruned model fine-tuned with the same recipe and epochs
    trials: tuple[tuple[float, float], ...] = ()  # (channel ratio, removed share) of the search
    int8: dict[str, Any] | None = None  # the fastest passing int8 artifact, when the run was exported
    dropped_blocks: tuple[str, ...] = ()  # --drop-blocks: module paths of the residual blocks removed
    block_influence: dict[str, float] | None = None  # every candidate block -> its influence (low: removable)
    recalibrated_images: int = 0  # training images the pruned model's BatchNorm statistics were re-estimated on
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def drop(self) -> float | None:
        """Top-1 points lost from the original to the fine-tuned result (negative: it got better)."""
        if self.original.top1 is None or self.finetuned.top1 is None:
            return None
        return 100.0 * (self.original.top1 - self.finetuned.top1)

    @property
    def drop_vs_baseline(self) -> float | None:
        """Top-1 points the result trails the same-budget unpruned baseline (None without --baseline)."""
        if self.baseline is None or self.baseline.top1 is None or self.finetuned.top1 is None:
            return None
        return 100.0 * (self.baseline.top1 - self.finetuned.top1)

    @property
    def accuracy_rule(self) -> str:
        """"passed" when the result stays within --max-drop of the original and of the baseline (if run)."""
        drops = [self.drop] + ([self.drop_vs_baseline] if self.baseline is not None else [])
        ok = all(d is not None and d <= self.max_drop + 1e-9 for d in drops)
        return PASSED if ok else FAILED

    @property
    def speedup(self) -> float | None:
        """Original over result b=1 median latency (None when not measured)."""
        a, b = self.original.latency, self.finetuned.latency
        return a.p50_ms / b.p50_ms if a and b and b.p50_ms > 0 else None

    def with_int8(self, int8: dict[str, Any] | None) -> PruneReport:
        """A copy that names the fastest int8 artifact exported from the result."""
        return replace(self, int8=int8)

    def to_dict(self) -> dict[str, Any]:
        """prune.json, also stored as `metrics.prune` of the resulting checkpoint."""
        return {
            "architecture": self.architecture, "source": self.source, "checkpoint": self.checkpoint,
            "ratio": self.ratio, "sparsity": self.sparsity, "channel_ratio": self.channel_ratio,
            "importance": self.importance, "round_to": self.round_to, "removed": list(self.removed),
            "dropped_blocks": list(self.dropped_blocks), "block_influence": self.block_influence,
            "recalibrated_images": self.recalibrated_images,
            "params": {"before": self.original.params, "after": self.finetuned.params},
            "macs": {"before": self.original.macs, "after": self.finetuned.macs},
            "size_bytes": {"before": self.original.size_bytes, "after": self.finetuned.size_bytes},
            "accuracy": {
                "split": self.split, "images": self.images, "before": self.original.top1,
                "pruned": self.pruned.top1, "finetuned": self.finetuned.top1, "drop_points": self.drop,
                "baseline": self.baseline.top1 if self.baseline else None,
                "drop_vs_baseline_points": self.drop_vs_baseline,
                "max_drop": self.max_drop, "rule": self.accuracy_rule,
                "top5": {"before": self.original.top5, "pruned": self.pruned.top5, "finetuned": self.finetuned.top5},
            },
            "latency_ms": {
                "device": "cpu", "runtime": "pytorch-eager", "batch_size": 1, "threads": self.threads,
                "before": _ms(self.original.latency), "after": _ms(self.finetuned.latency), "speedup": self.speedup,
            },
            "int8": self.int8,
            "finetune": {"epochs": self.finetune_epochs, **(self.finetune or {})},
            "stages": {"original": self.original.to_dict(), "pruned": self.pruned.to_dict(),
                       "finetuned": self.finetuned.to_dict(),
                       "baseline": self.baseline.to_dict() if self.baseline else None},
            "trials": [list(t) for t in self.trials],
            "created": self.created,
        }


def _ms(stats: LatencyStats | None) -> dict[str, float] | None:
    return None if stats is None else {"p50": stats.p50_ms, "p90": stats.p90_ms, "runs": stats.runs}


def _count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _lat(stats: LatencyStats | None) -> str:
    return "-" if stats is None else f"{stats.p50_ms:.2f} (p90 {stats.p90_ms:.2f})"


def summary_table(report: PruneReport) -> Table:
    """Original vs pruned vs fine-tuned: parameters, MACs, file size, accuracy, latency (and int8)."""
    o, p, f = report.original, report.pruned, report.finetuned
    rule = report.accuracy_rule
    blocks = f"{len(report.dropped_blocks)} block(s) + " if report.dropped_blocks else ""
    style = "green" if rule == PASSED else "red"
    drop = "-" if report.drop is None else f"{report.drop:.2f}"
    if report.drop_vs_baseline is not None:
        drop += f" (vs same-budget baseline {report.drop_vs_baseline:.2f})"
    table = Table(
        title=f"seefood prune {report.architecture}: {report.sparsity:.1%} of the parameters removed "
              f"({blocks}channels {report.ratio:.0%} asked, {report.importance})",
        caption=f"top-1 on {report.images} {report.split} images; drop {drop} points, max {report.max_drop}: "
                f"[{style}]{rule}[/]",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("")
    b = report.baseline
    result = f"fine-tuned ({report.finetune_epochs} ep)" if report.finetune_epochs else "result (not fine-tuned)"
    names = ["original", "pruned", result]
    if b is not None:
        names.append(f"unpruned + {report.finetune_epochs} ep (baseline)")
    for name in names:
        table.add_column(name, justify="right")

    def row(label: str, *cells: str, baseline: str = "") -> None:
        table.add_row(label, *cells, *([baseline] if b is not None else []))

    row("parameters", _count(o.params), _count(p.params), _count(f.params), baseline=_count(b.params) if b else "")
    row("MACs / image", _count(o.macs), _count(p.macs), _count(f.macs), baseline=_count(b.macs) if b else "")
    row("file size", f"{o.size_bytes / 1e6:.2f} MB", f"{p.size_bytes / 1e6:.2f} MB", f"{f.size_bytes / 1e6:.2f} MB",
        baseline=f"{b.size_bytes / 1e6:.2f} MB" if b else "")
    row("top-1", _pct(o.top1), _pct(p.top1), _pct(f.top1), baseline=_pct(b.top1) if b else "")
    row("top-5", _pct(o.top5), _pct(p.top5), _pct(f.top5), baseline=_pct(b.top5) if b else "")
    row(f"b=1 CPU ms ({report.threads} thr)", _lat(o.latency), "-", _lat(f.latency), baseline="-")
    if report.int8:
        row(f"best int8 ({report.int8.get('name')})", "", "", f"{report.int8.get('latency_ms', 0):.2f} ms")
    return table
