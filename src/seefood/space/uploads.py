"""Validate an uploaded file and decode it into one RGB photo, or say clearly why not (torch-free).

The Space receives uploads as file paths (the Gradio UI) or bytes (the JSON endpoint) so that this
module, not the web framework, decides what is acceptable: empty, oversized, truncated, non-image and
decompression-bomb files are refused with a message for the user; grayscale, CMYK, RGBA, palette, 16-bit, animated (first frame) and
EXIF-rotated images are converted by `seefood.preprocessing.to_rgb`.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from seefood.errors import DataError
from seefood.preprocessing import PixelLimits, to_rgb

# formats a browser upload may reasonably be; anything else is refused before decoding
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO")
_EXIF_ORIENTATION = 0x0112


class UploadError(DataError):
    """An upload cannot be classified; the message is shown to the person who uploaded it.

    `nbytes` and `sha256` describe the refused upload for the log (never its bytes), where known;
    `status` is the HTTP status the JSON endpoint answers with.
    """

    def __init__(self, message: str, nbytes: int | None = None, sha256: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.nbytes = nbytes
        self.sha256 = sha256
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    """What the Space accepts; the defaults suit phone photos on a small CPU Space."""

    max_bytes: int = 20 * 1024 * 1024  # file size limit (also given to gradio's max_file_size)
    max_pixels: int = PixelLimits.max_pixels  # width * height limit, checked from the header before decoding
    min_side: int = PixelLimits.min_side  # smaller images carry no usable detail

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0 or self.min_side <= 0:
            raise ValueError(f"upload limits must be positive, got {self}")

    @property
    def pixels(self) -> PixelLimits:
        """The pixel policy shared with `seefood predict`, bench and evaluation."""
        return PixelLimits(self.max_pixels, self.min_side)


@dataclass(frozen=True)
class LoadedImage:
    """A decoded upload: the RGB image (EXIF orientation applied) and facts for the log."""

    image: Image.Image
    width: int  # after EXIF rotation
    height: int
    sha256: str  # of the uploaded bytes
    nbytes: int
    format: str  # PIL format name of the file, e.g. "JPEG"
    note: str  # what was converted, e.g. "CMYK -> RGB, first of 12 frames"; empty when nothing
    data: bytes = field(repr=False, default=b"")  # the uploaded bytes (kept for --log-images)


def _human(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1_000_000 else f"{nbytes / 1e3:.0f} kB"


def _too_large(nbytes: int, limits: UploadLimits) -> str:
    return (f"The file is {_human(nbytes)}; the limit is {_human(limits.max_bytes)}: "
            f"please upload a smaller or more compressed photo.")


def _read_bytes(path: Path, limits: UploadLimits) -> bytes:
    """The file's bytes, after the existence, emptiness and size checks."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UploadError("The upload did not arrive (file missing): please upload the photo again.") from None
    if not path.is_file():
        raise UploadError("That is not a file: please upload a photo (JPEG, PNG, WebP, GIF or BMP).")
    if size > limits.max_bytes:  # refused from its size alone: never read (nor hashed)
        raise UploadError(_too_large(size, limits), nbytes=size, status=413)
    try:
        return path.read_bytes()
    except FileNotFoundError:  # deleted between the checks and the read
        raise UploadError("The upload did not arrive (file missing): please upload the photo again.") from None


def _open_checked(data: bytes, limits: UploadLimits) -> Image.Image:
    """Open the header only (no pixel decoding) and check the format and pixel count."""
    try:
        with warnings.catch_warnings():
            # PIL warns above Image.MAX_IMAGE_PIXELS and raises above twice that; both are bombs here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            "The image has far too many pixels (a decompression bomb?): please upload an ordinary photo."
        ) from None
    except UnidentifiedImageError:
        raise UploadError(
            "This file is not an image we can read: please upload a JPEG, PNG, WebP, GIF or BMP photo."
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:  # PIL raises these for broken headers
        raise UploadError(f"The image header is corrupt ({exc}): please re-save the photo and upload it again.") from None
    if image.format not in ALLOWED_FORMATS:
        image.close()
        raise UploadError(
            f"{image.format or 'This'} files are not accepted: please upload a JPEG, PNG, WebP, GIF or BMP photo."
        )
    problem = limits.pixels.problem(*image.size)
    if problem is not None:
        image.close()
        raise UploadError(f"The image is {problem}: please upload an ordinary photo (at least {limits.min_side} "
                          f"pixels on each side, at most {limits.max_pixels / 1e6:.0f} MP).")
    return image


def load_upload(path: str | os.PathLike[str] | None, limits: UploadLimits | None = None) -> LoadedImage:
    """Check and decode one uploaded file into an RGB image; raise UploadError with a user-facing message."""
    limits = limits or UploadLimits()
    if path is None or str(path) == "":
        raise UploadError("No image yet: upload a photo or pick an example.")
    return load_upload_bytes(_read_bytes(Path(path), limits), limits)


def load_upload_bytes(data: bytes, limits: UploadLimits | None = None) -> LoadedImage:
    """Check and decode the bytes of one upload (the JSON endpoint's request body, or a file's content).

    Every UploadError raised here carries the upload's size and sha256 for the log.
    """
    limits = limits or UploadLimits()
    if len(data) > limits.max_bytes:
        raise UploadError(_too_large(len(data), limits), nbytes=len(data), status=413)
    digest = hashlib.sha256(data).hexdigest()
    try:
        return _decode(data, digest, limits)
    except UploadError as exc:
        exc.nbytes, exc.sha256 = len(data), digest
        raise


def _decode(data: bytes, digest: str, limits: UploadLimits) -> LoadedImage:
    if not data:
        raise UploadError("The file is empty (0 bytes): please upload a photo.")
    image = _open_checked(data, limits)
    file_format = str(image.format)
    notes = []
    try:
        frames = int(getattr(image, "n_frames", 1) or 1)
        if frames > 1:
            image.seek(0)
            notes.append(f"first of {frames} frames")
        image.load()
        source_mode = image.mode
        if image.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None):
            notes.append("EXIF rotation applied")
        rgb = to_rgb(image)
        if rgb is image:
            rgb = image.copy()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UploadError(
            f"The image could not be decoded ({exc}): the file is probably truncated or corrupt; "
            f"please re-save the photo and upload it again."
        ) from None
    except MemoryError:
        raise UploadError("The image is too large to decode here: please upload a smaller photo.") from None
    finally:
        image.close()
    if source_mode != "RGB":
        notes.insert(0, f"{source_mode} -> RGB")
    return LoadedImage(
        image=rgb, width=rgb.width, height=rgb.height, sha256=digest,
        nbytes=len(data), format=file_format, note=", ".join(notes), data=data,
    )
