"""Spike encoders: direct repetition, Poisson rate statistics, latency first-spike times, delta changes."""

import pytest
import torch

from neuro import encoders


def test_direct_repeats_the_input_without_copying():
    x = torch.rand(2, 3)
    out = encoders.direct(x, 4)
    assert out.shape == (4, 2, 3)
    assert all(torch.equal(out[t], x) for t in range(4))
    assert out.data_ptr() == x.data_ptr()
    assert torch.equal(encoders.DirectEncoder(4)(x), out)


def test_poisson_rate_matches_the_intensity():
    x = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]).repeat(200, 1)  # 200 samples per intensity
    g = torch.Generator().manual_seed(0)
    spikes = encoders.poisson(x, 100, generator=g)
    assert spikes.shape == (100, 200, 5)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    rate = spikes.mean(dim=(0, 1))
    # 20 000 Bernoulli draws per intensity: the standard error is at most 0.0036
    torch.testing.assert_close(rate, x[0], rtol=0, atol=0.015)
    assert rate[0] == 0 and rate[-1] == 1
    # successive steps are independent: the lag-1 autocorrelation is ~0
    s = spikes[:, :, 2] - 0.5
    assert abs(float((s[1:] * s[:-1]).mean() / s.pow(2).mean())) < 0.03


def test_poisson_is_reproducible_with_a_generator_and_keeps_dtype():
    x = torch.rand(3, 4, dtype=torch.float64)
    a = encoders.poisson(x, 5, generator=torch.Generator().manual_seed(1))
    b = encoders.poisson(x, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == torch.float64
    assert encoders.PoissonEncoder(5)(x).shape == (5, 3, 4)


def test_latency_fires_once_earlier_for_stronger_input():
    T = 11
    x = torch.tensor([[1.0, 0.75, 0.5, 0.1, 0.0]])
    out = encoders.latency(x, T)
    assert out.shape == (T, 1, 5)
    counts = out.sum(0).flatten()
    assert counts.tolist() == [1, 1, 1, 1, 0]  # zero input stays silent
    first = out.argmax(0).flatten()[:4]
    assert first.tolist() == [0, 2, 5, 9]  # round((1 - x) * (T - 1))
    assert torch.equal(encoders.LatencyEncoder(T)(x), out)


def test_latency_threshold_silences_weak_input_and_t1_fires_at_once():
    x = torch.tensor([0.2, 0.6])
    assert encoders.latency(x, 5, threshold=0.3).sum(0).tolist() == [0.0, 1.0]
    assert encoders.latency(x, 1).tolist() == [[1.0, 1.0]]


def test_delta_marks_changes_up_and_down():
    x = torch.tensor([0.0, 0.5, 0.55, 0.2, 0.2, 0.9]).view(6, 1)
    on_off = encoders.delta(x, threshold=0.1)
    assert on_off.flatten().tolist() == [0.0, 1.0, 0.0, -1.0, 0.0, 1.0]
    on_only = encoders.delta(x, threshold=0.1, off_spikes=False)
    assert on_only.flatten().tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]


def test_delta_compares_the_first_step_with_zero():
    x = torch.full((3, 2), 0.4)
    assert encoders.delta(x, threshold=0.3)[:, 0].tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("fn", [encoders.poisson, encoders.latency, encoders.direct])
def test_encoders_accept_any_shape(fn):
    x = torch.rand(2, 3, 4, 5)
    assert fn(x, 3).shape == (3, 2, 3, 4, 5)
