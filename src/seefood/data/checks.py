"""Decode every image once before training, so a corrupt file is reported up front, never mid-epoch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, UnidentifiedImageError

from seefood.data.records import BadImage, Sample
from seefood.errors import DataError
from seefood.preprocessing import PixelLimits

log = logging.getLogger(__name__)
MAX_LISTED = 10  # bad files named in an error message; the log has all of them


def decode_problem(sample: Sample, limits: PixelLimits | None = None) -> str | None:
    """Why `sample` cannot be used (None when it decodes fully): unreadable, or refused by the pixel policy
    (read from the header, so a decompression bomb is never decoded)."""
    try:
        if sample.path.stat().st_size == 0:
            return "empty file"
        with Image.open(sample.path) as im:
            refused = (limits or PixelLimits()).problem(*im.size)
            if refused is not None:
                return refused
            im.verify()  # structure and checksums (PNG CRCs)
        with Image.open(sample.path) as im:
            im.load()  # the real decode: catches truncated JPEG data that verify() accepts
            if im.width < 1 or im.height < 1:
                return f"image has no pixels ({im.width}x{im.height})"
    except UnidentifiedImageError:
        return "not a readable image (unknown or broken format)"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # PIL raises OSError for truncated data, SyntaxError/ValueError for broken headers
        return f"{type(exc).__name__}: {exc}"
    return None


def check_images(
    samples: Sequence[Sample], strict: bool = False, workers: int = 2, limits: PixelLimits | None = None
) -> tuple[tuple[Sample, ...], tuple[BadImage, ...]]:
    """Decode every image: (good, bad). Bad files are logged; `strict=True` raises DataError listing them."""
    log.info("decoding %d images to leave out broken ones and those outside the pixel limits", len(samples))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # PIL releases the GIL while decoding
        problems = list(pool.map(lambda s: decode_problem(s, limits), samples, chunksize=64))
    good = tuple(s for s, p in zip(samples, problems) if p is None)
    bad = tuple(BadImage(s, p) for s, p in zip(samples, problems) if p is not None)
    for b in bad:
        log.warning("leaving out %s: %s", b.path, b.reason)
    if bad and strict:
        listed = "; ".join(f"{b.path} ({b.reason})" for b in bad[:MAX_LISTED])
        more = f" and {len(bad) - MAX_LISTED} more (see the log)" if len(bad) > MAX_LISTED else ""
        raise DataError(
            f"{len(bad)} image(s) cannot be used: {listed}{more}. Fix or delete them, "
            f"or run without --strict to leave them out"
        )
    if bad:
        log.warning("left out %d unusable image(s) of %d", len(bad), len(samples))
    return good, bad
