"""neuro against its peers: SpikingJelly 2.0 (LIF/IF/ParametricLIF nodes, surrogates), snnTorch Leaky.

Spikes must be bit-equal (``torch.equal``); gradients allclose with ``rtol=1e-5``. The snnTorch
mapping is documented in ``docs/peers.md``.
"""

import itertools

import pytest
import snntorch
import torch
from norse.torch.functional.threshold import triangle_fn
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate

import neuro
from neuro import surrogate as ns

# The peers are test dependencies (the `test` extra; the Makefile adds SpikingJelly): a missing
# peer is an error here, not a skip, so CI cannot pass without comparing against them.

SURROGATES = [("ATan", 2.0), ("Sigmoid", 4.0), ("ATan", 0.7), ("Sigmoid", 9.0)]
RESETS = [0.0, -0.3, None]
# "torch" is the reference loop; "auto" is what users get (the fused CPU kernel when it builds).
BACKENDS = pytest.mark.parametrize("backend", ["torch", "auto"])


def _input(shape=(12, 3, 5), seed=0, scale=1.5, shift=0.5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale + shift


def _compare(sj_node, ours, x, params=()):
    """Run both on ``x``; return (sj spikes, our spikes, sj input grad, our input grad, param grad pairs)."""
    x_sj = x.clone().requires_grad_()
    x_ours = x.clone().requires_grad_()
    s_sj = sj_node(x_sj)
    s_ours = ours(x_ours)
    weight = torch.randn(s_sj.shape, generator=torch.Generator().manual_seed(1))
    (s_sj * weight).sum().backward()
    (s_ours * weight).sum().backward()
    return s_sj, s_ours, x_sj.grad, x_ours.grad, [(a.grad, b.grad) for a, b in params]


def _assert_equal_run(s_sj, s_ours, g_sj, g_ours):
    assert 0 < s_sj.mean() < 1, "the test input should make the neurons fire sometimes"
    assert torch.equal(s_sj, s_ours)
    assert g_sj.abs().max() > 0
    torch.testing.assert_close(g_ours, g_sj, rtol=1e-5, atol=1e-7)


@BACKENDS
@pytest.mark.parametrize(
    "v_reset, decay_input, detach_reset, sg",
    list(itertools.product(RESETS, [True, False], [False, True], SURROGATES)),
)
def test_lif_equals_spikingjelly_lifnode(v_reset, decay_input, detach_reset, sg, backend):
    name, alpha = sg
    kw = dict(v_threshold=0.7, v_reset=v_reset, decay_input=decay_input, detach_reset=detach_reset)
    sj = sj_neuron.LIFNode(
        tau=3.0, surrogate_function=getattr(sj_surrogate, name)(alpha=alpha), step_mode="m", **kw
    )
    ours = neuro.LIF(tau=3.0, surrogate=getattr(ns, name)(alpha=alpha), backend=backend, **kw)
    x = _input()
    s_sj, s_ours, g_sj, g_ours, _ = _compare(sj, ours, x)
    _assert_equal_run(s_sj, s_ours, g_sj, g_ours)
    assert torch.equal(sj.v, ours.state.v)


@BACKENDS
@pytest.mark.parametrize(
    "v_reset, detach_reset, sg", list(itertools.product(RESETS, [False, True], SURROGATES[:2]))
)
def test_if_equals_spikingjelly_ifnode(v_reset, detach_reset, sg, backend):
    name, alpha = sg
    kw = dict(v_threshold=1.2, v_reset=v_reset, detach_reset=detach_reset)
    sj = sj_neuron.IFNode(surrogate_function=getattr(sj_surrogate, name)(alpha=alpha), step_mode="m", **kw)
    ours = neuro.IF(surrogate=getattr(ns, name)(alpha=alpha), backend=backend, **kw)
    x = _input(shift=0.2)
    s_sj, s_ours, g_sj, g_ours, _ = _compare(sj, ours, x)
    _assert_equal_run(s_sj, s_ours, g_sj, g_ours)
    assert torch.equal(sj.v, ours.state.v)


@BACKENDS
@pytest.mark.parametrize(
    "v_reset, decay_input, detach_reset, sg",
    list(itertools.product(RESETS, [True, False], [False, True], SURROGATES[:2])),
)
def test_parametric_lif_equals_spikingjelly_plifnode(v_reset, decay_input, detach_reset, sg, backend):
    name, alpha = sg
    kw = dict(v_threshold=0.8, v_reset=v_reset, decay_input=decay_input, detach_reset=detach_reset)
    sj = sj_neuron.ParametricLIFNode(
        init_tau=2.5, surrogate_function=getattr(sj_surrogate, name)(alpha=alpha), step_mode="m", **kw
    )
    ours = neuro.ParametricLIF(tau=2.5, surrogate=getattr(ns, name)(alpha=alpha), backend=backend, **kw)
    assert torch.equal(sj.w.detach(), ours.w.detach())
    x = _input(shape=(10, 2, 3, 4))
    s_sj, s_ours, g_sj, g_ours, ((gw_sj, gw_ours),) = _compare(sj, ours, x, [(sj.w, ours.w)])
    _assert_equal_run(s_sj, s_ours, g_sj, g_ours)
    assert gw_sj.abs() > 0
    torch.testing.assert_close(gw_ours, gw_sj, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name, alpha", [("Erf", 2.0), ("Erf", 0.5), ("PiecewiseQuadratic", 1.0)])
def test_lif_with_other_surrogates_equals_spikingjelly(name, alpha):
    sg = getattr(sj_surrogate, name)(alpha=alpha)
    sj = sj_neuron.LIFNode(tau=2.0, surrogate_function=sg, step_mode="m")
    ours = neuro.LIF(tau=2.0, surrogate=getattr(ns, name)(alpha=alpha))
    s_sj, s_ours, g_sj, g_ours, _ = _compare(sj, ours, _input())
    _assert_equal_run(s_sj, s_ours, g_sj, g_ours)


@pytest.mark.parametrize(
    "name, alpha",
    [
        ("ATan", 2.0),
        ("ATan", 5.0),
        ("Sigmoid", 4.0),
        ("Erf", 2.0),
        ("PiecewiseQuadratic", 1.0),
        ("PiecewiseQuadratic", 2.5),
    ],
)
def test_surrogate_equals_spikingjelly(name, alpha):
    """Same forward (Heaviside, 1 at 0) and the same gradient, kinks included, on a dense grid."""
    x = torch.cat([torch.linspace(-3, 3, 601), torch.tensor([0.0, 1 / alpha, -1 / alpha])])
    x_sj = x.clone().requires_grad_()
    x_ours = x.clone().requires_grad_()
    y_sj = getattr(sj_surrogate, name)(alpha=alpha)(x_sj)
    y_ours = getattr(ns, name)(alpha=alpha)(x_ours)
    assert torch.equal(y_sj, y_ours)
    y_sj.sum().backward()
    y_ours.sum().backward()
    torch.testing.assert_close(x_ours.grad, x_sj.grad, rtol=1e-5, atol=1e-7)
    # Same primitive too (SpikingJelly's spiking=False mode returns it).
    prim_sj = getattr(sj_surrogate, name)(alpha=alpha, spiking=False)(x)
    torch.testing.assert_close(getattr(ns, name)(alpha=alpha).primitive(x), prim_sj, rtol=1e-5, atol=1e-6)


def _surrogate_grad(fn, x):
    x = x.clone().requires_grad_()
    fn(x).sum().backward()
    return x.grad


@pytest.mark.parametrize(
    "ours, peer",
    [
        (ns.FastSigmoid(alpha=25.0), lambda: snntorch.surrogate.fast_sigmoid(slope=25)),
        (ns.FastSigmoid(alpha=3.0), lambda: snntorch.surrogate.fast_sigmoid(slope=3.0)),
        (ns.StraightThrough(), lambda: snntorch.surrogate.straight_through_estimator()),
        (ns.ATan(alpha=2.0), lambda: snntorch.surrogate.atan(alpha=2.0)),
        (ns.Triangle(alpha=0.3), lambda: triangle_fn),
    ],
    ids=["FastSigmoid-25", "FastSigmoid-3", "StraightThrough", "ATan", "Triangle-norse"],
)
def test_surrogate_gradient_equals_snntorch_and_norse(ours, peer):
    """Gradients equal the peers' (their forward fires on ``x > 0``, ours on ``x >= 0``)."""
    x = torch.linspace(-2, 2, 401)
    torch.testing.assert_close(_surrogate_grad(ours, x), _surrogate_grad(peer(), x), rtol=1e-6, atol=0)


# --- snnTorch ---------------------------------------------------------------------------------


def _run_leaky(leaky, x):
    mem = leaky.init_leaky()
    spikes, mems = [], []
    for x_t in x:
        spk, mem = leaky(x_t, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def _leaky_pair(tau, reset_mechanism, reset_delay, backend="auto", threshold=1.0):
    """snnTorch's ``Leaky`` and the ``neuro.LIF`` documented as its equivalent in docs/peers.md."""
    leaky = snntorch.Leaky(
        beta=1 - 1 / tau,
        threshold=threshold,
        reset_mechanism=reset_mechanism,
        reset_delay=reset_delay,
        spike_grad=snntorch.surrogate.atan(alpha=2.0),
    )
    ours = neuro.LIF(
        tau=tau,
        decay_input=False,
        v_threshold=threshold,
        v_reset=None if reset_mechanism == "subtract" else 0.0,
        detach_reset=reset_delay,
        surrogate=ns.ATan(alpha=2.0),
        backend=backend,
    )
    return leaky, ours


def _run_both(leaky, ours, x):
    """Spikes, potentials and input gradients (of the spike sum) of snnTorch's and our neuron.

    Our potentials come from a second, recording run (``record_v`` runs the reference loop);
    its spikes must equal the first run's.
    """
    x_sn = x.clone().requires_grad_()
    x_ours = x.clone().requires_grad_()
    s_sn, mem_sn = _run_leaky(leaky, x_sn)
    s_ours = ours(x_ours)
    s_sn.sum().backward()
    s_ours.sum().backward()
    recording = neuro.LIF(backend="torch", **vars(ours.params))
    recording.record_v = True
    assert torch.equal(recording(x), s_ours)
    return (s_sn.detach(), mem_sn.detach(), x_sn.grad), (s_ours.detach(), recording.v_seq, x_ours.grad)


def _assert_same_gradient(ours, peer, backend):
    """Bit-equal from our reference loop; the fused kernel sums in another order (ulp-level)."""
    if backend == "torch":
        assert torch.equal(ours, peer)
    else:
        torch.testing.assert_close(ours, peer, rtol=1e-5, atol=1e-7)


def _below_threshold_input(T=48, threshold=1.0, seed=0):
    """Inputs below the threshold: after a soft reset the potential is then always below it too."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand((T, 4, 16), generator=g) * threshold - 0.1


@BACKENDS
@pytest.mark.parametrize("reset_mechanism", ["subtract", "zero"])
@pytest.mark.parametrize("tau", [2.0, 4.0])
def test_lif_equals_snntorch_leaky_without_reset_delay(tau, reset_mechanism, backend):
    """``Leaky(beta=1-1/tau, reset_delay=False)`` is our ``decay_input=False`` LIF, bit for bit.

    For ``tau`` a power of two, ``1/tau`` and ``beta`` are exact, so ``V - V/tau`` and ``beta*V``
    are the same correctly rounded number: potentials and gradients are bit-equal too.
    """
    leaky, ours = _leaky_pair(tau, reset_mechanism, reset_delay=False, backend=backend)
    (s_sn, mem_sn, g_sn), (s_ours, v_ours, g_ours) = _run_both(leaky, ours, _below_threshold_input())
    assert 0 < s_sn.mean() < 1
    assert torch.equal(s_sn, s_ours)
    assert torch.equal(mem_sn, v_ours)
    _assert_same_gradient(g_ours, g_sn, backend)


@BACKENDS
def test_lif_matches_snntorch_leaky_for_inexact_beta(backend):
    """With ``tau=3`` ``beta*V`` and ``V - V/tau`` may round differently (1 ulp): potentials allclose."""
    leaky, ours = _leaky_pair(3.0, "subtract", reset_delay=False, backend=backend)
    x = _below_threshold_input(seed=3)
    (s_sn, mem_sn, g_sn), (s_ours, v_ours, g_ours) = _run_both(leaky, ours, x)
    assert torch.equal(s_sn, s_ours)  # no potential lands within an ulp of the threshold here
    torch.testing.assert_close(v_ours, mem_sn, rtol=0, atol=1e-6)
    torch.testing.assert_close(g_ours, g_sn, rtol=1e-5, atol=1e-5)


@BACKENDS
def test_lif_equals_snntorch_leaky_zero_reset_with_delay(backend):
    """snnTorch's default ``reset_delay=True`` with ``reset_mechanism='zero'``: same spikes, the
    gradient of ``detach_reset=True`` (snnTorch detaches its delayed reset), and snnTorch's ``mem``
    is our potential *before* the reset, ``H``.
    """
    leaky, ours = _leaky_pair(2.0, "zero", reset_delay=True, backend=backend)
    x = _below_threshold_input(seed=1) * 1.8  # inputs above threshold are fine for a zero reset
    (s_sn, mem_sn, g_sn), (s_ours, v_ours, g_ours) = _run_both(leaky, ours, x)
    assert 0 < s_sn.mean() < 1
    assert torch.equal(s_sn, s_ours)
    fired = s_ours.bool()
    assert torch.equal(mem_sn[~fired], v_ours[~fired])  # no spike: H == V
    assert bool((mem_sn[fired] > 1.0).all()) and bool((v_ours[fired] == 0).all())
    _assert_same_gradient(g_ours, g_sn, backend)


def test_snntorch_subtract_with_reset_delay_differs_when_leaky():
    """snnTorch's default (``subtract``, ``reset_delay=True``) subtracts the threshold one step late
    and undecayed: ``U_t = beta U_{t-1} + X_t - V_th S_{t-1}``. That is not SpikingJelly's soft reset
    unless ``beta = 1`` (IF), where the spikes match our soft-reset IF.
    """
    x = _below_threshold_input(seed=2) + 0.3
    leaky = snntorch.Leaky(beta=1.0, threshold=1.0, reset_mechanism="subtract")
    s_sn, _ = _run_leaky(leaky, x)
    s_if = neuro.IF(v_reset=None)(x)
    assert 0 < s_if.mean() < 1
    assert torch.equal(s_sn, s_if)

    leaky, ours = _leaky_pair(2.0, "subtract", reset_delay=True)
    s_sn, _ = _run_leaky(leaky, x)
    assert not torch.equal(s_sn, ours(x))
