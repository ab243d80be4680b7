"""Where a run executes: device choice, the torch.distributed process group, seeds and RNG states."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "Runtime",
    "init_process_group",
    "start_runtime",
    "stop_runtime",
    "seed_everything",
    "rng_state",
    "set_rng_state",
    "all_reduce_mean",
    "pinned_threads",
]


@dataclass(frozen=True)
class Runtime:
    """The process's place in the run: ``rank`` of ``world_size`` processes on ``device``."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process (rank 0) writes files and shows progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _pick_device(name: str, local_rank: int) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def init_process_group(backend: str, **kwargs) -> None:
    """``torch.distributed.init_process_group``, such that ``destroy_process_group`` really frees the group.

    ``torch.distributed.nn.functional`` binds ``group.WORLD`` as the default argument of its
    collectives when it is first imported, and torch imports it lazily (the functional collectives
    pull it in through dynamo). Imported after the group exists, it keeps the group alive until
    interpreter shutdown; gloo's worker threads are then torn down while Python finalises, and a
    worker that still has to release a tensor aborts the process ("terminate called without an
    active exception"). Imported before, it binds ``None`` (the current group at call time).
    """
    import torch.distributed.nn.functional  # noqa: F401  (see above: before the group exists)

    dist.init_process_group(backend=backend, **kwargs)


def start_runtime(device: str = "auto") -> Runtime:
    """Pick the device and, when launched by ``torchrun`` (``WORLD_SIZE`` > 1), join the process group.

    The backend is NCCL on CUDA and gloo on CPU. Safe to call twice (the group is joined once).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _pick_device(device, local_rank)
    if world_size == 1:
        return Runtime(dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Runtime(dev, dist.get_rank(), dist.get_world_size())


def stop_runtime() -> bool:
    """Leave the process group if one was joined; return whether this process is the main one (rank 0)."""
    if not dist.is_initialized():
        return True
    is_main = dist.get_rank() == 0
    dist.destroy_process_group()
    return is_main


@contextmanager
def pinned_threads(threads: int):
    """Run the block with ``torch.set_num_threads(threads)``; the previous count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The RNG states of ``random``, NumPy and torch, as checkpoint-safe tensors and lists."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": list(random.getstate()[1]) + [random.getstate()[2]],
        "python_version": random.getstate()[0],
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": pos,
            "has_gauss": has_gauss,
            "gauss": gauss,
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore states saved by :func:`rng_state`."""
    python = state["python"]
    random.setstate((state["python_version"], tuple(python[:-1]), python[-1]))
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def all_reduce_mean(values: dict[str, float], runtime: Runtime) -> dict[str, float]:
    """Average scalar metrics over all processes (identity when not distributed)."""
    if not runtime.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=runtime.device)
    dist.all_reduce(t)
    t /= runtime.world_size
    return dict(zip(keys, t.tolist(), strict=True))
