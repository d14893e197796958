"""Prove a built Space works without torch: run it in a fresh interpreter where torch cannot be imported.

`BLOCKER` is Python source that installs a meta-path finder refusing `torch`, `torchvision` and
`seefood` (the Space installs neither) and records every attempt; the builder runs the bundled
service on the examples behind it, and the tests serve the whole app behind it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from seefood.errors import ExportError

log = logging.getLogger(__name__)
BLOCKED_MODULES = ("torch", "torchvision", "seefood")

BLOCKER = f"""
import importlib.abc, sys
BLOCKED_ATTEMPTS = []
class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED_MODULES!r}:
            BLOCKED_ATTEMPTS.append(name)
            raise ModuleNotFoundError(f"{{name}} is blocked: a Space installs neither torch nor seefood", name=name)
        return None
sys.meta_path.insert(0, _Blocker())
"""

_CHECK = BLOCKER + """
import json, sys, tempfile
sys.path.insert(0, ".")
from seefood_runtime.space.service import SpaceService
import seefood_runtime.space.ui  # the gradio layer must import without torch as well
with tempfile.TemporaryDirectory() as tmp:
    service = SpaceService.from_folder(".", log_path=tmp + "/verify.sqlite")
    results = [[p.name, *service.classify(p).labels[0]] for p in service.example_paths]
    service.close()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "seefood"))
print(json.dumps({"results": results, "blocked": BLOCKED_ATTEMPTS, "loaded": loaded}))
"""


@dataclass(frozen=True)
class Verification:
    """What the torch-free check saw."""

    results: tuple[tuple[str, str, float], ...]  # example file, top-1 label, probability
    blocked: tuple[str, ...]  # imports of torch/seefood that were attempted (and refused)


def verify_space(space: Path, timeout_s: float = 300.0) -> Verification:
    """Import the Space's app and classify its examples in a torch-free subprocess; ExportError on failure."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    try:
        proc = subprocess.run([sys.executable, "-c", _CHECK], cwd=space, env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ExportError(f"the built Space did not answer within {timeout_s:.0f} s in the torch-free check") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise ExportError(f"the built Space fails without torch (nothing was written):\n{tail}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["loaded"]:
        raise ExportError(f"the built Space imported {report['loaded']}, which a Space does not have")
    if report["blocked"]:
        log.info("the Space tried and did without: %s", ", ".join(sorted(set(report["blocked"]))))
    return Verification(tuple((str(n), str(label), float(p)) for n, label, p in report["results"]),
                        tuple(report["blocked"]))
