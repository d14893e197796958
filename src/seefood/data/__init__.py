"""seefood.data: datasets (generated sample, Food-101, ImageFolder), splits, checks and transforms.

The torch-dependent names (`ImageDataset`, transforms) are imported on first use, so reading
dataset records stays torch-free.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seefood.data.checks import check_images
from seefood.data.datasets import NAMED_DATASETS, DataConfig, load_data
from seefood.data.folders import IMAGE_EXTENSIONS
from seefood.data.records import SPLITS, BadImage, DataSplits, Sample
from seefood.data.sample import (
    DEFAULT_CLASSES,
    SampleConfig,
    make_sample_dataset,
    sample_dataset_path,
    seefood_home,
)

if TYPE_CHECKING:
    from seefood.data.dataset import ImageDataset
    from seefood.data.transforms import AUGMENTATIONS, eval_transform, train_transform

_LAZY = {
    "ImageDataset": "seefood.data.dataset",
    "eval_transform": "seefood.data.transforms",
    "train_transform": "seefood.data.transforms",
    "AUGMENTATIONS": "seefood.data.transforms",
}

__all__ = [
    "AUGMENTATIONS", "DEFAULT_CLASSES", "IMAGE_EXTENSIONS", "NAMED_DATASETS", "SPLITS", "BadImage", "DataConfig",
    "DataSplits", "ImageDataset", "Sample", "SampleConfig", "check_images", "eval_transform", "load_data",
    "make_sample_dataset", "sample_dataset_path", "seefood_home", "train_transform",
]


def __getattr__(name: str) -> Any:
    """Import the torch-dependent names lazily."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seefood.data' has no attribute {name!r}")
