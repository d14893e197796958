"""seefood.space: build a PyTorch-free Gradio Space from the picked artifact, serve or push it, monitor it.

The modules the Space itself runs (service, ui, uploads, predlog, reference, monitor) are torch-free;
`bundle` copies them into the Space as the `seefood_runtime` package.
"""

from __future__ import annotations

from seefood.space.builder import SpaceBuild, SpaceConfig, build_space
from seefood.space.hub import PushConfig, ServeConfig, push_space, serve_space
from seefood.space.monitor import MonitorConfig, MonitorReport, monitor_log
from seefood.space.monitor_files import run_monitor

__all__ = [
    "MonitorConfig", "MonitorReport", "PushConfig", "ServeConfig", "SpaceBuild", "SpaceConfig", "build_space",
    "monitor_log", "push_space", "run_monitor", "serve_space",
]
