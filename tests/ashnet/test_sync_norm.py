"""Global-batch BatchNorm: 2 gloo processes with half the batch each equal 1 process with all of it."""

import copy

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ashnet.training.runtime import init_process_group
from ashnet.training.sync_norm import sync_batch_norms

WORLD, LOCAL = 2, 5


class Net(nn.Module):
    """BatchNorm1d on [N, C] and [N, C, L], BatchNorm2d on [N, C, H, W], with ``momentum=None`` once."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU())
        self.seq = nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4, momentum=None), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(4 * 14, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 2))

    def forward(self, x):
        h = self.conv(x).mean(2)  # [N, 3, 16]
        return self.head(self.seq(h).flatten(1))


def global_batch():
    g = torch.Generator().manual_seed(0)
    return 3 * torch.randn(WORLD * LOCAL, 2, 4, 16, generator=g) + 1


def _step(net, x):
    """One training step: the loss, input and parameter gradients, and the state after it."""
    x = x.clone().requires_grad_()
    out = net(x)
    loss = (out**2).mean()
    loss.backward()
    return loss.detach(), x.grad, {k: p.grad for k, p in net.named_parameters()}, net.state_dict()


def _worker(rank: int, init_file: str, out_dir: str, state: dict) -> None:
    init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        net = Net()
        net.load_state_dict(state)
        assert sync_batch_norms(net) == 3
        rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
        loss, x_grad, grads, after = _step(net, global_batch()[rows])
        for g in grads.values():  # what DDP does with parameter gradients
            dist.all_reduce(g)
            g /= WORLD
        net.eval()
        with torch.no_grad():
            eval_out = net(global_batch()[rows])
        torch.save(
            {"loss": loss, "x": x_grad, "grads": grads, "state": after, "eval": eval_out},
            f"{out_dir}/{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_with_global_statistics_equal_one_process(tmp_path):
    torch.manual_seed(0)
    net = Net()
    state = copy.deepcopy(net.state_dict())
    mp.start_processes(
        _worker,
        args=(str(tmp_path / "init"), str(tmp_path), state),
        nprocs=WORLD,
        join=True,
        start_method="spawn",
    )
    results = [torch.load(tmp_path / f"{r}.pt") for r in range(WORLD)]
    loss, x_grad, grads, after = _step(net, global_batch())  # plain BatchNorm, one process
    net.eval()
    with torch.no_grad():
        eval_out = net(global_batch())

    close = {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(sum(r["loss"] for r in results) / WORLD, loss, **close)
    for rank, r in enumerate(results):
        rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
        # each process's loss is the mean over its rows: the sum over processes is WORLD x the global mean
        torch.testing.assert_close(r["x"], WORLD * x_grad[rows], **close)
        for name, g in grads.items():
            torch.testing.assert_close(r["grads"][name], g, **close, msg=name)
        for name, value in after.items():  # running statistics of the global batch, on every process
            torch.testing.assert_close(r["state"][name], value, **close, msg=name)
        torch.testing.assert_close(r["eval"], eval_out[rows], **close)


def test_without_a_process_group_the_modules_are_plain_batch_norms():
    torch.manual_seed(0)
    net = Net()
    plain = copy.deepcopy(net)
    assert sync_batch_norms(net) == 3 and sync_batch_norms(net) == 3  # idempotent
    assert isinstance(net.head[1], nn.BatchNorm1d) and net.head[1].state_dict().keys() == {
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    }
    x = global_batch()
    assert torch.equal(net(x), plain(x))
    plain.load_state_dict(net.state_dict())  # checkpoints load into the plain model


def test_in_eval_mode_nothing_is_communicated(monkeypatch):
    # Evaluation runs on the main process alone: an eval-mode norm must not wait for the others,
    # also one without running statistics (it normalises with its own batch, as nn.SyncBatchNorm).
    def collective(*args, **kwargs):
        raise AssertionError("a collective was called")

    monkeypatch.setattr(dist, "is_initialized", lambda: True)  # as under torchrun with 2 processes
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(dist, "all_reduce", collective)
    x = global_batch()[:, :, 0, :4].reshape(-1, 4)
    for plain in (nn.BatchNorm1d(4), nn.BatchNorm1d(4, track_running_stats=False)):
        norm = copy.deepcopy(plain)
        sync_batch_norms(norm)
        norm.eval()
        plain.eval()
        assert torch.equal(norm(x), plain(x))
        norm.train()
        with pytest.raises(AssertionError, match="a collective was called"):  # training does sync
            norm(x)
