"""Helpers of the Space tests: the tiny ONNX artifact, a decision.json, a bomb-like PNG header."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from seefood.io import dir_size
from seefood.metadata import ModelMeta
from seefood.models import create_model, get_spec
from seefood.space.uploads import UploadLimits
from tests.conftest import SAMPLE_CLASSES

CLASSES = SAMPLE_CLASSES  # the shared generated sample dataset is the parity data
CLASS_COUNTS = {"donut": 10, "pizza": 20, "salad": 30, "sushi": 40}
# where tests keep what people may want to look at (the Space's screenshot); git-ignored under runs/
TEST_OUTPUT = Path(os.environ.get("SEEFOOD_TEST_OUTPUT") or Path(__file__).resolve().parents[2] / "runs" / "test-output")
# small limits, so "too large" and "too many pixels" need only small files
TEST_LIMITS = UploadLimits(max_bytes=300_000, max_pixels=4_000_000, min_side=16)


def export_tiny_onnx(out: Path, parity_data: Path) -> Path:
    """`create_model("tiny", 4)` saved as a checkpoint (metrics.class_counts) and exported to ONNX by
    `seefood.export.run_export` (parity checked on `parity_data`); returns the artifact folder."""
    import torch

    from seefood.checkpoint import save_checkpoint
    from seefood.export import ExportConfig, run_export

    torch.manual_seed(0)
    torch.set_num_threads(1)
    meta = ModelMeta("tiny", CLASSES, get_spec("tiny").preprocessing, metrics={"class_counts": CLASS_COUNTS})
    save_checkpoint(out / "checkpoint", create_model("tiny", len(CLASSES)), meta)
    report = run_export(ExportConfig(checkpoint=out / "checkpoint", out=out / "export", formats=("onnx",),
                                     parity_data=parity_data, min_parity_images=16, parity_size=32, threads=1,
                                     latency_runs=0))
    row = next(r for r in report.rows if r.name == "onnx-fp32")
    if row.status != "passed" or row.path is None:
        raise RuntimeError(f"the ONNX export failed: {row.status}: {row.reason}")
    return out / "export" / row.path


def write_decision(report: Path, artifact: Path, **changes: Any) -> Path:
    """A decision.json as `seefood pick` writes it (the numbers are this fixture's own)."""
    report.mkdir(parents=True, exist_ok=True)
    decision = {
        "artifact": str(artifact.resolve()), "name": artifact.name, "format": "onnx", "precision": "fp32",
        "device": "cpu", "batch_size": 1, "size_bytes": dir_size(artifact),
        "top1": 81.25, "top5": 100.0, "latency_ms": {"p50": 0.42, "p90": 0.51, "p99": 0.77},
        "threads": 2, "why": "onnx-fp32: the smallest on disk of the 1 artifact(s) within 1.0 top-1 points",
        "reference": {"artifact": str(artifact.parent.parent / "checkpoint"), "name": "checkpoint", "top1": 82.5},
        "rules": {"max_drop": 1.0, "budget_ms": None},
        "rejected": [{"name": "onnx-int8", "rule": "max_drop", "detail": "top-1 drop 3.1 > 1.0 points"}],
        "created": "2025-01-01T00:00:00+00:00", **changes,
    }
    path = report / "decision.json"
    path.write_text(json.dumps(decision), encoding="utf-8")
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height but holds almost no data: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path
