"""Matplotlib figures for TensorBoard and reports, built without pyplot (no global backend state)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from seefood.preprocessing import Preprocessing

_LABELLED_MAX = 30  # above this many classes, tick labels and cell counts become unreadable


def confusion_figure(confusion: np.ndarray, class_names: tuple[str, ...], title: str = "") -> Figure:
    """Row-normalised confusion matrix (true class down, predicted class across)."""
    n = len(class_names)
    totals = confusion.sum(axis=1, keepdims=True)
    norm = np.divide(confusion, totals, out=np.zeros(confusion.shape, dtype=np.float64), where=totals > 0)
    side = min(4.0 + 0.35 * n, 24.0)
    fig = Figure(figsize=(side, side), dpi=80)
    FigureCanvasAgg(fig)
    margin = min(0.3, 1.6 / side) if n <= _LABELLED_MAX else 0.1  # room for class-name ticks
    ax = fig.add_axes((margin, margin, 0.86 - margin, 0.86 - margin))
    image = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, cax=fig.add_axes((0.9, margin, 0.03, 0.86 - margin)))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    if n <= _LABELLED_MAX:
        ax.set_xticks(range(n), labels=class_names, rotation=90, fontsize=8)
        ax.set_yticks(range(n), labels=class_names, fontsize=8)
        for i in range(n):
            for j in range(n):
                if confusion[i, j]:
                    ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    return fig


def predictions_grid(
    images: np.ndarray, labels: list[int], predictions: list[int], class_names: tuple[str, ...],
    preprocessing: Preprocessing, cell: int = 112,
) -> np.ndarray:
    """Input images tiled 4 across, each captioned `predicted (true)` in green when right, red when wrong.

    Drawn with PIL rather than matplotlib subplots: it runs every epoch and must stay cheap.
    """
    count = len(images)
    cols = max(1, min(4, count))
    rows = max(1, -(-count // cols))
    caption = 28
    canvas = Image.new("RGB", (cols * cell, rows * (cell + caption)), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    mean = np.asarray(preprocessing.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(preprocessing.std, dtype=np.float32)[:, None, None]
    for k in range(count):
        pixels = np.clip(images[k] * std + mean, 0.0, 1.0).transpose(1, 2, 0)
        tile = Image.fromarray((pixels * 255).round().astype(np.uint8)).resize((cell, cell), Image.Resampling.NEAREST)
        x, y = (k % cols) * cell, (k // cols) * (cell + caption)
        canvas.paste(tile, (x, y))
        colour = (0, 140, 0) if labels[k] == predictions[k] else (200, 0, 0)
        draw.text((x + 3, y + cell + 2), class_names[predictions[k]][:18], fill=colour, font=font)
        draw.text((x + 3, y + cell + 14), f"({class_names[labels[k]][:16]})", fill=(60, 60, 60), font=font)
    return np.asarray(canvas)


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render a figure to an HxWx3 uint8 array (TensorBoard's add_image, dataformats HWC)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def figure_to_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes (written with seefood.io.atomic_write_bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
