"""pareto.png: top-1 accuracy vs p50 latency, one panel per device and batch size, with the uncertainty of both.

Each point carries its accuracy's 95 % Wilson interval (vertical bar) and its latency spread (thick: p25-p75,
thin: up to p90); a row whose timing is unsteady (seefood.bench.stats.SPREAD_RULE) is drawn hollow, the picked
artifact (REPORT/decision.json) is ringed. Labels sit in a column beside each panel, joined to their point by a
leader line, so close points never print over each other and no label is cut at the edge.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seefood.bench.records import BenchResult
from seefood.bench.stats import SPREAD_RULE, unsteady, wilson_interval
from seefood.io import atomic_write_bytes

Picked = tuple[str, str, int, int]  # artifact path, device, batch size, threads of the chosen row
LABEL_GAP = 0.075  # the least vertical distance between two labels, as a fraction of the panel's height
MAX_COLUMNS = 2  # panels side by side before a new row starts


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


def panels(rows: Sequence[BenchResult]) -> list[tuple[str, int, int, list[BenchResult]]]:
    """(device, batch size, threads, measured rows) per panel: every device x batch size, at its most common
    thread count; a device with nothing measured gets one empty panel, so it is not silently missing."""
    out: list[tuple[str, int, int, list[BenchResult]]] = []
    for device in sorted({r.device for r in rows}):
        measured = [r for r in rows if r.device == device and r.ok and r.latency and r.top1 is not None]
        if not measured:
            out.append((device, 0, 0, []))
            continue
        for batch in sorted({r.batch_size for r in measured}):
            at_batch = [r for r in measured if r.batch_size == batch]
            threads = Counter(r.threads for r in at_batch).most_common(1)[0][0]
            out.append((device, batch, threads, [r for r in at_batch if r.threads == threads]))
    return out


def spread_labels(wanted: Sequence[float], gap: float = LABEL_GAP) -> list[float]:
    """Label heights (axes fraction) as close to `wanted` as they can be while `gap` apart and within [0, 1]."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    gap = min(gap, 1.0 / max(len(wanted), 1))
    placed: list[float] = []
    for i in order:  # upwards from the lowest, never closer than gap to the previous label
        y = max(wanted[i], placed[-1] + gap) if placed else max(wanted[i], 0.0)
        placed.append(y)
    overflow = placed[-1] - 1.0 if placed else 0.0
    if overflow > 0:  # pushed over the top: slide the stack down, then keep the gap from the top downwards
        placed = [y - overflow for y in placed]
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
    out = [0.0] * len(wanted)
    for rank, i in enumerate(order):
        out[i] = placed[rank]
    return out


def _interval(row: BenchResult) -> tuple[float, float]:
    """The 95 % Wilson interval of a row's top-1, in percent (the point itself when the count is unknown)."""
    top1 = row.top1 or 0.0
    if not row.num_images:
        return top1, top1
    lo, hi = wilson_interval(round(top1 / 100.0 * row.num_images), row.num_images)
    return 100.0 * lo, 100.0 * hi


def _draw_panel(ax: Any, members: list[BenchResult], title: str, biggest: int, picked: Picked | None) -> None:
    ax.set_xlabel("p50 latency per batch (ms); bars: p25-p75, thin: to p90")
    ax.set_ylabel("top-1 accuracy (%), 95 % interval")
    ax.grid(True, alpha=0.3)
    ax.set_title(title, fontsize=10)
    if not members:
        ax.text(0.5, 0.5, "no successful measurement", ha="center", va="center", transform=ax.transAxes)
        return
    lat = [r.latency for r in members if r.latency is not None]
    xs, ys = [s.p50_ms for s in lat], [r.top1 or 0.0 for r in members]
    intervals = [_interval(r) for r in members]
    ax.errorbar(xs, ys, yerr=[[y - lo for y, (lo, _) in zip(ys, intervals)], [hi - y for y, (_, hi) in zip(ys, intervals)]],
                xerr=[[s.p50_ms - s.p25_ms for s in lat], [s.p75_ms - s.p50_ms for s in lat]],
                fmt="none", ecolor="0.35", elinewidth=1.6, capsize=2, zorder=2)
    for s, y in zip(lat, ys):
        ax.plot([s.p75_ms, max(s.p90_ms, s.p75_ms)], [y, y], color="0.35", linewidth=0.7, zorder=2)
    shaky = [unsteady(s) is not None for s in lat]
    for r, x, y, wobbly in zip(members, xs, ys, shaky):
        colour = "tab:red" if r.is_reference else "tab:blue"
        ax.scatter([x], [y], s=40 + 500 * r.size_bytes / biggest, zorder=3, alpha=0.6,
                   facecolors="none" if wobbly else colour, edgecolors=colour if wobbly else "black",
                   linewidths=1.8 if wobbly else 0.8, linestyle="--" if wobbly else "-")
    chosen = [i for i, r in enumerate(members) if picked == (r.path, r.device, r.batch_size, r.threads)]
    for i in chosen:
        ax.scatter([xs[i]], [ys[i]], s=900, facecolors="none", edgecolors="tab:orange", linewidths=2.5, zorder=4)
    if chosen:  # a legend-sized stand-in for the ring
        ax.scatter([], [], s=120, facecolors="none", edgecolors="tab:orange", linewidths=2, label="picked (decision.json)")
    pts = list(zip(xs, ys))
    front = pareto_front(pts)
    fx, fy = zip(*sorted(pts[i] for i in front))
    ax.step([*fx, max(xs)], [*fy, fy[-1]], where="post", color="tab:green", linewidth=1.2, label="Pareto front",
            zorder=1)
    if max(xs) > 20 * max(min(xs), 1e-9):
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        ax.set_xscale("log")  # CPU fp32 vs GPU int8 can differ by orders of magnitude
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 1, 2, 5, 10, 20, 50 ... in plain numbers
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    lows, highs = [lo for lo, _ in intervals], [hi for _, hi in intervals]
    pad = max(1.0, 0.08 * (max(highs) - min(lows)))
    ax.set_ylim(min(lows) - pad, max(highs) + pad)
    ax.margins(x=0.12)
    ax.autoscale_view()
    left, right = ax.get_xlim()
    ax.set_xlim(left if ax.get_xscale() == "log" else max(left, 0.0), right)  # frozen: data -> axes below is final
    to_axes = ax.transData + ax.transAxes.inverted()
    wanted = [float(to_axes.transform((x, y))[1]) for x, y in pts]
    for r, (x, y), height, wobbly, i in zip(members, pts, spread_labels(wanted), shaky, range(len(members))):
        text = r.name + (" (ref)" if r.is_reference else "") + (" — unsteady" if wobbly else "")
        ax.annotate(
            text, (x, y), xytext=(1.03, height), textcoords="axes fraction", va="center", ha="left", fontsize=8,
            fontweight="bold" if i in chosen or i in front else "normal",
            color="tab:orange" if i in chosen else "darkgreen" if i in front else "0.25",
            arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.6, "shrinkA": 0, "shrinkB": 4},
            annotation_clip=False,
        )
    ax.legend(loc="lower right", fontsize=7, title="marker area ~ file size; red: fp32 reference; hollow: "
              "unsteady timing", title_fontsize=6)


def plot_pareto(rows: Sequence[BenchResult], path: str | Path, picked: Picked | None = None) -> Path:
    """Draw the accuracy/latency trade-off of every device x batch size and save it atomically as PNG."""
    # a bare Figure renders with the Agg canvas: no pyplot, no backend switch, no window
    from matplotlib.figure import Figure

    todo = panels(rows) or [("(none)", 0, 0, [])]
    ncols = min(MAX_COLUMNS, len(todo))
    nrows = math.ceil(len(todo) / ncols)
    fig = Figure(figsize=(8.5 * ncols, 5.2 * nrows), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    biggest = max((r.size_bytes for r in rows if r.ok), default=0) or 1
    for ax, (device, batch, threads, members) in zip(axes, todo):
        title = (f"{device} · batch {batch} · {threads} threads" if members else f"{device}: nothing measured")
        _draw_panel(ax, members, title, biggest, picked)
    for ax in axes[len(todo):]:
        ax.set_visible(False)
    fig.suptitle(f"seefood bench: accuracy vs latency (unsteady timing: {SPREAD_RULE})", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())
