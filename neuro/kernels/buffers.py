"""Reusable CPU output buffers for the fused kernels: no fresh pages faulted in on every training step.

A fused call writes a few large outputs (spikes, the saved potential, the input gradient). With
glibc's default tuning, the freed ones are often returned to the system and faulted in again on
the next step, 4 KiB at a time: measured, that costs 1.5 to 3 times the kernel itself at
``T=16, N=131072``. :func:`empty` hands out tensors of 1 MiB or more backed by anonymous memory
maps that are kept for reuse (huge pages where the kernel offers them). Each tensor is made by
``torch.frombuffer`` from a fresh ``memoryview`` of its map, which torch keeps for exactly as long
as the storage lives, whoever holds the storage (a view, autograd, ...); while it lives, the map
has an exported buffer and refuses to be resized, so ``resize`` to its own size is the test of a
free map (no reference counting, whose rules differ between Python versions). At most
:data:`IDLE_LIMIT` bytes are kept idle; past that, free maps are dropped. Where an anonymous map
cannot be resized, :func:`empty` is ``torch.empty``.
"""

from __future__ import annotations

import math
import mmap
import threading

import torch

__all__ = ["empty", "MIN_BYTES", "IDLE_LIMIT"]

MIN_BYTES = 1 << 20
IDLE_LIMIT = 256 << 20

_MAPS: list[mmap.mmap] = []
_LOCK = threading.Lock()


def _free(block: mmap.mmap) -> bool:
    """No tensor uses ``block``: it has no exported buffer, so it can be resized (to its own size)."""
    try:
        block.resize(len(block))
        return True
    except BufferError:
        return False


def _pooling_works() -> bool:
    try:
        probe = mmap.mmap(-1, mmap.PAGESIZE)
        view = memoryview(probe)
        held = not _free(probe)
        view.release()
        return held and _free(probe)
    except (OSError, SystemError, ValueError):  # no anonymous maps, or no resizing them
        return False


POOLING = _pooling_works()


def empty(shape, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor; from a reused map when it has ``MIN_BYTES`` or more."""
    count = math.prod(shape)
    if count * dtype.itemsize < MIN_BYTES or not POOLING:
        return torch.empty(shape, dtype=dtype)
    with _LOCK:
        block = _take(count * dtype.itemsize)
    return torch.frombuffer(memoryview(block), dtype=dtype, count=count).view(shape)


def _take(nbytes: int) -> mmap.mmap:
    """A free map of ``nbytes`` (or a new one), dropping the oldest free ones past IDLE_LIMIT."""
    free = [block for block in _MAPS if _free(block)]
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
