"""Neuron modules and their functional forms: equations, state, step modes, ALIF and CubaLIF behaviour."""

import pytest
import torch
from torch import nn

import neuro
from neuro import functional as F
from neuro import surrogate as ns

NEURONS = [
    lambda **kw: neuro.IF(**kw),
    lambda **kw: neuro.LIF(tau=3.0, **kw),
    lambda **kw: neuro.LIF(tau=3.0, decay_input=False, v_reset=None, **kw),
    lambda **kw: neuro.ParametricLIF(tau=2.5, **kw),
    lambda **kw: neuro.ALIF(tau=3.0, tau_adapt=5.0, beta=0.5, **kw),
    lambda **kw: neuro.CubaLIF(tau=4.0, tau_syn=2.0, v_threshold=0.5, **kw),
]
NAMES = ["IF", "LIF", "LIF-soft", "PLIF", "ALIF", "CubaLIF"]


def _drive(shape=(10, 3, 4), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 1.6


@pytest.mark.parametrize("make", NEURONS, ids=NAMES)
def test_single_step_calls_equal_one_multi_step_call(make):
    x = _drive()
    multi, single = make(), make(step_mode="s")
    z_m = multi(x)
    z_s = torch.stack([single(x_t) for x_t in x])
    assert z_m.shape == x.shape and 0 < z_m.mean() < 1
    assert torch.equal(z_m, z_s)
    for a, b in zip(multi.state, single.state, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("make", NEURONS, ids=NAMES)
def test_state_persists_until_reset(make):
    x = _drive()
    n = make()
    first = n(x)
    second = n(x)
    assert not torch.equal(first, second), "the second call starts from the first call's state"
    neuro.reset(n)
    assert n.state is None
    assert torch.equal(n(x), first)


@pytest.mark.parametrize("make", NEURONS, ids=NAMES)
def test_record_v_keeps_the_potential_of_each_step(make):
    x = _drive()
    plain, recording = make(), make()
    recording.record_v = True
    assert torch.equal(plain(x), recording(x))
    assert recording.v_seq.shape == x.shape
    assert torch.equal(recording.v_seq[-1], recording.state.v)
    # the recorded trace is the state after each step, as single steps see it
    single = make(step_mode="s")
    for t, x_t in enumerate(x):
        single(x_t)
        assert torch.equal(recording.v_seq[t], single.state.v)


@pytest.mark.parametrize("make", NEURONS, ids=NAMES)
def test_backends_torch_and_auto_agree(make):
    x = _drive()
    assert torch.equal(make(backend="torch")(x), make(backend="auto")(x))


def test_reset_reaches_nested_neurons_and_spares_other_modules():
    net = nn.Sequential(neuro.SpikingLinear(4, 3), nn.Sequential(neuro.LIF(), nn.Identity()), neuro.ALIF())
    net(_drive((5, 2, 4)))
    neurons = [m for m in net.modules() if isinstance(m, neuro.SpikingNeuron)]
    assert len(neurons) == 3 and all(m.state is not None for m in neurons)
    neuro.reset(net)
    assert all(m.state is None and m.v_seq is None for m in neurons)


def test_lif_hand_computed_hard_and_soft_reset():
    """Constant input 0.8, tau=2, threshold 1: H = V + (X - V)/2 for decay_input=True."""
    x = torch.full((4, 1), 0.8)
    hard = neuro.LIF(tau=2.0, v_reset=0.0)
    hard.record_v = True
    # H: 0.4, 0.6, 0.7, 0.75 -> never reaches 1
    assert hard(x).sum() == 0
    torch.testing.assert_close(hard.v_seq.flatten(), torch.tensor([0.4, 0.6, 0.7, 0.75]))

    soft = neuro.LIF(tau=2.0, v_reset=None, decay_input=False)
    soft.record_v = True
    # H = V - V/2 + 0.8: 0.8, 1.2 (spike, V=0.2), 0.9, 1.25 (spike, V=0.25)
    assert soft(x).flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(soft.v_seq.flatten(), torch.tensor([0.8, 0.2, 0.9, 0.25]))


def test_spike_at_exactly_the_threshold():
    n = neuro.IF(v_threshold=1.0)
    assert n(torch.tensor([[1.0], [0.5]])).flatten().tolist() == [1.0, 0.0]


def test_detach_reset_changes_gradients_not_spikes():
    x = _drive()
    grads, spikes = [], []
    for detach in (False, True):
        xr = x.clone().requires_grad_()
        z = neuro.LIF(detach_reset=detach)(xr)
        z.sum().backward()
        grads.append(xr.grad)
        spikes.append(z.detach())
    assert torch.equal(*spikes)
    assert not torch.allclose(*grads)


def test_surrogate_shapes_the_gradient():
    x = _drive()
    grads = []
    for sg in (ns.ATan(), ns.Sigmoid(), ns.StraightThrough()):
        xr = x.clone().requires_grad_()
        neuro.LIF(surrogate=sg)(xr).sum().backward()
        grads.append(xr.grad)
    assert not torch.allclose(grads[0], grads[1])
    assert not torch.allclose(grads[1], grads[2])


def test_module_equals_functional_form():
    x = _drive()
    p = F.LIFParameters(tau=3.0, v_threshold=0.9, v_reset=None)
    z_f, state = F.lif_multi_step(x, None, p)
    n = neuro.LIF(tau=3.0, v_threshold=0.9, v_reset=None)
    assert torch.equal(n(x), z_f)
    assert torch.equal(n.state.v, state.v)
    assert n.params == p


def test_parametric_lif_learns_its_time_constant():
    n = neuro.ParametricLIF(tau=4.0)
    assert n.tau == pytest.approx(4.0)
    assert [name for name, _ in n.named_parameters()] == ["w"]
    n(_drive()).sum().backward()
    assert n.w.grad is not None and n.w.grad != 0
    with torch.no_grad():
        n.w.fill_(F.plif_weight_for_tau(2.0))
    assert n.tau == pytest.approx(2.0)
    assert "v_threshold=1.0" in repr(n)


def test_lif_with_tau_one_copies_the_input():
    x = _drive()
    n = neuro.LIF(tau=1.0, v_reset=0.0)
    n.record_v = True
    z = n(x)
    assert torch.equal(z, (x >= 1.0).float())  # H = V + (X - V) = X (up to rounding, far from 1 here)
    torch.testing.assert_close(n.v_seq, x * (1 - z))


# --- ALIF -----------------------------------------------------------------------------------


def test_alif_adaptation_lowers_the_rate_below_lif():
    x = torch.full((200, 1, 8), 0.7) + torch.linspace(0, 0.5, 8)
    lif = neuro.LIF(tau=2.0)(x).mean()
    alif = neuro.ALIF(tau=2.0, tau_adapt=20.0, beta=0.3)(x).mean()
    assert 0 < alif < lif
    stronger = neuro.ALIF(tau=2.0, tau_adapt=20.0, beta=1.0)(x).mean()
    assert stronger < alif


def test_alif_without_adaptation_is_lif():
    x = _drive()
    assert torch.equal(neuro.ALIF(tau=3.0, beta=0.0)(x), neuro.LIF(tau=3.0)(x))


def test_alif_threshold_trace_follows_its_recurrence():
    x = _drive((12, 2, 3))
    a = torch.zeros(2, 3)
    single = neuro.ALIF(tau=2.0, tau_adapt=4.0, beta=0.5, step_mode="s")
    for x_t in x:
        v_before = single.state.v if single.state is not None else torch.zeros_like(x_t)
        h = v_before + (x_t - v_before) / 2.0
        threshold = 1.0 + 0.5 * a
        z = single(x_t)
        assert torch.equal(z, (h >= threshold).float())
        a = a - a / 4.0 + z
        torch.testing.assert_close(single.state.a, a)
    assert a.max() > 0


def test_alif_soft_reset_subtracts_the_adapted_threshold():
    n = neuro.ALIF(tau=2.0, tau_adapt=10.0, beta=0.5, v_reset=None, decay_input=False, step_mode="s")
    n(torch.tensor([1.5]))  # H=1.5 >= 1 -> spike, V = 1.5 - 1, a = 1
    torch.testing.assert_close(n.state.v, torch.tensor([0.5]))
    torch.testing.assert_close(n.state.a, torch.tensor([1.0]))
    z = n(torch.tensor([1.3]))  # H = 0.5 - 0.25 + 1.3 = 1.55 >= 1 + 0.5 -> spike, V = 1.55 - 1.5
    assert z.item() == 1.0
    torch.testing.assert_close(n.state.v, torch.tensor([0.05]))


# --- CubaLIF --------------------------------------------------------------------------------


def test_cuba_lif_hand_computed_steps():
    """tau_syn=2, tau_mem=4, threshold 0.5, input 1 then 0: I and V by forward Euler."""
    n = neuro.CubaLIF(tau=4.0, tau_syn=2.0, v_threshold=0.5, step_mode="s")
    expected = [
        # I = I + (X - I)/2 ; V = V + (0 - V + I)/4
        (0.5, 0.125, 0.0),
        (0.75, 0.125 + (0.75 - 0.125) / 4, 0.0),  # V = 0.28125
    ]
    x = [1.0, 1.0]
    for x_t, (i, v, spike) in zip(x, expected, strict=True):
        z = n(torch.tensor([x_t]))
        assert z.item() == spike
        torch.testing.assert_close(n.state.i, torch.tensor([i]))
        torch.testing.assert_close(n.state.v, torch.tensor([v]))
    # third step: I = 0.875, H = 0.28125 + (0.875 - 0.28125)/4 = 0.4296875 < 0.5; fourth: spikes
    assert n(torch.tensor([1.0])).item() == 0.0
    torch.testing.assert_close(n.state.v, torch.tensor([0.4296875]))
    assert n(torch.tensor([1.0])).item() == 1.0  # I = 0.9375, H = 0.556640625
    torch.testing.assert_close(n.state.v, torch.tensor([0.0]))


def test_cuba_lif_synaptic_current_delays_and_smooths_the_response():
    x = torch.zeros(30, 1, 1)
    x[0] = 5.0  # one input pulse
    fast = neuro.CubaLIF(tau=5.0, tau_syn=1.0, v_threshold=10.0)
    slow = neuro.CubaLIF(tau=5.0, tau_syn=4.0, v_threshold=10.0)
    fast.record_v = slow.record_v = True
    fast(x)
    slow(x)
    v_fast, v_slow = fast.v_seq.flatten(), slow.v_seq.flatten()
    assert v_fast.argmax() < v_slow.argmax()  # the synaptic filter delays the peak
    assert v_slow[10:].sum() > v_fast[10:].sum()  # and keeps charging longer


def test_cuba_lif_starts_at_rest_and_relaxes_to_v_leak():
    n = neuro.CubaLIF(tau=2.0, tau_syn=2.0, v_leak=0.3, v_reset=0.0)
    n.record_v = True
    n(torch.zeros(40, 1, 1))
    torch.testing.assert_close(n.v_seq.flatten(), torch.full((40,), 0.3))


@pytest.mark.parametrize("cls", [neuro.IF, neuro.LIF, neuro.ParametricLIF])
def test_lean_memory_module_matches_exact_spikes_and_gradients_closely(cls):
    torch.manual_seed(0)
    x = (torch.randn(8, 4, 64) * 1.5).requires_grad_()
    grads, spikes = [], []
    for memory in ("exact", "lean"):
        n = cls(memory=memory, backend="cpu")
        z = n(x)
        (g,) = torch.autograd.grad((z * torch.linspace(-1, 1, 64)).sum(), x)
        grads.append(g)
        spikes.append(z)
    assert torch.equal(spikes[0], spikes[1])
    rel = (grads[0] - grads[1]).norm() / grads[0].norm()
    assert 0 < rel < 1e-2  # lean keeps H in bfloat16: close, not identical


def test_unknown_memory_mode_is_rejected_at_construction():
    with pytest.raises(ValueError, match="memory must be one of"):
        neuro.LIF(memory="tiny")


def test_non_finite_input_is_reported_unless_the_check_is_off():
    x = torch.zeros(3, 2, 4)
    x[1, 0, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        neuro.LIF()(x)
    n = neuro.LIF()
    n.check_finite = False
    assert n(x).shape == x.shape
