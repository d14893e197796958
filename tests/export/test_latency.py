"""The export's quick latency check: sibling artifacts timed in turn, each turn after the previous runtime idled."""

from __future__ import annotations

import types

import numpy as np
import pytest

from seefood.export import latency
from seefood.threads import POOL_IDLE_S


class _Recorder:
    """A runtime stand-in that logs its calls (and the clock's idles) in one shared list."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.log.append(self.name)
        return np.zeros((batch.shape[0], 2), dtype=np.float32)

    def sync(self) -> None:
        pass


def test_each_turn_idles_then_settles_before_the_timed_call(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    clock = types.SimpleNamespace(perf_counter=lambda: 0.0, sleep=lambda s: log.append(f"idle {s}"))
    monkeypatch.setattr(latency, "time", clock)
    times = latency.interleaved_latency_ms([_Recorder("A", log), _Recorder("B", log)], np.zeros((1, 3, 4, 4)), runs=2)
    assert len(times) == 2
    warm = ["A"] * latency.WARMUP + ["B"] * latency.WARMUP
    turn = [f"idle {POOL_IDLE_S}", "A", "A", f"idle {POOL_IDLE_S}", "B", "B"]  # idle, 1 untimed, 1 timed
    assert log == warm + turn * 2

