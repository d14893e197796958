"""Deployment preprocessing, defined once and implemented with PIL + numpy only.

Training evaluation, export calibration, parity checks, every runtime and the Space all call
`Preprocessing.apply`, so a photo becomes the same tensor everywhere (no torch needed).
The steps match torchvision's eval transforms: Resize(shorter side) -> CenterCrop -> scale to
[0, 1] -> Normalize, laid out NCHW.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

_PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How a photo becomes a model input; stored in every checkpoint and artifact."""

    resize: int  # shorter side after resizing, in pixels
    crop: int  # square centre crop, in pixels (the model's input size)
    interpolation: str = "bilinear"  # one of nearest, bilinear, bicubic, lanczos
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    layout: str = "NCHW"  # input layout of the model: float32, RGB, normalised

    def __post_init__(self) -> None:
        if self.interpolation not in _PIL_FILTERS:
            raise ValueError(f"interpolation must be one of {sorted(_PIL_FILTERS)}, got {self.interpolation!r}")
        if self.crop <= 0 or self.resize < self.crop:
            raise ValueError(f"need 0 < crop <= resize, got crop={self.crop}, resize={self.resize}")

    def with_size(self, crop: int) -> Preprocessing:
        """The same recipe at another input size, keeping the resize/crop ratio."""
        resize = round(crop * self.resize / self.crop)
        return Preprocessing(resize, crop, self.interpolation, self.mean, self.std, self.layout)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        """Inverse of to_dict."""
        return cls(
            resize=int(d["resize"]), crop=int(d["crop"]), interpolation=str(d.get("interpolation", "bilinear")),
            mean=tuple(float(x) for x in d.get("mean", IMAGENET_MEAN)),  # type: ignore[arg-type]
            std=tuple(float(x) for x in d.get("std", IMAGENET_STD)),  # type: ignore[arg-type]
            layout=str(d.get("layout", "NCHW")),
        )

    def resize_crop(self, image: Image.Image) -> Image.Image:
        """Resize the shorter side to `resize` (as torchvision does) and centre-crop to `crop`."""
        image = to_rgb(image)
        w, h = image.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = self.resize, int(self.resize * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            image = image.resize((new_w, new_h), _PIL_FILTERS[self.interpolation])
        top = round((new_h - self.crop) / 2.0)
        left = round((new_w - self.crop) / 2.0)
        return image.crop((left, top, left + self.crop, top + self.crop))

    def apply(self, image: Image.Image) -> np.ndarray:
        """One image -> float32 array (3, crop, crop), normalised."""
        scaled = np.asarray(self.resize_crop(image), dtype=np.float32) / np.float32(255.0)
        normed = (scaled - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(normed.transpose(2, 0, 1), dtype=np.float32)

    def batch(self, images: list[Any]) -> np.ndarray:
        """PIL images or HxWx3 uint8 arrays -> float32 batch (N, 3, crop, crop)."""
        return np.stack([self.apply(as_pil(im)) for im in images]).astype(np.float32, copy=False)


@dataclass(frozen=True)
class PixelLimits:
    """The size of photo that every command and the Space accept: one policy, read from the header.

    `seefood predict`, the bench and evaluation loaders (via `seefood.data.check_images`) and the Space's
    upload checks all ask `problem`, so an image is refused or classified the same way everywhere.
    """

    max_pixels: int = 40_000_000  # width * height: a 169 MP PNG of 0.5 MB would take 1.4 GB decoded
    min_side: int = 16  # smaller images carry no usable detail

    def __post_init__(self) -> None:
        if self.max_pixels <= 0 or self.min_side <= 0:
            raise ValueError(f"pixel limits must be positive, got {self}")

    def problem(self, width: int, height: int) -> str | None:
        """Why a `width` x `height` image is refused (None when it is accepted)."""
        if width * height > self.max_pixels:
            return (f"{width}x{height} pixels ({width * height / 1e6:.0f} MP); the limit is "
                    f"{self.max_pixels / 1e6:.0f} MP")
        if min(width, height) < self.min_side:
            return f"only {width}x{height} pixels; a photo needs at least {self.min_side} pixels on each side"
        return None


def as_pil(image: Any) -> Image.Image:
    """Accept a PIL image or an HxW / HxWx3 / HxWx4 uint8 array."""
    if isinstance(image, Image.Image):
        return image
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ValueError(f"expected a PIL image or a uint8 HxW[x3|x4] array, got {arr.dtype} {arr.shape}")
    return Image.fromarray(arr.squeeze(-1) if arr.ndim == 3 and arr.shape[2] == 1 else arr)


def to_rgb(image: Image.Image) -> Image.Image:
    """Apply EXIF rotation, flatten alpha onto white, and convert any mode (L, P, CMYK, I;16) to RGB."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        hi = arr.max() if arr.size else 1.0
        image = Image.fromarray((arr * (255.0 / (hi if hi > 255 else 255.0))).clip(0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")
