"""Which devices exist here: one probe per device key, and the host facts written to env.json."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seefood.versions import library_versions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    """A device key as asked on the command line, and whether this machine has it."""

    key: str  # "cpu", "cuda"
    available: bool
    name: str  # hardware name ("AMD EPYC 7B13", "NVIDIA H100 80GB HBM3"), "" when absent
    reason: str = ""  # why it is not available (goes into the "skipped" row)
    driver: str | None = None  # GPU driver version when known


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _nvidia_driver() -> str | None:
    """Driver version from nvidia-smi, None where the tool is absent or silent."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def probe_cpu() -> DeviceInfo:
    """The CPU is always there."""
    return DeviceInfo(key="cpu", available=True, name=cpu_model())


def probe_cuda() -> DeviceInfo:
    """A CUDA GPU as torch sees it; unavailable with the reason otherwise."""
    try:
        import torch
    except ImportError:
        return DeviceInfo("cuda", False, "", reason="torch is not installed, so CUDA cannot be probed")
    if not torch.cuda.is_available():
        return DeviceInfo(
            "cuda", False, "",
            reason="no CUDA device here (torch.cuda.is_available() is False): run on a machine with an NVIDIA GPU",
        )
    return DeviceInfo("cuda", True, torch.cuda.get_device_name(0), driver=_nvidia_driver())


# device key (CLI value) -> probe
DEVICES: dict[str, Callable[[], DeviceInfo]] = {"cpu": probe_cpu, "cuda": probe_cuda}


def probe(key: str) -> DeviceInfo:
    """Probe one device key (unknown keys were rejected by BenchConfig)."""
    return DEVICES[key]()


def collect_env(threads: int, devices: tuple[str, ...], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Host facts for env.json: CPU, cores, threads, GPUs, library versions, date."""
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = None
    infos = {key: probe(key) for key in dict.fromkeys(("cpu", *devices))}
    gpus = [
        {"device": i.key, "name": i.name, "driver": i.driver} for i in infos.values() if i.key != "cpu" and i.available
    ]
    env: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "os": platform.platform(),
        "cpu_model": infos["cpu"].name,
        "cores_logical": os.cpu_count(),
        "cores_physical": physical,
        "threads": threads,
        "gpus": gpus,
        "devices": {k: {"available": i.available, "name": i.name, "reason": i.reason} for k, i in infos.items()},
        "versions": library_versions(),
    }
    try:
        import torch

        env["torch_cuda"] = torch.version.cuda
    except ImportError:
        pass
    env.update(extra or {})
    return env
