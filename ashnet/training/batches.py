"""Which images and captions form each step's batch: a seeded order per epoch, sharded over processes."""

from __future__ import annotations

import torch

__all__ = ["epoch_batches", "caption_choice", "batches_per_epoch"]


def _generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 1_000_003 + epoch) * 7 + stream) % 2**63)


def batches_per_epoch(n_items: int, batch_size: int, world_size: int = 1) -> int:
    """Full global batches in one epoch (the incomplete last one is dropped); at least one."""
    n_batches = n_items // (batch_size * world_size)
    if n_batches == 0:
        raise ValueError(
            f"{n_items} training items cannot fill one batch of {batch_size} x {world_size} process(es); "
            "lower the batch size"
        )
    return n_batches


def epoch_batches(n_items: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1):
    """This process's batches of item indices for ``epoch``, as a list of lists.

    The epoch's order is a permutation drawn from ``seed`` and ``epoch`` only, so it is the same on
    every process and after a resume. Global batch ``b`` is ``order[b*G:(b+1)*G]`` with
    ``G = batch_size * world_size``; process ``rank`` takes slice ``rank`` of it. Hence one process
    with batch ``G`` sees exactly the items that ``world_size`` processes with ``batch_size`` see together.
    """
    n_batches = batches_per_epoch(n_items, batch_size, world_size)
    order = torch.randperm(n_items, generator=_generator(seed, epoch, 0))
    shards = order[: n_batches * batch_size * world_size].view(n_batches, world_size, batch_size)
    return shards[:, rank].tolist()


def caption_choice(caption_counts: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    """For each image, which of its captions it is paired with in ``epoch`` (seeded like the order)."""
    u = torch.rand(len(caption_counts), generator=_generator(seed, epoch, 1), dtype=torch.float64)
    return (u * caption_counts).long().clamp(max=caption_counts - 1)
