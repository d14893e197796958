"""What the served model expects: class names, training class distribution, benchmarked latency (torch-free).

The monitor compares live traffic against this reference. It comes from the artifact metadata
(`metrics` or `extra` "class_counts"; uniform when neither is present, and the report says so)
and from the bench decision (`latency_ms`), reachable from a bench report folder, a
decision.json, an artifact folder or a built Space folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seefood.errors import DataError
from seefood.metadata import ModelMeta
from seefood.runtimes import ARTIFACT_META, read_artifact_meta

DECISION = "decision.json"
SPACE_RECORD = "space.json"  # written by `seefood space build` at the Space's root
UNIFORM = "uniform (the artifact metadata has no class_counts)"


@dataclass(frozen=True)
class Reference:
    """The model-side facts the monitor compares traffic against."""

    class_names: tuple[str, ...]
    shares: tuple[float, ...]  # training share of each class, summing to 1
    source: str  # where `shares` came from, stated in every report
    latency_ms: dict[str, float] | None = None  # p50/p90/p99 measured by the benchmark
    name: str | None = None  # artifact name from the decision

    def to_info(self) -> dict[str, Any]:
        """JSON-ready form (stored in the prediction log's info table)."""
        return {"class_names": list(self.class_names), "shares": list(self.shares), "source": self.source,
                "latency_ms": self.latency_ms, "name": self.name}

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> Reference:
        """Inverse of to_info."""
        return cls(tuple(info["class_names"]), tuple(float(s) for s in info["shares"]), str(info["source"]),
                   info.get("latency_ms"), info.get("name"))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"could not read {path} ({exc}): is it a file written by seefood?") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} does not hold a JSON object")
    return data


def _counts_to_shares(raw: Any, names: tuple[str, ...], where: str) -> tuple[float, ...]:
    """class_counts as {name: count} or [count per class] -> shares in class_names order."""
    if isinstance(raw, dict):
        unknown = sorted(set(map(str, raw)) - set(names))
        if unknown:
            raise DataError(f"{where} names classes the model does not have ({unknown[:3]}): re-export the artifact")
        counts = [raw.get(n, 0) for n in names]
    elif isinstance(raw, (list, tuple)) and len(raw) == len(names):
        counts = list(raw)
    else:
        raise DataError(f"{where} must map each of the {len(names)} class names to a count, or list one count per class")
    try:
        values = [float(c) for c in counts]
    except (TypeError, ValueError):
        raise DataError(f"{where} holds a count that is not a number") from None
    total = sum(values)
    if any(v < 0 for v in values) or total <= 0:
        raise DataError(f"{where} must hold non-negative counts with a positive total")
    return tuple(v / total for v in values)


def reference_from_meta(meta: ModelMeta, latency_ms: dict[str, float] | None = None, name: str | None = None) -> Reference:
    """Training distribution from metrics/extra "class_counts", else uniform (the source says which)."""
    names = meta.class_names
    for section, table in (("metrics", meta.metrics), ("extra", meta.extra)):
        if table.get("class_counts") is not None:
            where = f"{section}.class_counts"
            return Reference(names, _counts_to_shares(table["class_counts"], names, where), where, latency_ms, name)
    return Reference(names, tuple(1.0 / len(names) for _ in names), UNIFORM, latency_ms, name)


def _reference_from_decision(path: Path) -> Reference:
    decision = _read_json(path)
    if "artifact" not in decision:
        raise DataError(f"{path} has no 'artifact' entry: pass the decision.json written by `seefood pick`")
    artifact = Path(decision["artifact"])
    if not artifact.is_absolute():
        artifact = path.parent / artifact
    if not artifact.is_dir():
        raise DataError(f"the artifact {artifact} named in {path} is gone: re-run `seefood pick` or pass the artifact folder")
    latency = decision.get("latency_ms")
    return reference_from_meta(read_artifact_meta(artifact), dict(latency) if latency else None, decision.get("name"))


def load_reference(path: str | Path) -> Reference:
    """Reference from a bench report folder, a decision.json, an artifact folder or a Space folder."""
    path = Path(path)
    if path.is_file():
        return _reference_from_decision(path)
    if (path / DECISION).is_file():
        return _reference_from_decision(path / DECISION)
    if (path / SPACE_RECORD).is_file():
        record = _read_json(path / SPACE_RECORD)
        decision = record.get("decision") or {}
        latency = decision.get("latency_ms")
        meta = read_artifact_meta(path / str(record.get("model_dir", "model")))
        return reference_from_meta(meta, dict(latency) if latency else None, decision.get("name"))
    if (path / ARTIFACT_META).is_file():
        return reference_from_meta(read_artifact_meta(path))
    raise DataError(
        f"{path} is not a reference: pass a bench report folder (with {DECISION}), a {DECISION}, "
        f"an artifact folder (with {ARTIFACT_META}) or a Space folder (with {SPACE_RECORD})"
    )
