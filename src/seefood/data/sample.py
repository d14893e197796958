"""The generated sample dataset: drawn food-like pictures, so the demo and tests need no download.

Five visually distinct classes are drawn with PIL at random position, scale, rotation, perspective
squash, background and noise, then saved as JPEG in ImageFolder layout. The `tiny` model learns
them to > 90 % test accuracy in well under a minute on a laptop CPU; real photos are still needed
to judge a real model.
"""

from __future__ import annotations

import io
import logging
import math
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from seefood.errors import ConfigError
from seefood.io import atomic_dir, atomic_write_json, atomic_write_text, read_json

log = logging.getLogger(__name__)

GENERATOR_VERSION = 2  # bump when the drawings change, so cached copies are regenerated
SAMPLE_MANIFEST = "sample.json"
RGB = tuple[int, int, int]
Rng = np.random.Generator


@dataclass(frozen=True)
class SampleConfig:
    """How the sample dataset is generated (the defaults are the bundled demo dataset)."""

    per_class_train: int = 60  # training images per class
    per_class_test: int = 20  # test images per class
    size: int = 96  # side of the square JPEGs, in pixels
    seed: int = 0  # same seed -> byte-identical files
    classes: tuple[str, ...] = ()  # empty: every drawable class (DEFAULT_CLASSES)

    def __post_init__(self) -> None:
        if self.per_class_train < 1 or self.per_class_test < 1:
            raise ConfigError("per-class image counts must be >= 1 (e.g. --per-class-train 60 --per-class-test 20)")
        if self.size < 32:
            raise ConfigError(f"--size must be at least 32 pixels, got {self.size}")
        unknown = [c for c in self.classes if c not in DRAWERS]
        if unknown:
            raise ConfigError(f"cannot draw class(es) {unknown}: choose from {', '.join(DEFAULT_CLASSES)}")
        if len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"duplicate class names in {list(self.classes)}")
        if self.classes and len(self.classes) < 2:
            raise ConfigError("a classification dataset needs at least 2 classes")


def _jitter(rng: Rng, colour: RGB, amount: int = 25) -> RGB:
    """A colour varied by up to `amount` per channel."""
    r, g, b = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)
    return (r, g, b)


def _ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill: RGB | tuple[int, ...]) -> None:
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill)


def _in_disc(rng: Rng, radius: float) -> tuple[float, float]:
    """A uniform random point in a disc of `radius` around the origin."""
    angle, dist = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.uniform(0, 1))
    return dist * math.cos(angle), dist * math.sin(angle)


def _draw_pizza(draw: ImageDraw.ImageDraw, rng: Rng, c: float, r: float) -> None:
    """Tan crust disc, red sauce, yellow cheese blobs and dark-red pepperoni."""
    _ellipse(draw, c, c, r, r, _jitter(rng, (214, 160, 90)))
    _ellipse(draw, c, c, 0.84 * r, 0.84 * r, _jitter(rng, (196, 45, 30)))
    for _ in range(rng.integers(10, 22)):
        dx, dy = _in_disc(rng, 0.7 * r)
        s = rng.uniform(0.06, 0.14) * r
        _ellipse(draw, c + dx, c + dy, s * rng.uniform(0.8, 1.6), s, _jitter(rng, (245, 205, 80)))
    for _ in range(rng.integers(4, 9)):
        dx, dy = _in_disc(rng, 0.62 * r)
        s = rng.uniform(0.1, 0.15) * r
        _ellipse(draw, c + dx, c + dy, s, s, _jitter(rng, (140, 20, 25)))
    if rng.uniform() < 0.3:  # a slice already eaten
        start = rng.uniform(0, 360)
        draw.pieslice((c - r - 2, c - r - 2, c + r + 2, c + r + 2), start, start + rng.uniform(35, 60),
                      fill=(0, 0, 0, 0))


def _draw_sushi(draw: ImageDraw.ImageDraw, rng: Rng, c: float, r: float) -> None:
    """A row of white rice blocks on a wooden board, each wrapped by a wide nori band, most topped with fish."""
    n = int(rng.integers(2, 5))
    w, h = 1.9 * r / n, rng.uniform(0.5, 0.75) * r
    if rng.uniform() < 0.6:  # a geta board
        pad = 0.12 * r
        draw.rectangle((c - r - pad, c - h / 2 - 2 * pad, c + r + pad, c + h / 2 + 2 * pad), fill=_jitter(rng, (150, 95, 50)))
    topping = _jitter(rng, (250, 125, 80)) if rng.uniform() < 0.6 else _jitter(rng, (200, 40, 50))
    for i in range(n):
        x0 = c - 0.95 * r + i * w + 0.06 * w
        x1, y0, y1 = x0 + 0.88 * w, c - h / 2, c + h / 2
        draw.rounded_rectangle((x0, y0, x1, y1), radius=0.25 * w, fill=_jitter(rng, (246, 244, 236), 8),
                               outline=(40, 40, 40), width=max(1, int(0.03 * r)))
        if rng.uniform() < 0.7:
            draw.rounded_rectangle((x0, y0, x1, y0 + 0.35 * h), radius=0.2 * w, fill=topping)
        band = rng.uniform(0.25, 0.4) * w
        mid = (x0 + x1) / 2 + rng.uniform(-0.1, 0.1) * w
        draw.rectangle((mid - band / 2, y0 - 1, mid + band / 2, y1 + 1), fill=_jitter(rng, (22, 32, 24), 10))


def _draw_salad(draw: ImageDraw.ImageDraw, rng: Rng, c: float, r: float) -> None:
    """Many small leaves in varied greens with a few tomato and onion pieces."""
    for _ in range(rng.integers(35, 60)):
        dx, dy = _in_disc(rng, 0.9 * r)
        s = rng.uniform(0.08, 0.17) * r
        green = _jitter(rng, (70, 160, 50), 40)
        _ellipse(draw, c + dx, c + dy, s * rng.uniform(1.0, 1.8), s, green)
    for colour in ((215, 40, 35), (150, 60, 140)):
        for _ in range(rng.integers(2, 6)):
            dx, dy = _in_disc(rng, 0.7 * r)
            s = rng.uniform(0.07, 0.12) * r
            _ellipse(draw, c + dx, c + dy, s, s, _jitter(rng, colour))


def _draw_donut(draw: ImageDraw.ImageDraw, rng: Rng, c: float, r: float) -> None:
    """A brown ring with coloured icing and sprinkles around a see-through hole."""
    _ellipse(draw, c, c, r, r, _jitter(rng, (200, 140, 70)))
    icing = [(240, 140, 180), (90, 50, 30), (245, 240, 230)][int(rng.integers(0, 3))]
    _ellipse(draw, c, c, 0.86 * r, 0.86 * r, _jitter(rng, icing, 15))
    for _ in range(rng.integers(12, 30)):
        angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0.45, 0.8) * r
        x, y = c + dist * math.cos(angle), c + dist * math.sin(angle)
        length, turn = 0.07 * r, rng.uniform(0, math.pi)
        colour = tuple(int(v) for v in rng.integers(40, 256, size=3))
        draw.line((x, y, x + length * math.cos(turn), y + length * math.sin(turn)), fill=colour,
                  width=max(1, int(0.035 * r)))
    hole = rng.uniform(0.3, 0.38) * r
    _ellipse(draw, c, c, hole, hole, (0, 0, 0, 0))


def _draw_soup(draw: ImageDraw.ImageDraw, rng: Rng, c: float, r: float) -> None:
    """A ceramic bowl rim seen from above, filled with orange soup and a few green herbs."""
    _ellipse(draw, c, c, r, r, _jitter(rng, [(235, 235, 230), (60, 90, 160), (120, 120, 125)][int(rng.integers(0, 3))]))
    _ellipse(draw, c, c, 0.8 * r, 0.8 * r, _jitter(rng, (235, 120, 30), 20))
    if rng.uniform() < 0.6:  # a swirl of cream
        _ellipse(draw, c + rng.uniform(-0.2, 0.2) * r, c, 0.3 * r, 0.18 * r, _jitter(rng, (250, 235, 200), 8))
    for _ in range(rng.integers(3, 10)):
        dx, dy = _in_disc(rng, 0.6 * r)
        s = rng.uniform(0.03, 0.06) * r
        _ellipse(draw, c + dx, c + dy, s, s, _jitter(rng, (40, 130, 40)))


# class name -> drawing function(draw, rng, centre, radius) on a transparent square layer
DRAWERS: dict[str, Callable[[ImageDraw.ImageDraw, Rng, float, float], None]] = {
    "donut": _draw_donut,
    "pizza": _draw_pizza,
    "salad": _draw_salad,
    "soup": _draw_soup,
    "sushi": _draw_sushi,
}
DEFAULT_CLASSES: tuple[str, ...] = tuple(sorted(DRAWERS))
DEFAULT_SAMPLE = SampleConfig()  # what `--data sample` generates and caches


def _background(rng: Rng, side: int) -> Image.Image:
    """A random table colour with a soft gradient and faint stripes (a table cloth)."""
    grey, tint = rng.uniform(50, 210), rng.uniform(-35, 35, size=3)  # muted: the food carries the colour
    top = np.clip(grey + tint, 0, 255).astype(np.float32)
    bottom = np.clip(top + rng.uniform(-40, 40, size=3), 0, 255)
    t = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None, None]
    arr = np.broadcast_to(top * (1 - t) + bottom * t, (side, side, 3)).copy()
    if rng.uniform() < 0.4:
        period = int(rng.integers(8, 24))
        stripes = (np.arange(side) // period) % 2 == 0
        arr[:, stripes] *= rng.uniform(0.8, 0.95)
    return Image.fromarray(arr.astype(np.uint8))


def render_image(class_name: str, rng: Rng, size: int) -> Image.Image:
    """Draw one picture of `class_name` (RGB, size x size) from the random stream `rng`."""
    side = 2 * size  # draw at twice the size, then downsample: smooth edges
    canvas = _background(rng, side)
    if rng.uniform() < 0.5:  # a plate under some of the food, whatever the class
        plate = ImageDraw.Draw(canvas)
        pr = rng.uniform(0.38, 0.48) * side
        _ellipse(plate, side / 2, side / 2, pr, pr * rng.uniform(0.75, 1.0), _jitter(rng, (232, 232, 228), 12))
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    DRAWERS[class_name](ImageDraw.Draw(layer), rng, side / 2, rng.uniform(0.3, 0.44) * side)
    squash = rng.uniform(0.7, 1.0)  # seen at an angle: circles become ellipses
    layer = layer.resize((side, max(1, int(side * squash))), Image.Resampling.BILINEAR)
    layer = layer.rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR, expand=False)
    shift = rng.uniform(-0.15, 0.15, size=2) * side
    canvas.paste(layer, (int(shift[0]), int(shift[1] + side * (1 - squash) / 2)), layer)
    image = canvas.resize((size, size), Image.Resampling.LANCZOS)
    arr = np.asarray(image, dtype=np.float64) * rng.uniform(0.75, 1.2)  # lighting
    arr += rng.normal(0.0, rng.uniform(2.0, 10.0), size=arr.shape)  # sensor noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _image_rng(seed: int, split: str, class_name: str, index: int) -> Rng:
    """Each image has its own stream, so any subset of classes or counts gives the same files."""
    return np.random.default_rng([seed, zlib.crc32(split.encode()), zlib.crc32(class_name.encode()), index])


def _jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _write_split(out: Path, split: str, count: int, cfg: SampleConfig, classes: Sequence[str]) -> None:
    for name in classes:
        folder = out / split / name
        folder.mkdir(parents=True)
        for i in range(count):
            rng = _image_rng(cfg.seed, split, name, i)
            image = render_image(name, rng, cfg.size)
            (folder / f"{name}_{i:04d}.jpg").write_bytes(_jpeg_bytes(image, int(rng.integers(75, 96))))


def make_sample_dataset(
    out: Path,
    per_class_train: int = 60,
    per_class_test: int = 20,
    size: int = 96,
    seed: int = 0,
    classes: Sequence[str] = DEFAULT_CLASSES,
    overwrite: bool = False,
) -> Path:
    """Write the generated dataset as ImageFolder `out/{train,test}/<class>/*.jpg` + classes.txt; return `out`."""
    cfg = SampleConfig(per_class_train, per_class_test, size, seed, tuple(classes))
    names = sorted(cfg.classes or DEFAULT_CLASSES)  # sorted: label i == line i of classes.txt, as ImageFolder
    out = Path(out)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        _write_split(tmp, "train", cfg.per_class_train, cfg, names)
        _write_split(tmp, "test", cfg.per_class_test, cfg, names)
        atomic_write_text(tmp / "classes.txt", "\n".join(names) + "\n")
        atomic_write_json(tmp / SAMPLE_MANIFEST, {"generator_version": GENERATOR_VERSION, **asdict(cfg),
                                                  "classes": names})
    log.info("wrote the sample dataset (%d classes, %d train + %d test per class, %d px) to %s",
             len(names), cfg.per_class_train, cfg.per_class_test, cfg.size, out)
    return out


def seefood_home() -> Path:
    """Where seefood caches datasets: $SEEFOOD_HOME, else ~/.cache/seefood."""
    env = os.environ.get("SEEFOOD_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seefood"


def _is_current(path: Path, cfg: SampleConfig) -> bool:
    """True when `path` holds a complete sample written by this generator version with `cfg`."""
    try:
        manifest = read_json(path / SAMPLE_MANIFEST)
    except (OSError, ValueError):
        return False
    expected = {"generator_version": GENERATOR_VERSION, **asdict(cfg),
                "classes": sorted(cfg.classes or DEFAULT_CLASSES)}
    return bool(manifest == expected)


def sample_dataset_path(home: Path | None = None) -> Path:
    """The bundled default dataset (`--data sample`): `<home>/sample`, generated on first use."""
    path = Path(home) / "sample" if home is not None else seefood_home() / "sample"
    cfg = DEFAULT_SAMPLE
    if not _is_current(path, cfg):
        log.info("generating the sample dataset in %s (first use, or made by another seefood version)", path)
        make_sample_dataset(path, cfg.per_class_train, cfg.per_class_test, cfg.size, cfg.seed,
                            cfg.classes or DEFAULT_CLASSES, overwrite=True)
    return path
