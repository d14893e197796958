"""Fixtures of the bench tests: the fake runtime registered as format "fake", and fast bench settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seefood.bench import BenchConfig
from seefood.runtimes import RUNTIMES

CLASSES = ("apple_pie", "baklava", "churros", "donuts")


@pytest.fixture(autouse=True)
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_runtime() builds tests.bench.fakes.FakeRuntime for artifacts of format "fake"."""
    monkeypatch.setitem(RUNTIMES, "fake", "tests.bench.fakes:FakeRuntime")


@pytest.fixture
def quick() -> Any:
    """A BenchConfig factory with tiny run counts (no minimum time), no progress bars, one thread."""

    def make(export_dirs: tuple[Path, ...], data: Path, out: Path, **changes: Any) -> BenchConfig:
        settings: dict[str, Any] = {
            "min_runs": 3, "min_time_s": 0.0, "warmup": 1, "threads": 1, "progress": False, **changes,
        }
        return BenchConfig(export_dirs=export_dirs, data=data, out=out, **settings)

    return make
