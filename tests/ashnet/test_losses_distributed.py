"""Two gloo processes gathering in the loss match one process with the global batch (loss and gradients)."""

import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from ashnet.losses import info_nce
from ashnet.training.runtime import init_process_group

WORLD, LOCAL, DIM, BETA = 2, 3, 5, 1.5


def global_batch():
    g = torch.Generator().manual_seed(0)
    return F.normalize(torch.randn(WORLD * LOCAL, DIM, generator=g), dim=-1), F.normalize(
        torch.randn(WORLD * LOCAL, DIM, generator=g), dim=-1
    )


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    before = _threads()
    init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    group_threads = _threads() - before
    try:
        a, b = global_batch()
        rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
        a_local, b_local = a[rows].clone().requires_grad_(), b[rows].clone().requires_grad_()
        scale = torch.tensor(math.log(8.0), requires_grad=True)
        loss = info_nce(a_local, b_local, scale, BETA)
        loss.backward()
        result = {"loss": loss.detach(), "a": a_local.grad, "b": b_local.grad, "scale": scale.grad}
        running = _threads()
    finally:
        dist.destroy_process_group()
    # The group's threads end with destroy_process_group, not at interpreter shutdown (where a gloo
    # worker still releasing a tensor aborted the process: the flake of issue 10).
    result["threads_left"] = _threads() - (running - group_threads)
    result["group_threads"] = group_threads
    torch.save(result, f"{out_dir}/{rank}.pt")


@pytest.mark.slow
def test_gathered_loss_equals_the_global_batch_loss(tmp_path):
    # spawn, not fork: forking a process whose torch thread pools are already running can deadlock.
    mp.start_processes(
        _worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True, start_method="spawn"
    )
    results = [torch.load(tmp_path / f"{r}.pt") for r in range(WORLD)]

    a, b = (t.clone().requires_grad_() for t in global_batch())
    scale = torch.tensor(math.log(8.0), requires_grad=True)
    loss = info_nce(a, b, scale, BETA)
    loss.backward()

    for rank, r in enumerate(results):
        left, started = r["threads_left"], r["group_threads"]
        assert started > 0 and left <= 0, f"rank {rank}: {left} of the group's {started} threads outlived it"
    torch.testing.assert_close(sum(r["loss"] for r in results) / WORLD, loss.detach())
    # all_gather's backward sums every process's gradient, so each holds WORLD x the global-mean gradient;
    # DDP then averages the parameter gradients over processes.
    for rank, r in enumerate(results):
        rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
        torch.testing.assert_close(r["a"], WORLD * a.grad[rows])
        torch.testing.assert_close(r["b"], WORLD * b.grad[rows])
    torch.testing.assert_close(sum(r["scale"] for r in results) / WORLD, scale.grad)
