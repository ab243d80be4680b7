"""
2. Spike encoders
=================

Purpose: turn an image and a signal into spike trains with ``neuro.encoders`` (direct,
Poisson, latency, delta) and see what each code keeps.

A spiking network needs its input as a ``[T, B, ...]`` tensor over ``T`` time steps. The
four encoders in :mod:`neuro.encoders` make one from a static ``[B, ...]`` tensor
(``direct``, ``poisson``, ``latency``) or from a sequence (``delta``). ``poisson`` and
``latency`` need intensities in ``[0, 1]``.
"""

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from skimage import data

import neuro
from neuro import encoders

torch.manual_seed(0)

# scikit-image's camera man as a batch of one [B=1, 48, 48], intensities in [0, 1].
image = torch.tensor(data.camera(), dtype=torch.float32)[None, None] / 255.0
image = F.interpolate(image, size=(48, 48), mode="area")[:, 0]
T = 16

# %%
# Direct coding
# -------------
# ``direct`` repeats the analog image at every step (a view, no copy). The first spiking
# layer does the encoding: here a LIF neuron per pixel. Bright pixels cross the
# threshold sooner and fire more often.

x = encoders.direct(image, T)  # [T, 1, 48, 48]
lif_spikes = neuro.LIF(tau=2.0, v_threshold=0.5)(x)
print(
    "direct:", tuple(x.shape), "-> LIF spike rate", round(float(lif_spikes.mean()), 3)
)

# %%
# Poisson (rate) coding
# ---------------------
# ``poisson`` fires each pixel at each step with probability equal to its intensity, so
# the mean over time estimates the image; its error shrinks like :math:`1/\sqrt{T}`.

p = encoders.poisson(image, T)
fig, axes = plt.subplots(1, 6, figsize=(12, 2.4))
axes[0].imshow(image[0], cmap="gray", vmin=0, vmax=1)
axes[0].set_title("image")
for t in range(3):
    axes[t + 1].imshow(p[t, 0], cmap="gray", vmin=0, vmax=1)
    axes[t + 1].set_title(f"Poisson, t={t}")
axes[4].imshow(p.mean(0)[0], cmap="gray", vmin=0, vmax=1)
axes[4].set_title(f"mean of {T} steps")
axes[5].imshow(lif_spikes.mean(0)[0], cmap="gray", vmin=0, vmax=1)
axes[5].set_title("direct + LIF rate")
for ax in axes:
    ax.axis("off")
fig.tight_layout()

# %%
# The error of the rate estimate against the number of steps:

steps = [1, 2, 4, 8, 16, 32, 64, 128]
errors = [
    float((encoders.poisson(image, t).mean(0) - image).abs().mean()) for t in steps
]
fig, ax = plt.subplots(figsize=(5, 3))
ax.loglog(steps, errors, "o-", label="measured")
ax.loglog(
    steps,
    [errors[0] / t**0.5 for t in steps],
    "k--",
    lw=1,
    label=r"$\propto 1/\sqrt{T}$",
)
ax.set(
    xlabel="time steps T",
    ylabel="mean |rate - image|",
    title="Poisson code: error against T",
)
ax.legend()
fig.tight_layout()

# %%
# Latency (time-to-first-spike) coding
# ------------------------------------
# ``latency`` fires each pixel exactly once, at step :math:`\mathrm{round}((1-x)(T-1))`:
# the brightest pixels fire first. Pixels at or below ``threshold`` stay silent. One
# spike per pixel is the sparsest of these codes.

lat = encoders.latency(image, T, threshold=0.05)
first_spike = torch.where(lat.any(0), lat.argmax(0).float(), torch.tensor(float("nan")))
fig, (ax_m, ax_h) = plt.subplots(1, 2, figsize=(9, 3.2))
im = ax_m.imshow(first_spike[0], cmap="viridis")
ax_m.set_title("step of the single spike")
ax_m.axis("off")
fig.colorbar(im, ax=ax_m, label="time step")
ax_h.bar(range(T), lat.sum(dim=(1, 2, 3)))
ax_h.set(xlabel="time step", ylabel="spikes", title="latency code: spikes per step")
fig.tight_layout()
print(
    "spikes per pixel  poisson:",
    round(float(p.sum(0).mean()), 2),
    " latency:",
    float(lat.sum(0).max()),
)

# %%
# Delta coding
# ------------
# ``delta`` encodes change: a spike (+1) when a sequence rises by at least ``threshold``
# since the previous step, and an OFF spike (-1) when it falls (``off_spikes=True``). A
# constant signal is silent. Here a bright bar moves across a dark 1-D strip of 32
# pixels.

L, steps_seq = 32, 40
position = torch.arange(steps_seq) * 0.6
strip = ((torch.arange(L)[None] - position[:, None]).abs() < 3).float()  # [T, L]
seq = strip[:, None]  # [T, B=1, L]
d = encoders.delta(seq, threshold=0.5)
fig, (ax_s, ax_d) = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
ax_s.imshow(strip, aspect="auto", cmap="gray", interpolation="nearest")
ax_s.set(xlabel="pixel", ylabel="time step", title="input: a moving bar")
ax_d.imshow(
    d[:, 0], aspect="auto", cmap="bwr", vmin=-1, vmax=1, interpolation="nearest"
)
ax_d.set(xlabel="pixel", title="delta code: ON (red) / OFF (blue)")
fig.tight_layout()

# %%
# Module forms
# ------------
# ``DirectEncoder``, ``PoissonEncoder`` and ``LatencyEncoder`` wrap the functions as
# modules, to sit at the front of an ``nn.Sequential``:

model = torch.nn.Sequential(
    encoders.PoissonEncoder(T=8),
    neuro.TimeDistributed(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 10)),
    neuro.LIF(),
)
print("Poisson -> Linear -> LIF:", tuple(model(image).shape), "([T, B, features])")
plt.show()
