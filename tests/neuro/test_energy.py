"""neuro.energy: MAC and SOP counts on tiny networks, checked against counts worked out by hand."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import neuro
from neuro.energy import CAVEATS, EnergyCosts, EnergyMeter


def _measure(model, *inputs, n_samples, costs=None):
    kwargs = {} if costs is None else {"costs": costs}
    with EnergyMeter(model, **kwargs) as meter, torch.no_grad():
        for x in inputs:
            model(x)
    return meter.report(n_samples)


def _row(report, name):
    (row,) = [r for r in report.layers if r.name == name]
    return row


def test_dense_linear_counts_inputs_times_outputs_macs():
    fc = nn.Linear(4, 3)
    report = _measure(fc, torch.rand(2, 4), n_samples=2)
    row = _row(report, "(model)")
    # 2 samples x 4 inputs x 3 outputs = 24 MACs, 12 per sample.
    assert (row.type, row.op_kind, row.ops) == ("Linear", "MAC", 12.0)
    assert row.energy_pj == pytest.approx(12 * 4.6)
    assert report.macs == 12.0 and report.sops == 0.0


def test_spiking_linear_counts_spikes_times_fan_out():
    fc = nn.Linear(4, 3, bias=False)
    spikes = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    report = _measure(fc, spikes, n_samples=2)
    # 3 spikes, each reaching 3 outputs: 9 accumulates, 4.5 per sample, 0.9 pJ each.
    assert (report.layers[0].op_kind, report.layers[0].ops) == ("SOP", 4.5)
    assert report.energy_pj == pytest.approx(4.5 * 0.9)


@pytest.mark.parametrize("where, reached", [((0, 0), 4), ((1, 1), 9), ((0, 2), 6)])
def test_spiking_conv_counts_the_outputs_each_spike_reaches(where, reached):
    conv = nn.Conv2d(1, 2, 3, padding=1)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, where[0], where[1]] = 1.0
    report = _measure(conv, x, n_samples=1)
    # A corner pixel is in 2x2 output windows, an inner one in 3x3, an edge one in 2x3; x 2 channels.
    assert report.sops == 2 * reached
    assert report.macs == 0


def test_dense_conv_counts_outputs_times_kernel_macs():
    conv = nn.Conv2d(2, 3, 3, padding=1, groups=1)
    report = _measure(conv, torch.rand(1, 2, 4, 4) + 0.1, n_samples=1)
    assert report.macs == 3 * 4 * 4 * (2 * 3 * 3)  # outputs x (C_in x kernel)


def test_layers_after_a_neuron_count_the_spikes_it_fired():
    torch.manual_seed(0)
    net = nn.Sequential(
        neuro.TimeDistributed(nn.Linear(3, 5)), neuro.LIF(), neuro.TimeDistributed(nn.Linear(5, 2))
    )
    with torch.no_grad():
        net[0].layer.weight.mul_(4)
    x = torch.rand(6, 2, 3)
    with neuro.Monitor(net) as monitor:
        report = _measure(net, x, n_samples=2)
    fired = float(monitor.spikes["1"][0].sum())
    assert 0 < fired < 6 * 2 * 5
    assert _row(report, "0.layer").op_kind == "MAC"
    assert _row(report, "0.layer").ops == 6 * 2 * 3 * 5 / 2
    assert _row(report, "2.layer").op_kind == "SOP"
    assert _row(report, "2.layer").ops == fired * 2 / 2


class _SpikeProduct(nn.Module):
    """A functional (non-module) product of spikes, as in spiking self-attention."""

    def forward(self, s):
        return s @ torch.ones(s.shape[-1], 7)


def test_functional_products_are_counted_under_the_module_that_runs_them():
    net = nn.Sequential(nn.Identity(), _SpikeProduct())
    s = torch.tensor([[1.0, 1.0, 0.0]])
    report = _measure(net, s, n_samples=1)
    assert [(r.name, r.type, r.op_kind, r.ops) for r in report.layers] == [
        ("1", "_SpikeProduct", "SOP", 14.0)
    ]


def test_attention_counts_scores_and_weighted_sum():
    class Attention(nn.Module):
        def forward(self, q):
            return F.scaled_dot_product_attention(q, q, q)

    report = _measure(Attention(), torch.rand(1, 2, 5, 4), n_samples=1)
    assert report.macs == 2 * (2 * 5 * 5 * 4)  # heads x L x S x d, twice


def test_costs_are_configurable_and_reports_group_and_print():
    net = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.Linear(3, 2)))
    costs = EnergyCosts(mac_pj=1.0, ac_pj=0.5, source="test table")
    report = _measure(net, torch.rand(1, 4) + 0.1, n_samples=1, costs=costs)
    assert report.energy_pj == 4 * 3 + 3 * 2
    grouped = report.grouped(depth=1)
    assert [(r.name, r.ops) for r in grouped.layers] == [("0", 12.0), ("1", 6.0)]
    text = report.table()
    assert "1.0" in text and "test table" in text and CAVEATS in text
    assert report.to_dict()["energy_pj_per_sample"] == 18.0
    assert "Horowitz" in EnergyCosts().source and "ISSCC 2014" in EnergyCosts().source


def test_counts_accumulate_over_batches_and_divide_by_samples():
    fc = nn.Linear(2, 2)
    report = _measure(fc, torch.rand(3, 2), torch.rand(1, 2), n_samples=4)
    assert report.macs == 4.0  # (3 + 1) x 2 x 2 / 4


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="n_samples"):
        EnergyMeter(nn.Linear(1, 1)).report(0)
    with pytest.raises(ValueError, match="mac_pj"):
        EnergyCosts(mac_pj=-1.0)
    with pytest.raises(TypeError, match="nn.Module"):
        EnergyMeter(lambda x: x)
