"""seefood: take a food-image classifier from training to the edge.

The Python API (docs/api.md) mirrors the CLI, each function returning the record the command prints:
`seefood.train(...)`, `seefood.evaluate(...)`, `seefood.export(...)`, `seefood.bench(...)`, `seefood.pick(...)`
and `seefood.load(path).predict(image)`; they live in `seefood.api`.

Importing the package has no side effects and does not import torch, so the runtime modules can be used where
only ONNX Runtime or OpenVINO is installed: the API is imported on first use.

`seefood.train`, `seefood.export` and `seefood.bench` are also the names of subpackages. Whichever is imported
first, `seefood.train` is the subpackage, made callable: `seefood.train(...)` runs `seefood.api.train(...)`, and
`seefood.train.loop` is still the module.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

_API = ("Model", "evaluate", "load", "pick", "target_formats")  # seefood.X is seefood.api.X
_CALLABLE_PACKAGES = ("train", "export", "bench")  # subpackages whose call runs the API function of that name


class _CallablePackage(types.ModuleType):
    """A subpackage that is also the API function of its name (`seefood.bench(...)` -> `seefood.api.bench(...)`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        api = importlib.import_module("seefood.api")
        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    """The `seefood` package: subpackage attributes made callable as they are read."""

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in _CALLABLE_PACKAGES and type(value) is types.ModuleType:
            value.__class__ = _CallablePackage
        return value


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("seefood.api"), name)
    if name in _CALLABLE_PACKAGES:  # not imported yet: import it (cheap: these packages load lazily)
        return importlib.import_module(f"seefood.{name}")
    raise AttributeError(f"module 'seefood' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API, *_CALLABLE_PACKAGES})


sys.modules[__name__].__class__ = _Package
