"""How many DataLoader worker processes this process may start: one policy every loader calls.

Worker processes are unsafe in a process where OpenVINO or ONNX Runtime is loaded, or where AMX tile state
is permitted (oneDNN, OpenVINO and ONNX Runtime ask for it on Intel Xeons since Sapphire Rapids). With more
than zero workers torch installs a SIGCHLD handler for the rest of the process, which CPython delivers with
SA_ONSTACK on the main thread's alternate signal stack; faulthandler (on under pytest, `-X faulthandler`)
sized that stack before AMX was permitted, and once AMX widens every signal frame by ~8 KB a worker's exit
can kill the process with SIGSEGV (si_code SI_KERNEL: the kernel could not build the frame). Forking after
those libraries started their thread pools is a hazard of its own. docs/architecture.md has the evidence.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import sys

log = logging.getLogger(__name__)

# backends that start their own thread pools and may ask the kernel for AMX tile state
# executorch and ai_edge_litert (LiteRT): XNNPACK's pthreadpool
THREAD_POOL_BACKENDS = ("openvino", "onnxruntime", "executorch", "ai_edge_litert")

_SYS_ARCH_PRCTL = 158  # x86_64 syscall number
_ARCH_GET_XCOMP_PERM = 0x1022  # the extended-state components this process may use
_XFEATURE_MASK_XTILEDATA = 1 << 18  # AMX tile data: 8 KB more in every signal frame


def amx_permitted() -> bool:
    """Whether this process may use AMX tiles (so its signal frames are ~8 KB larger); False off x86-64 Linux."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mask = ctypes.c_uint64(0)
        if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_GET_XCOMP_PERM, ctypes.byref(mask)) != 0:
            return False  # a kernel before 5.16 has no dynamic xstate, so no AMX in signal frames
    except (OSError, AttributeError):
        return False
    return bool(mask.value & _XFEATURE_MASK_XTILEDATA)


def unsafe_for_workers() -> str | None:
    """Why this process must not start DataLoader worker processes, or None when it may."""
    loaded = [name for name in THREAD_POOL_BACKENDS if name in sys.modules]
    if loaded:
        return f"{' and '.join(loaded)} loaded in this process"
    if amx_permitted():
        return "AMX tile state permitted in this process"
    return None


def loader_workers(requested: int) -> int:
    """The DataLoader worker count to use for `requested`: 0 (load in the main process) where workers are unsafe."""
    if requested <= 0:
        return 0
    reason = unsafe_for_workers()
    if reason is None:
        return requested
    log.info("loading images in the main process instead of %d worker process(es): %s "
             "(see docs/architecture.md, 'Worker processes')", requested, reason)
    return 0
