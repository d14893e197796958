"""One thread policy for every command: what `threads=None` means (torch-free: the Space bundles it).

`threads=None` means one thing everywhere (export, bench, latency, predict, the Space, train, prune):
`default_threads()`, what this process may use. Every command records the count it resolved; torch's pool
is set for a block by `seefood.torch_threads.torch_threads`.
"""

from __future__ import annotations

import os

from seefood.errors import ConfigError

# Seconds of idle before each artifact's turn when several runtimes are timed in alternation in one process.
# Every runtime's worker threads spin-wait for a while after a run (ONNX Runtime's pool, ExecuTorch's
# pthreadpool, OpenVINO's TBB arena, OpenMP): on 2 cores they steal a core from the next runtime, which then
# looks up to 2x slower than it is alone. Measured (AMD EPYC, 2 threads, Lite2 int8, 2026-12-01): the
# ExecuTorch .pte ran 14.8 ms right after ONNX Runtime, 12.0 ms after 20 ms of idle, 8.1 ms after 50 ms (as
# fast as in a process of its own) and 9.0 ms after 100 ms (docs/benchmarks.md, "Interleaving").
POOL_IDLE_S = 0.05


def default_threads() -> int:
    """The threads this process may use: the CPUs of its affinity mask (a container's or taskset's limit, which
    os.cpu_count() ignores), capped by $OMP_NUM_THREADS when that is set (torchrun sets it per process)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS / Windows have no affinity mask
        cpus = os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) >= 1:
        cpus = min(cpus, int(omp))
    return max(1, cpus)


def resolve_threads(threads: int | None) -> int:
    """`threads`, or `default_threads()` when None; a count below 1 is a ConfigError."""
    if threads is None:
        return default_threads()
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}; leave it out to use every core this process may use")
    return int(threads)
