"""neuro.viz: rasters, firing-rate heatmaps and membrane traces draw the recorded data and save headless."""

import numpy as np
import pytest
import torch
from torch import nn

import neuro
from neuro import viz


@pytest.fixture(scope="module")
def recording():
    torch.manual_seed(0)
    net = nn.Sequential(
        neuro.TimeDistributed(nn.Linear(6, 12)),
        neuro.LIF(),
        neuro.TimeDistributed(nn.Linear(12, 4)),
        neuro.LIF(),
    )
    with torch.no_grad():
        net[0].layer.weight.mul_(5)
        net[2].layer.weight.mul_(5)
    with neuro.Monitor(net, record_v=True) as monitor, torch.no_grad():
        net(torch.rand(8, 3, 6))
    spikes = {name: s[-1] for name, s in monitor.spikes.items()}
    assert spikes["1"].sum() > 0
    return spikes, {name: v[-1] for name, v in monitor.v.items()}


def test_raster_draws_one_mark_per_spike_of_the_chosen_sample(recording, tmp_path):
    spikes, _ = recording
    fig = viz.spike_raster(spikes, sample=1, path=tmp_path / "raster.png")
    assert (tmp_path / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = fig.axes
    assert len(axes) == 2
    for ax, s in zip(axes, spikes.values(), strict=True):
        assert len(ax.collections[0].get_offsets()) == int(s[:, 1].sum())
        assert ax.get_ylabel() == "neuron"
    assert axes[-1].get_xlabel() == "time step"
    assert "firing rate" in axes[0].get_title()


def test_raster_caps_the_neurons_drawn(recording):
    spikes, _ = recording
    fig = viz.spike_raster({"1": spikes["1"]}, max_neurons=3)
    offsets = fig.axes[0].collections[0].get_offsets()
    assert len(offsets) == 0 or offsets[:, 1].max() < 3
    assert "3 of 12 neurons" in fig.axes[0].get_title()


def test_heatmap_shows_the_mean_rate_per_layer_and_step(recording, tmp_path):
    spikes, _ = recording
    fig = viz.firing_rate_heatmap(spikes, path=tmp_path / "rates.svg")
    assert (tmp_path / "rates.svg").read_text().lstrip().startswith("<?xml")
    image = fig.axes[0].images[0].get_array()
    expected = np.stack([s.reshape(s.shape[0], -1).mean(1).numpy() for s in spikes.values()])
    np.testing.assert_allclose(image, expected)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(spikes)
    assert "firing rate" in fig.axes[1].get_ylabel()  # the colorbar


def test_membrane_traces_draw_the_potential_the_threshold_and_the_spikes(recording):
    spikes, v = recording
    fig = viz.membrane_traces(v["1"], v_threshold=1.0, spikes=spikes["1"], neurons=[0, 5])
    assert len(fig.axes) == 2
    for ax, i in zip(fig.axes, [0, 5], strict=True):
        trace, threshold = ax.lines[0], ax.lines[1]
        np.testing.assert_allclose(trace.get_ydata(), v["1"][:, 0, i].numpy())
        assert set(threshold.get_ydata()) == {1.0}
        assert len(ax.lines[2].get_xdata()) == int(spikes["1"][:, 0, i].sum())
        assert ax.get_ylabel() == f"neuron {i}"
    assert "threshold 1" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_membrane_traces_pick_neurons_that_fire_first(recording):
    spikes, v = recording
    fig = viz.membrane_traces(v["1"], 1.0, spikes=spikes["1"], neurons=2)
    picked = [int(ax.get_ylabel().split()[-1]) for ax in fig.axes]
    assert all(spikes["1"][:, 0, i].sum() > 0 for i in picked)


def test_bad_input_is_a_clear_error(recording, tmp_path):
    spikes, v = recording
    with pytest.raises(ValueError, match=".png or .svg"):
        viz.spike_raster(spikes, path=tmp_path / "raster.jpg")
    with pytest.raises(ValueError, match="sample 9"):
        viz.spike_raster(spikes, sample=9)
    with pytest.raises(ValueError, match="non-empty mapping"):
        viz.firing_rate_heatmap({})
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        viz.firing_rate_heatmap({"x": torch.ones(3)})
    with pytest.raises(ValueError, match="not in 0..11"):
        viz.membrane_traces(v["1"], 1.0, neurons=[12])
    with pytest.raises(ValueError, match="one shape"):
        viz.membrane_traces(v["1"], 1.0, spikes=spikes["3"])
