"""Monitor: recorded spikes, membrane potentials that equal the neuron state, per-layer firing rates."""

import pytest
import torch
from torch import nn

import neuro


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        neuro.SpikingLinear(6, 8, neuron=neuro.LIF(tau=2.0, v_threshold=0.3)),
        neuro.SpikingLinear(8, 4, neuron=neuro.IF(v_threshold=0.2)),
    )


def test_records_spikes_of_every_neuron_layer_by_default():
    net = _net()
    x = torch.rand(5, 3, 6)
    with neuro.Monitor(net) as mon:
        out = net(x)
    assert list(mon.spikes) == ["0.1", "1.1"]
    assert torch.equal(mon.spikes["1.1"][0], out)
    assert mon.spikes["0.1"][0].shape == (5, 3, 8)
    assert mon.v == {"0.1": [], "1.1": []}  # potentials only when asked


def test_firing_rates_are_the_mean_over_all_recorded_calls():
    net = _net()
    x1, x2 = torch.rand(5, 3, 6), torch.rand(7, 3, 6)
    with neuro.Monitor(net, layers=["0.1"]) as mon:
        s1 = net(x1)
        neuro.reset(net)
        net(x2)
    assert list(mon.spikes) == ["0.1"]
    rates = mon.firing_rates()
    recorded = torch.cat([s.flatten() for s in mon.spikes["0.1"]])
    assert recorded.numel() == (5 + 7) * 3 * 8
    assert rates["0.1"] == pytest.approx(float(recorded.mean()))
    assert 0 < rates["0.1"] < 1
    assert s1.shape == (5, 3, 4)


def test_recorded_membrane_equals_the_state_trajectory():
    net = _net()
    x = torch.rand(6, 2, 6)
    reference = _net()
    with neuro.Monitor(net, record_v=True) as mon:
        out = net(x)
    assert torch.equal(out, reference(x)), "recording must not change the spikes"
    v = mon.v["0.1"][0]
    assert v.shape == (6, 2, 8)
    assert torch.equal(v[-1], net[0][1].state.v)
    # step by step: the recorded potential at t is the neuron state after step t
    lif = neuro.LIF(tau=2.0, v_threshold=0.3, step_mode="s")
    currents = net[0][0](x)
    for t in range(6):
        lif(currents[t])
        assert torch.equal(v[t], lif.state.v.detach())


def test_single_step_mode_records_one_step_per_call():
    lif = neuro.LIF(step_mode="s")
    net = nn.Sequential(lif)
    x = torch.rand(4, 2, 3) * 2
    with neuro.Monitor(net, record_v=True) as mon:
        for x_t in x:
            net(x_t)
    assert len(mon.v["0"]) == 4 and all(v.shape == (1, 2, 3) for v in mon.v["0"])
    assert torch.equal(mon.v["0"][-1][0], lif.state.v)
    assert torch.equal(torch.stack(mon.spikes["0"]), neuro.LIF()(x))


def test_remove_detaches_hooks_and_clear_empties():
    net = _net()
    mon = neuro.Monitor(net, record_v=True)
    net(torch.rand(3, 2, 6))
    mon.clear()
    assert mon.spikes["0.1"] == [] and mon.v["0.1"] == []
    assert mon.firing_rates()["0.1"] != mon.firing_rates()["0.1"]  # NaN: nothing recorded
    mon.remove()
    net(torch.rand(3, 2, 6))
    assert mon.spikes["0.1"] == []
    assert not net[0][1].record_v


def test_counting_only_keeps_no_spikes_and_gives_the_same_rates():
    net, x = _net(), torch.rand(5, 3, 6)
    with neuro.Monitor(net) as kept, neuro.Monitor(net, record_spikes=False) as counted:
        net(x)
        neuro.reset(net)
        net(x[:2])
    assert counted.spikes == {"0.1": [], "1.1": []}
    assert counted.firing_rates() == pytest.approx(kept.firing_rates())
    spikes = {n: torch.cat([s.flatten() for s in seq]) for n, seq in kept.spikes.items()}
    assert counted.counts() == {n: (float(s.sum()), s.numel()) for n, s in spikes.items()}
    # Over all layers: total spikes over total neuron-steps, so the wider layer weighs more.
    total = torch.cat(list(spikes.values()))
    assert float(counted.firing_rate()) == pytest.approx(float(total.mean()))
    counted.clear()
    assert counted.firing_rate().isnan() and counted.counts() == {"0.1": (0.0, 0), "1.1": (0.0, 0)}


def test_a_nested_monitor_leaves_the_outer_membrane_recording_on():
    net = _net()
    with neuro.Monitor(net, record_v=True) as outer:
        with neuro.Monitor(net, record_spikes=False):
            net(torch.rand(4, 2, 6))
        assert net[0][1].record_v
        neuro.reset(net)
        net(torch.rand(4, 2, 6))
    assert len(outer.v["0.1"]) == 2 and not net[0][1].record_v


def test_spike_counts_stay_exact_past_float32s_integers():
    # 4097 x 4097 ones is 16,785,409 spikes: above 2**24, where float32 holds only even integers
    class Ones(neuro.LIF):
        def forward(self, x):
            return torch.ones(4097, 4097)

    layer = Ones()
    with neuro.Monitor(layer, record_spikes=False) as m:
        layer(torch.zeros(1))
    assert m.counts() == {"": (16_785_409.0, 16_785_409)}
