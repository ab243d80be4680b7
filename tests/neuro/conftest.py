"""Shared fixtures of the ``neuro`` tests: small multi-step networks of each kind that fire usefully."""

from dataclasses import replace

import pytest
import torch
from torch import nn

import neuro

TD = neuro.TimeDistributed


def _scaled(net: nn.Module, gain: float) -> nn.Module:
    """Scale the weights of ``net`` so that its neurons fire often enough to compare spikes."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                m.weight.mul_(gain)
    return net


def cuba_lif(tau, tau_syn, r=1.0, w_in=1.0):
    neuron = neuro.CubaLIF(tau=tau, tau_syn=tau_syn)
    neuron.params = replace(neuron.params, r=r, w_in=w_in)
    return neuron


# Weight gains that make each test network fire at a useful rate (checked in reference_spikes).
GAIN = {
    "lif": 6.0,
    "lif_v_reset": 6.0,
    "cuba_lif": 8.0,
    "conv_avg_lif": 10.0,
    "conv_sum_if": 4.0,
    "conv1d_if": 5.0,
    "residual_lif": 5.0,
}


def residual(width: int) -> nn.Module:
    """``LIF(U + block(U))`` with :class:`neuro.Residual`: its NIR graph sums two edges."""
    block = nn.Sequential(
        neuro.LIF(tau=2.0), TD(nn.Linear(width, width)), neuro.LIF(tau=2.0), TD(nn.Linear(width, width))
    )
    return nn.Sequential(neuro.Residual(block), neuro.LIF(tau=2.0))


def build_net(kind: str, batch: int = 3, seed: int = 0):
    """A small multi-step network of one kind and a real input for it: ``(net, x)``."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 100)
    if kind == "residual_lif":
        return _scaled(residual(8), GAIN[kind]), 2 * torch.rand(16, batch, 8, generator=g)
    if kind == "conv1d_if":
        net = nn.Sequential(
            TD(nn.Conv1d(2, 3, 3)), neuro.IF(), TD(nn.Flatten(), nn.Linear(18, 4)), neuro.IF()
        )
        return _scaled(net, GAIN[kind]), torch.rand(12, batch, 2, 8, generator=g)
    if kind.startswith("conv"):
        pool = nn.AvgPool2d(2) if kind == "conv_avg_lif" else nn.LPPool2d(1, 2)
        neuron = neuro.LIF(tau=2.0) if kind == "conv_avg_lif" else neuro.IF()
        net = nn.Sequential(
            TD(nn.Conv2d(2, 4, 3, padding=1), pool),
            neuron,
            TD(nn.Flatten(), nn.Linear(64, 5)),
            neuro.LIF(tau=2.0),
        )
        return _scaled(net, GAIN.get(kind, 3.0)), torch.rand(10, batch, 2, 8, 8, generator=g)
    hidden = {
        "lif": neuro.LIF(tau=2.0),
        "lif_no_decay_input": neuro.LIF(tau=3.0, decay_input=False),
        "lif_v_reset": neuro.LIF(tau=2.0, v_reset=-0.2),
        "if": neuro.IF(v_threshold=0.7),
        "cuba_lif": cuba_lif(tau=3.0, tau_syn=2.0),
        "cuba_lif_scaled": cuba_lif(tau=3.0, tau_syn=2.0, r=3.0, w_in=2.0),
    }[kind]
    out = neuro.LIF(tau=2.0, decay_input=not kind.startswith("lif_no"))
    net = nn.Sequential(TD(nn.Linear(8, 16)), hidden, TD(nn.Linear(16, 4, bias=False)), out)
    return _scaled(net, GAIN.get(kind, 4.0)), torch.rand(20, batch, 8, generator=g)


def reference_spikes(net, x):
    """Output spikes of ``net`` on ``x`` from a fresh state, checked to be informative."""
    neuro.reset(net)
    with torch.no_grad():
        spikes = net(x)
    neuro.reset(net)
    assert 0 < spikes.mean() < 1, "the test network should fire sometimes, not always"
    return spikes


@pytest.fixture(scope="session", name="build_net")
def build_net_fixture():
    """``build_net(kind, batch=3, seed=0) -> (net, x)``: a small network of one kind and a real input."""
    return build_net


@pytest.fixture(scope="session", name="reference_spikes")
def reference_spikes_fixture():
    """``reference_spikes(net, x)``: output spikes from a fresh state, checked to be informative."""
    return reference_spikes
