"""One error hierarchy for seefood; every message says what to do next."""

from __future__ import annotations


class SeefoodError(Exception):
    """Base of every error seefood raises on purpose; the CLI turns it into exit code 1."""


class ConfigError(SeefoodError, ValueError):
    """A setting or argument is invalid (bad value, conflicting options)."""


class DataError(SeefoodError):
    """A dataset or image cannot be used (missing folder, corrupt file, class mismatch)."""


class MissingInputError(DataError, ConfigError):
    """A file or folder given as an argument does not exist: a bad argument (CLI exit 2)."""


class ModelError(SeefoodError):
    """A model name, weights file or architecture is unknown or unusable."""


class NoPretrainedWeightsError(ModelError, ConfigError):
    """`--weights imagenet` for a model that has no pretrained source: a bad argument (CLI exit 2)."""


class CheckpointError(SeefoodError):
    """A checkpoint is missing, incomplete, or does not match its metadata."""


class BackendMissingError(SeefoodError):
    """An optional backend (OpenVINO, TensorRT, Gradio, CUDA, ...) is not available here."""

    def __init__(self, backend: str, install: str | None = None, reason: str | None = None,
                 fix: str | None = None) -> None:
        self.backend = backend
        self.install = install
        parts = [f"{backend} is not available"]
        if reason:
            parts[0] += f" ({reason})"
        if install:
            parts.append(f"install it with: {install}")
        if fix:  # what to do instead when installing is not the answer (no GPU on this machine)
            parts.append(fix)
        super().__init__(": ".join(parts))


class ExportError(SeefoodError):
    """Converting a model to a deployment format failed."""


class ParityError(SeefoodError):
    """An exported artifact does not predict what the source model predicts."""


class OutputExistsError(SeefoodError):
    """An output path exists and would be overwritten; pass --force or choose another path."""
