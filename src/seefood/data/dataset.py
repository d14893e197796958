"""`ImageDataset`: samples + a transform as a torch Dataset of (tensor, label)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from seefood.data.records import Sample
from seefood.errors import DataError
from seefood.preprocessing import to_rgb

log = logging.getLogger(__name__)


class ImageDataset(Dataset[tuple[Any, int]]):
    """Reads `samples[i]` and returns (transform(RGB image), label).

    A file that cannot be read any more (deleted or corrupted after `check_images`) is never
    silently replaced: it is logged and a DataError naming the path is raised, so a run stops
    with a clear message instead of training on different data than it reports.
    """

    def __init__(self, samples: Sequence[Sample], transform: Callable[[Image.Image], Any] | None = None) -> None:
        self.samples = tuple(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> list[int]:
        """The label of every sample, in order (for samplers and class counts)."""
        return [s.label for s in self.samples]

    def load_image(self, index: int) -> Image.Image:
        """The RGB image of sample `index`; DataError naming the file if it cannot be decoded."""
        path = self.samples[index].path
        try:
            with Image.open(path) as im:
                im.load()
                return to_rgb(im)
        except (OSError, SyntaxError, ValueError) as exc:  # PIL's decode errors (UnidentifiedImageError is OSError)
            log.error("cannot read %s (%s)", path, exc)
            raise DataError(
                f"cannot read image {path} ({type(exc).__name__}: {exc}); it changed after the data check: "
                f"restore or delete it and start again"
            ) from exc

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.load_image(index)
        return (self.transform(image) if self.transform is not None else image), self.samples[index].label
