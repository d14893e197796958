"""torch's intra-op thread count set for a block and restored after, by the one thread policy (seefood.threads).

Apart from seefood.threads because it imports torch: the runtimes and the Space bundle use the policy only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from seefood.threads import resolve_threads


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Give torch's intra-op pool `threads` (None: `default_threads()`) for the block and restore the previous
    count after; yields the count used, for the command to record."""
    count = resolve_threads(threads)
    previous = torch.get_num_threads()
    if count != previous:
        torch.set_num_threads(count)
    try:
        yield count
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
