"""BenchConfig: every setting of a benchmark run, with its default, checked once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seefood.bench.devices import DEVICES
from seefood.errors import ConfigError
from seefood.runtimes.variants import get_variant
from seefood.threads import default_threads


@dataclass(frozen=True)
class BenchConfig:
    """What to measure, where, and how hard; the CLI maps its options onto these fields."""

    export_dirs: tuple[Path, ...]  # export folders (EXPORT_DIR/<name>/seefood.json) or single artifact folders
    data: Path  # a split folder (its test/ is used) or a flat <class>/<image> folder
    out: Path  # the report folder; re-runs add to it
    devices: tuple[str, ...] = ("cpu",)  # keys of seefood.bench.devices.DEVICES
    batch_sizes: tuple[int, ...] = (1,)
    threads: int = field(default_factory=default_threads)  # intra-op threads given to every runtime
    min_runs: int = 30  # timed runs at least ...
    min_time_s: float = 2.0  # ... and at least this much timed wall time, whichever comes later
    warmup: int = 5  # untimed runs first (lazy init, caches, autotuning)
    force: bool = False  # re-measure rows already in results.jsonl
    limit: int | None = None  # evaluate on at most this many images (spread over the classes)
    include_reference: bool = True  # also bench the fp32 PyTorch checkpoint named by export.json
    # ... and that checkpoint as these eager variants (seefood.runtimes.variants: bf16, compile), a row each, measured
    # after the artifacts; "bf16,compile" is read as ("bf16", "compile")
    eager_variants: tuple[str, ...] = ()
    progress: bool = True  # rich progress bars on stderr

    def __post_init__(self) -> None:
        object.__setattr__(self, "export_dirs", tuple(Path(p) for p in self.export_dirs))
        object.__setattr__(self, "data", Path(self.data))
        object.__setattr__(self, "out", Path(self.out))
        object.__setattr__(self, "devices", tuple(dict.fromkeys(d.strip().lower() for d in self.devices)))
        object.__setattr__(self, "batch_sizes", tuple(sorted({int(b) for b in self.batch_sizes})))
        variants = self.eager_variants.split(",") if isinstance(self.eager_variants, str) else self.eager_variants
        object.__setattr__(self, "eager_variants", tuple(dict.fromkeys(v.strip() for v in variants if v.strip())))
        if not self.export_dirs:
            raise ConfigError("give at least one export folder to bench (e.g. runs/export)")
        unknown = [d for d in self.devices if d not in DEVICES]
        if not self.devices or unknown:
            raise ConfigError(f"unknown device(s) {unknown or '(none)'}: use a comma list of {', '.join(DEVICES)}")
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ConfigError(f"batch sizes must be positive integers, got {self.batch_sizes}: e.g. --batch-sizes 1,8")
        if self.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {self.threads}")
        if self.min_runs < 1:
            raise ConfigError(f"--min-runs must be >= 1, got {self.min_runs}")
        if self.min_time_s < 0:
            raise ConfigError(f"--min-time must be >= 0 seconds, got {self.min_time_s}")
        if self.warmup < 0:
            raise ConfigError(f"--warmup must be >= 0, got {self.warmup}")
        for name in self.eager_variants:
            get_variant(name)  # an unknown name: ConfigError listing the known ones
        if self.eager_variants and not self.include_reference:
            raise ConfigError("eager variants run the reference checkpoint: keep include_reference to bench them")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be >= 1 image, got {self.limit}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, saved in env.json beside the results."""
        return {
            "export_dirs": [str(p) for p in self.export_dirs], "data": str(self.data), "out": str(self.out),
            "devices": list(self.devices), "batch_sizes": list(self.batch_sizes), "threads": self.threads,
            "min_runs": self.min_runs, "min_time_s": self.min_time_s, "warmup": self.warmup,
            "force": self.force, "limit": self.limit, "include_reference": self.include_reference,
            "eager_variants": list(self.eager_variants),
        }
