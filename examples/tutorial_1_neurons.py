"""
1. Neurons and surrogate gradients
==================================

Purpose: drive ``neuro``'s spiking neurons, look at their membranes and spikes, and
train one through the Heaviside step with a surrogate gradient.

A spiking neuron integrates its input into a membrane potential :math:`V`, emits a spike
:math:`S=1` when :math:`V` crosses a threshold, and resets. Every ``neuro`` neuron is a
thin ``nn.Module`` over a pure function of ``(input, state, parameters)``; in the
default multi-step mode it takes a ``[T, B, ...]`` tensor (``T`` time steps first) and
returns spikes of the same shape. The equations are on the :doc:`/concepts` page.
"""

import matplotlib.pyplot as plt
import torch

import neuro
from neuro import surrogate, viz

torch.manual_seed(0)
T = 100

# %%
# One LIF neuron, step by step
# ----------------------------
# A constant input of 1.2 charges a LIF neuron with ``tau=10`` (steps) toward 1.2; it
# crosses the threshold 1.0, spikes, and is reset to ``v_reset=0``. Setting ``record_v``
# keeps the membrane potential of the last call in ``v_seq`` (after reset, as in
# SpikingJelly).

lif = neuro.LIF(tau=10.0, v_threshold=1.0, v_reset=0.0)
lif.record_v = True
x = torch.full((T, 1, 1), 1.2)  # [T, B=1, N=1]
spikes = lif(x)
v = lif.v_seq

fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(v[:, 0, 0], label="membrane V (after reset)")
ax.axhline(1.0, color="k", ls="--", lw=1, label="threshold")
spike_t = spikes[:, 0, 0].nonzero().flatten()
ax.vlines(spike_t, 1.05, 1.25, color="C3", label="spike")
ax.set(xlabel="time step", ylabel="V")
ax.set_title(f"LIF, constant input 1.2: {len(spike_t)} spikes")
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# Four neuron types on the same input
# -----------------------------------
# The same noisy input drives IF (no leak), LIF (leak), ALIF (the threshold rises by
# ``beta`` with each spike and relaxes with ``tau_adapt``) and CubaLIF (the input first
# charges a synaptic current, which then charges the membrane). ALIF's membrane crosses
# the dashed base threshold without firing once its threshold has risen. ``neuro.reset``
# clears a neuron's state between runs.

x = 1.2 + 0.6 * torch.randn(T, 1, 1)
neurons = {
    "IF": neuro.IF(),
    "LIF (tau=5)": neuro.LIF(tau=5.0),
    "ALIF (tau=5, beta=0.5)": neuro.ALIF(tau=5.0, tau_adapt=30.0, beta=0.5),
    "CubaLIF (tau_syn=5, tau=5)": neuro.CubaLIF(tau=5.0, tau_syn=5.0),
}
fig, axes = plt.subplots(len(neurons), 1, figsize=(8, 7), sharex=True)
for ax, (name, neuron) in zip(axes, neurons.items(), strict=True):
    neuro.reset(neuron)
    neuron.record_v = True
    s = neuron(x)
    ax.plot(neuron.v_seq[:, 0, 0], lw=1)
    ax.axhline(1.0, color="k", ls="--", lw=0.8)
    ax.vlines(s[:, 0, 0].nonzero().flatten(), 1.05, 1.4, color="C3")
    ax.set_ylabel("V")
    ax.set_title(f"{name}: {int(s.sum())} spikes", fontsize=10, loc="left")
axes[-1].set_xlabel("time step")
fig.tight_layout()

# %%
# A population: spike raster and firing rates
# -------------------------------------------
# Sixty-four LIF neurons get noisy inputs of increasing mean. A raster shows one dot per
# spike (neuron against time): stronger input fires earlier and more often.
#
# The reset matters too. Under a hard reset (to ``v_reset=0``) the charge above the
# threshold is lost; under a soft reset (``v_reset=None``: subtract the threshold) it is
# kept. Fed a constant input ``x`` in ``[0, 1]``, an IF neuron with soft reset fires at
# rate exactly ``x``; with hard reset its rate is ``1 / ceil(1 / x)``, a staircase.

N = 64
drive = torch.linspace(0.0, 1.5, N)
lif_spikes = neuro.LIF(tau=2.0)(drive + 0.5 * torch.randn(T, 1, N))[:, 0]  # [T, N]

x_const = torch.linspace(0.0, 1.0, 201).expand(T, 1, 201)
rate_hard = neuro.IF(v_reset=0.0)(x_const)[:, 0].mean(0)
rate_soft = neuro.IF(v_reset=None)(x_const)[:, 0].mean(0)

fig, (ax_r, ax_f) = plt.subplots(
    1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]}
)
t_idx, n_idx = lif_spikes.nonzero(as_tuple=True)
ax_r.scatter(t_idx, n_idx, s=3, c="k")
ax_r.set(xlabel="time step", ylabel="neuron (mean input grows upward)")
ax_r.set_title("LIF population: spike raster")
ax_f.plot(x_const[0, 0], rate_hard, label="hard reset")
ax_f.plot(x_const[0, 0], rate_soft, label="soft reset")
ax_f.set(xlabel="constant input x", ylabel="spikes per step", title="IF firing rate")
ax_f.legend()
fig.tight_layout()

# %%
# Recording a network: ``Monitor`` and ``neuro.viz``
# --------------------------------------------------
# In a network, a :class:`neuro.Monitor` records the spikes (and, with ``record_v``, the
# membrane potentials) of chosen spiking layers during a forward pass, and
# :mod:`neuro.viz` draws them: :func:`neuro.viz.spike_raster` one raster per layer,
# :func:`neuro.viz.membrane_traces` a few neurons' potentials with the threshold and
# their spikes. Here 50 Poisson inputs drive two LIF layers.

net = torch.nn.Sequential(
    neuro.SpikingLinear(50, 40, neuron=neuro.LIF(tau=4.0)),
    neuro.SpikingLinear(40, 20, neuron=neuro.LIF(tau=4.0)),
)
with torch.no_grad():
    net[0][0].layer.weight.mul_(8.0)  # strong enough weights that both layers fire
    net[1][0].layer.weight.mul_(10.0)
inputs = neuro.encoders.poisson(torch.full((2, 50), 0.4), T=60)  # [T, B=2, 50]
with neuro.Monitor(net, record_v=True) as monitor, torch.no_grad():
    net(inputs)
print("firing rates:", {k: round(v, 3) for k, v in monitor.firing_rates().items()})
rasters = viz.spike_raster({name: seq[0] for name, seq in monitor.spikes.items()})

# %%
# and three neurons of the second layer, each spike a red dot where the potential
# reaches the threshold and is reset:

traces = viz.membrane_traces(
    monitor.v["1.1"][0], v_threshold=1.0, spikes=monitor.spikes["1.1"][0], neurons=3
)

# %%
# Surrogate gradients
# -------------------
# The spike is a Heaviside step :math:`\Theta(H - V_{th})`, whose derivative is zero
# almost everywhere: backpropagation would learn nothing. A surrogate keeps the step in
# the forward pass but uses the derivative of a smooth function in the backward pass.
# Each surrogate in :mod:`neuro.surrogate` is a small object with a sharpness ``alpha``;
# it knows its smooth ``primitive`` and its ``derivative``.

u = torch.linspace(-2, 2, 401)
fig, (ax_p, ax_d) = plt.subplots(1, 2, figsize=(12, 4))
ax_p.plot(u, surrogate.heaviside(u), "k", lw=2, label="Heaviside (forward)")
smooth = [
    surrogate.ATan(),
    surrogate.Sigmoid(),
    surrogate.Erf(),
    surrogate.PiecewiseQuadratic(),
]
others = [surrogate.FastSigmoid(), surrogate.Triangle(), surrogate.StraightThrough()]
for sg in smooth:
    ax_p.plot(u, sg.primitive(u), label=f"{type(sg).__name__}(alpha={sg.alpha:g})")
for sg in smooth + others:
    ax_d.plot(u, sg.derivative(u), label=f"{type(sg).__name__}(alpha={sg.alpha:g})")
ax_p.set(xlabel="H - V_th", title="primitive g(x)")
ax_d.set(xlabel="H - V_th", title="surrogate derivative g'(x) (backward)")
ax_p.legend(fontsize=8)
ax_d.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
fig.tight_layout()

# %%
# Calling a surrogate gives the exact step forward and its derivative backward:

h = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
s = surrogate.ATan(alpha=2.0)(h)
s.sum().backward()
print("spikes   :", s.tolist())
print("gradients:", [round(g, 4) for g in h.grad.tolist()])
expected = surrogate.ATan(alpha=2.0).derivative(h.detach())
print("ATan'(x) :", [round(g, 4) for g in expected.tolist()])

# %%
# Learning through spikes
# -----------------------
# A :class:`neuro.SpikingLinear` layer (``Linear`` applied over time, then LIF) learns
# to turn 16 Poisson input trains into prescribed firing rates for 4 output neurons. The
# loss is the squared error of the rates; its gradient reaches the weights only through
# the surrogate.

inputs = neuro.encoders.poisson(torch.full((8, 16), 0.3), T=32)  # [T=32, B=8, 16]
target = torch.tensor([0.05, 0.2, 0.4, 0.6])
neuron = neuro.LIF(tau=2.0, surrogate=surrogate.Sigmoid())
layer = neuro.SpikingLinear(16, 4, neuron=neuron)
opt = torch.optim.Adam(layer.parameters(), lr=0.05)
history = []
for _ in range(60):
    neuro.reset(layer)
    rates = layer(inputs).mean(dim=(0, 1))
    loss = ((rates - target) ** 2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    history.append(loss.item())
print("learned rates:", [round(r, 3) for r in rates.tolist()])
print("target rates :", [round(r, 3) for r in target.tolist()])

fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(history)
ax.set(xlabel="optimiser step", ylabel="squared rate error")
ax.set_title("training a spiking layer")
fig.tight_layout()
plt.show()
