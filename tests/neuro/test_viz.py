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


def _time_ticks(ax) -> np.ndarray:
    lo, hi = ax.get_xlim()
    ticks = ax.get_xticks()
    return ticks[(ticks >= lo) & (ticks <= hi)]


def test_raster_images_the_spikes_of_the_chosen_sample(recording, tmp_path):
    spikes, _ = recording
    fig = viz.spike_raster(spikes, sample=1, path=tmp_path / "raster.png")
    assert (tmp_path / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = fig.axes
    assert len(axes) == 2
    for ax, s in zip(axes, spikes.values(), strict=True):
        np.testing.assert_array_equal(ax.images[0].get_array(), s[:, 1].reshape(8, -1).T.numpy())
        assert ax.get_ylabel() == "neuron"
    assert axes[-1].get_xlabel() == "time step"
    assert "firing rate" in axes[0].get_title()


def test_raster_caps_the_neurons_drawn(recording):
    spikes, _ = recording
    first = viz.spike_raster({"1": spikes["1"]}, max_neurons=3).axes[0]
    np.testing.assert_array_equal(first.images[0].get_array(), spikes["1"][:, 0, :3].T.numpy())
    assert "3 of 12 neurons" in first.get_title()
    spread = viz.spike_raster({"1": spikes["1"]}, max_neurons=5, select="spread").axes[0]
    np.testing.assert_array_equal(spread.images[0].get_array(), spikes["1"][:, 0, ::3].T.numpy())
    assert "4 of 12 neurons, one in 3" in spread.get_title()
    assert spread.get_ylim() == (-1.5, 10.5)  # the neuron axis keeps the layer's indices 0, 3, 6, 9


def test_raster_of_a_large_layer_groups_neurons_and_keeps_few_time_ticks():
    spikes = (torch.rand(60, 1, 1024, generator=torch.Generator().manual_seed(0)) < 0.1).float()
    ax = viz.spike_raster({"big": spikes}, max_neurons=None).axes[0]
    image = ax.images[0].get_array()
    group = 1024 // image.shape[0] + (1024 % image.shape[0] > 0)
    assert 1 < group < 1024 and f"{group} neurons per row" in ax.get_title()
    x = spikes[:, 0].T.numpy()
    np.testing.assert_allclose(image[0], x[:group].mean(0))  # a row is its group's spike fraction
    ticks = _time_ticks(ax)
    assert 3 <= len(ticks) <= 11 and np.all(ticks == np.round(ticks))


def test_heatmap_shows_the_mean_rate_per_layer_and_step(recording, tmp_path):
    spikes, _ = recording
    fig = viz.firing_rate_heatmap(spikes, path=tmp_path / "rates.svg")
    assert (tmp_path / "rates.svg").read_text().lstrip().startswith("<?xml")
    image = fig.axes[0].images[0].get_array()
    expected = np.stack([s.reshape(s.shape[0], -1).mean(1).numpy() for s in spikes.values()])
    np.testing.assert_allclose(image, expected)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(spikes)
    assert len(fig.axes[0].texts) == expected.size  # each rate written in its cell
    assert "firing rate" in fig.axes[1].get_ylabel()  # the colorbar


def test_heatmap_of_many_steps_stays_page_wide_without_cell_labels():
    spikes = {"a": torch.rand(300, 2, 5).round(), "b": torch.rand(300, 2, 3).round()}
    fig = viz.firing_rate_heatmap(spikes)
    assert fig.get_figwidth() < 12
    assert not fig.axes[0].texts
    assert len(_time_ticks(fig.axes[0])) <= 11


def test_membrane_traces_reach_the_threshold_at_each_spike(recording):
    spikes, v = recording
    fig = viz.membrane_traces(v["1"], v_threshold=1.0, spikes=spikes["1"], neurons=[0, 5])
    assert len(fig.axes) == 2
    for ax, i in zip(fig.axes, [0, 5], strict=True):
        trace, threshold, marks = ax.lines[:3]
        fired = spikes["1"][:, 0, i].numpy() > 0
        after = v["1"][:, 0, i].numpy()
        # per step: the charge (at the threshold where the neuron fired), then the reset potential
        np.testing.assert_allclose(trace.get_ydata()[1::2], after)
        np.testing.assert_allclose(trace.get_ydata()[0::2], np.where(fired, 1.0, after))
        assert set(threshold.get_ydata()) == {1.0}
        np.testing.assert_array_equal(marks.get_xdata(), np.nonzero(fired)[0])
        assert (
            ax.get_title(loc="left")
            == f"neuron {i}: {int(fired.sum())} spike{'' if fired.sum() == 1 else 's'}"
        )
    assert "threshold 1" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_membrane_traces_draw_the_given_charge_before_the_reset(recording):
    spikes, v = recording
    h = v["1"] + 0.5  # any pre-reset potentials of the right shape
    ax = viz.membrane_traces(v["1"], 1.0, spikes=spikes["1"], neurons=[3], h=h).axes[0]
    trace, _, marks = ax.lines[:3]
    np.testing.assert_allclose(trace.get_ydata()[0::2], h[:, 0, 3].numpy())
    fired = spikes["1"][:, 0, 3].numpy() > 0
    np.testing.assert_allclose(marks.get_ydata(), h[:, 0, 3].numpy()[fired])


def test_membrane_traces_pick_firing_neurons_busiest_first(recording):
    spikes, v = recording
    fig = viz.membrane_traces(v["1"], 1.0, spikes=spikes["1"], neurons=2)
    picked = [int(ax.get_title(loc="left").split(":")[0].split()[-1]) for ax in fig.axes]
    counts = spikes["1"][:, 0].sum(0)
    assert counts[picked[0]] == counts.max()
    assert all(counts[i] > 0 for i in picked)


def test_bad_input_is_a_clear_error(recording, tmp_path):
    spikes, v = recording
    with pytest.raises(ValueError, match=".png or .svg"):
        viz.spike_raster(spikes, path=tmp_path / "raster.jpg")
    with pytest.raises(ValueError, match="sample 9"):
        viz.spike_raster(spikes, sample=9)
    with pytest.raises(ValueError, match="select must be one of"):
        viz.spike_raster(spikes, select="random")
    with pytest.raises(ValueError, match="max_neurons must be at least 1"):
        viz.spike_raster(spikes, max_neurons=0)
    with pytest.raises(ValueError, match="non-empty mapping"):
        viz.firing_rate_heatmap({})
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        viz.firing_rate_heatmap({"x": torch.ones(3)})
    with pytest.raises(ValueError, match="not in 0..11"):
        viz.membrane_traces(v["1"], 1.0, neurons=[12])
    with pytest.raises(ValueError, match="spikes .* one shape"):
        viz.membrane_traces(v["1"], 1.0, spikes=spikes["3"])
    with pytest.raises(ValueError, match="h .* one shape"):
        viz.membrane_traces(v["1"], 1.0, h=v["3"])
