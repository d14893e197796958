"""Supported architectures: a registry of ModelSpec, and `create_model` to build one."""

from __future__ import annotations

from seefood.models import effnet, effnet_lite, timm_models, tiny, vit, vit_paper  # noqa: F401  (registers the specs)
from seefood.models.factory import build_from_meta, create_model, load_weights_file
from seefood.models.registry import ModelSpec, get_spec, model_names, register

__all__ = ["ModelSpec", "build_from_meta", "create_model", "get_spec", "load_weights_file", "model_names", "register"]
