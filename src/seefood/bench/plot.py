"""pareto.png: top-1 accuracy vs p50 latency, one panel per device, the Pareto front drawn and labelled."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from seefood.bench.records import BenchResult
from seefood.io import atomic_write_bytes


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of (latency, accuracy) points no other point beats on both (lower latency, higher accuracy).

    Sorted by latency; a point is on the front when it is more accurate than every faster point.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best = float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def panel_rows(rows: Sequence[BenchResult], device: str) -> tuple[list[BenchResult], int, int]:
    """The measured rows of one device at its smallest batch size and most common thread count."""
    measured = [r for r in rows if r.device == device and r.ok and r.latency and r.top1 is not None]
    if not measured:
        return [], 0, 0
    batch = min(r.batch_size for r in measured)
    at_batch = [r for r in measured if r.batch_size == batch]
    threads = Counter(r.threads for r in at_batch).most_common(1)[0][0]
    return [r for r in at_batch if r.threads == threads], batch, threads


def plot_pareto(rows: Sequence[BenchResult], path: str | Path) -> Path:
    """Draw the accuracy/latency trade-off (marker area ~ file size) and save it atomically as PNG."""
    # a bare Figure renders with the Agg canvas: no pyplot, no backend switch, no window
    from matplotlib.figure import Figure

    devices = sorted({r.device for r in rows}) or ["(none)"]
    fig = Figure(figsize=(6.5 * len(devices), 5.0), dpi=110, layout="constrained")
    axes = fig.subplots(1, len(devices), squeeze=False)[0]
    biggest = max((r.size_bytes for r in rows if r.ok), default=0) or 1
    for ax, device in zip(axes, devices):
        members, batch, threads = panel_rows(rows, device)
        ax.set_xlabel("p50 latency per batch (ms)")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(True, alpha=0.3)
        if not members:
            ax.set_title(f"{device}: nothing measured")
            ax.text(0.5, 0.5, "no successful measurement", ha="center", va="center", transform=ax.transAxes)
            continue
        ax.set_title(f"{device} · batch {batch} · {threads} threads")
        pts = [(r.latency.p50_ms if r.latency else 0.0, r.top1 or 0.0) for r in members]
        sizes = [40 + 600 * r.size_bytes / biggest for r in members]
        colors = ["tab:red" if r.is_reference else "tab:blue" for r in members]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=sizes, c=colors, alpha=0.55, edgecolors="black")
        front = set(pareto_front(pts))
        fx, fy = zip(*sorted(pts[i] for i in front))
        # the staircase runs on to the slowest point: everything right of it and below is dominated
        xs, ys = [*fx, max(p[0] for p in pts)], [*fy, fy[-1]]
        ax.step(xs, ys, where="post", color="tab:green", linewidth=1.5, label="Pareto front")
        ax.scatter(fx, fy, s=18, c="tab:green", marker="D", zorder=3)
        by_latency = sorted(range(len(pts)), key=lambda i: pts[i])
        for rank, i in enumerate(by_latency):
            member, point, on_front = members[i], pts[i], i in front
            # alternate above/below so neighbours with close latencies do not print over each other
            ax.annotate(
                member.name, point, textcoords="offset points", xytext=(7, 6 if rank % 2 == 0 else -13), fontsize=8,
                fontweight="bold" if on_front else "normal", color="darkgreen" if on_front else "dimgray",
            )
        if max(p[0] for p in pts) > 20 * max(min(p[0] for p in pts), 1e-9):
            ax.set_xscale("log")  # CPU fp32 vs GPU int8 can differ by orders of magnitude
        ax.margins(0.15)
        ax.legend(loc="lower right", fontsize=8, title="marker area ~ file size; red: reference", title_fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())
