"""Tests of MoLE, the sparse adapter experts: top-k routing, the dense special case, load balancing, cost."""

import pytest
import torch

from ashnet.models import MoLEConfig
from ashnet.models.mole import Adapter, MoLE, balance_loss
from neuro.energy import EnergyMeter

D = 16


def randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    return module


def tokens(b=4, n=7, seed=1):
    return torch.randn(b, n, D, generator=torch.Generator().manual_seed(seed))


def mole(experts=4, top_k=1, hidden=8):
    return randomise(MoLE(D, MoLEConfig(experts=experts, top_k=top_k, hidden=hidden)))


def test_top1_mole_with_one_expert_is_the_dense_adapter():
    m = mole(experts=1)
    dense = Adapter(D, 8)
    dense.load_state_dict(m.experts[0].state_dict())
    x = tokens()
    out = m(x)
    assert torch.equal(out.x, x + dense(x))
    assert torch.equal(out.gates, torch.ones(4, 7, 1))
    assert out.balance_loss.item() == 1.0
    assert m.router is None


@pytest.mark.parametrize("top_k", [1, 2])
def test_each_token_goes_through_its_top_k_experts_only(top_k):
    m = mole(experts=4, top_k=top_k)
    x = tokens()
    out = m(x)
    probs = m.router(x).softmax(-1)
    top, index = probs.topk(top_k, dim=-1)
    gate = top if top_k == 1 else top / top.sum(-1, keepdim=True)
    every = torch.stack([expert(x) for expert in m.experts], dim=-2)  # [B, N, E, D], the dense reference
    expected = x + (gate.unsqueeze(-1) * every.gather(-2, index.unsqueeze(-1).expand(*index.shape, D))).sum(
        -2
    )
    torch.testing.assert_close(out.x, expected)
    assert ((out.gates > 0).sum(-1) == top_k).all()
    if top_k > 1:
        torch.testing.assert_close(out.gates.sum(-1), torch.ones(4, 7))
    torch.testing.assert_close(out.load, torch.bincount(index.flatten(), minlength=4) / index.numel())


def test_adapters_start_as_no_ops_and_all_parts_learn():
    m = MoLE(D, MoLEConfig(experts=3))
    x = tokens()
    assert torch.equal(m(x).x, x)
    m = mole(experts=3)
    out = m(x)
    (out.x.square().sum() + out.balance_loss).backward()
    assert m.router.weight.grad.abs().sum() > 0
    used = out.load > 0
    for e, expert in enumerate(m.experts):
        assert (expert.up.weight.grad is not None and expert.up.weight.grad.abs().sum() > 0) == bool(used[e])


def test_padding_tokens_pass_unchanged_and_are_not_counted():
    m = mole(experts=4)
    x = tokens(b=2, n=5)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    out = m(x, mask)
    assert torch.equal(out.x[~mask], x[~mask]) and (out.gates[~mask] == 0).all()
    real = m(x[mask].unsqueeze(0))
    torch.testing.assert_close(out.x[mask], real.x[0])
    torch.testing.assert_close(out.load, real.load)
    torch.testing.assert_close(out.balance_loss, real.balance_loss)


def test_balance_loss_is_one_when_balanced_and_e_when_collapsed():
    E = 4
    uniform = torch.full((8, E), 1 / E)
    spread = torch.arange(8).remainder(E).unsqueeze(-1)
    load = torch.bincount(spread.flatten(), minlength=E).float() / 8
    torch.testing.assert_close(balance_loss(uniform, load), torch.tensor(1.0))
    collapsed = torch.tensor([[1.0, 0, 0, 0]]).expand(8, E)
    torch.testing.assert_close(balance_loss(collapsed, torch.tensor([1.0, 0, 0, 0])), torch.tensor(4.0))
    assert float(balance_loss(torch.empty(0, E), torch.zeros(E))) == 0


def test_the_balance_loss_alone_spreads_a_collapsed_router():
    torch.manual_seed(0)
    m = MoLE(D, MoLEConfig(experts=4, hidden=4))
    with torch.no_grad():
        m.router.bias.copy_(torch.tensor([3.0, 0, 0, 0]))  # nearly every token picks expert 0
    x = tokens(b=16, n=8)
    before = m(x)
    assert before.load[0] > 0.7
    opt = torch.optim.SGD(m.router.parameters(), lr=1.0)
    for _ in range(50):
        opt.zero_grad()
        m(x).balance_loss.backward()
        opt.step()
    after = m(x)
    assert after.balance_loss < before.balance_loss - 0.5
    assert after.load.max() < 0.45 and (after.load > 0.1).all()


def _macs(module, x) -> float:
    with EnergyMeter(module) as meter, torch.no_grad():
        module(x)
    return meter.report(1).macs


def test_sparse_cost_is_within_ten_percent_of_the_dense_adapter():
    # the router adds E / (2 hidden) of an adapter per token: 4 / 64 here. (Random weights: the
    # meter would count the zero-initialised up-projection as spikes, at no cost.)
    x = torch.randn(8, 16, 64)
    dense = _macs(randomise(Adapter(64, 32)), x)
    assert dense == 8 * 16 * 2 * 64 * 32
    assert _macs(randomise(MoLE(64, MoLEConfig(experts=1, hidden=32))), x) == dense
    sparse = _macs(randomise(MoLE(64, MoLEConfig(experts=4, hidden=32))), x)
    assert 1.0 < sparse / dense < 1.10
    # computing all four adapters for every token would cost over four times the dense one
    assert _macs(randomise(MoLE(64, MoLEConfig(experts=4, top_k=4, hidden=32))), x) / dense > 4


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"experts": 0}, "model.mole.experts"),
        ({"experts": 2, "top_k": 3}, "exceeds"),
        ({"balance_weight": -1.0}, "balance_weight"),
        ({"hidden": 1.5}, "model.mole.hidden"),
    ],
)
def test_mole_config_rejects_bad_values(kwargs, needle):
    with pytest.raises((ValueError, TypeError), match=needle):
        MoLEConfig(**kwargs)
