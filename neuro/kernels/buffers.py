"""Reusable CPU output buffers for the fused kernels: no fresh pages faulted in on every training step.

A fused call writes a few large outputs (spikes, the saved potential, the input gradient). With
glibc's default tuning, the freed ones are often returned to the system and faulted in again on
the next step, 4 KiB at a time: measured, that costs 1.5 to 3 times the kernel itself at
``T=16, N=131072``. :func:`empty` hands out tensors of 1 MiB or more backed by anonymous memory
maps that are kept for reuse (huge pages where the kernel offers them). A map is free again when
no tensor uses it: ``torch.frombuffer`` holds a reference to the map for exactly as long as the
storage lives, whoever holds the storage (a view, autograd, ...), so its reference count says
when. At most :data:`IDLE_LIMIT` bytes are kept idle; past that, free maps are dropped.
"""

from __future__ import annotations

import math
import mmap
import sys
import threading

import torch

__all__ = ["empty", "MIN_BYTES", "IDLE_LIMIT"]

MIN_BYTES = 1 << 20
IDLE_LIMIT = 256 << 20

_MAPS: list[mmap.mmap] = []
_LOCK = threading.Lock()


def empty(shape, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor; from a reused map when it has ``MIN_BYTES`` or more."""
    count = math.prod(shape)
    if count * dtype.itemsize < MIN_BYTES:
        return torch.empty(shape, dtype=dtype)
    with _LOCK:
        block = _take(count * dtype.itemsize)
    return torch.frombuffer(block, dtype=dtype, count=count).view(shape)


def _take(nbytes: int) -> mmap.mmap:
    """A free map of ``nbytes`` (or a new one), dropping the oldest free ones past IDLE_LIMIT."""
    # a free map is referenced by _MAPS, the comprehension's variable and getrefcount's argument
    free = [block for block in _MAPS if sys.getrefcount(block) == 3]
    match = next((block for block in free if len(block) == nbytes), None)
    idle = sum(len(block) for block in free if block is not match)
    for block in free:
        if idle <= IDLE_LIMIT:
            break
        if block is not match:
            idle -= len(block)
            _MAPS.remove(block)
            block.close()
    if match is not None:
        return match
    block = mmap.mmap(-1, nbytes)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        block.madvise(mmap.MADV_HUGEPAGE)
    _MAPS.append(block)
    return block
