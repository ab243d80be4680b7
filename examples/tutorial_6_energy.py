"""
6. The energy report
====================

Purpose: estimate the energy of spiking and dense layers from a real forward pass with
``neuro.energy``, see when spikes pay off, and read ASH-Net's energy report.

A dense (ANN) layer multiplies every input by every weight and adds: one
multiply-accumulate (MAC) each. A layer fed with spikes only *adds* the weights a spike
reaches: one synaptic operation (SOP, an accumulate) per spike per target, so its cost
follows the spikes that actually occur. :class:`neuro.energy.EnergyMeter` counts both
from a real forward pass and prices them, by default at 45 nm, 32-bit float (Horowitz,
ISSCC 2014): 4.6 pJ per MAC, 0.9 pJ per accumulate.

**Caveat.** Memory traffic (reading weights, activations and neuron state) is not
counted, nor neuron updates or other elementwise work; on real hardware memory is often
the larger cost. Treat these numbers as a comparison of arithmetic, not a measurement.
"""

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import nn

import neuro
from ashnet.checkpoint import load_run
from ashnet.config import load_config
from ashnet.data import ImageTextDataset, build_openmoji, load_pairs
from ashnet.energy import ann_twin, image_energy
from ashnet.training import train
from neuro.energy import EnergyCosts, EnergyMeter

torch.manual_seed(0)
WORK = Path(tempfile.gettempdir()) / "ashnet_tutorials"  # data and feature caches
RUNS = WORK / "tutorial6_runs"  # this tutorial's run directories, replaced on every run
shutil.rmtree(RUNS, ignore_errors=True)
RUNS.mkdir(parents=True)

# %%
# Counting a small network
# ------------------------
# A two-layer spiking MLP reads 8 steps of Poisson spikes. Run it inside an
# ``EnergyMeter`` and ask for the report per sample: the first layer's input is spikes,
# so it costs SOPs; so is the second's (the LIF output).

snn = nn.Sequential(
    neuro.TimeDistributed(nn.Linear(256, 128)),
    neuro.LIF(tau=2.0),
    neuro.TimeDistributed(nn.Linear(128, 10)),
    neuro.LIF(tau=2.0),
)
with torch.no_grad():
    snn[0].layer.weight.mul_(8.0)  # strong enough that the hidden layer fires
x = neuro.encoders.poisson(torch.full((16, 256), 0.1), T=8)  # [T=8, B=16, 256]
with EnergyMeter(snn) as meter, torch.no_grad():
    snn(x)
print(meter.report(n_samples=16).table())

# %%
# When do spikes pay off?
# -----------------------
# The same weights as a dense ANN (ReLU, one pass) cost ``256 x 128 + 128 x 10`` MACs
# per sample whatever the input. The SNN's cost grows with the input rate and the number
# of steps ``T``: an accumulate is about 5 times cheaper than a MAC, so the SNN wins
# while each input neuron spikes fewer than about 5 times over the ``T`` steps.

ann = nn.Sequential(snn[0].layer, nn.ReLU(), snn[2].layer)
with EnergyMeter(ann) as meter, torch.no_grad():
    ann(torch.rand(16, 256))
ann_uj = meter.report(16).energy_pj / 1e6

rates = [0.02, 0.05, 0.1, 0.2, 0.4, 0.6]
fig, ax = plt.subplots(figsize=(7, 3.8))
for T in (4, 8, 16):
    energies = []
    for rate in rates:
        neuro.reset(snn)
        with EnergyMeter(snn) as meter, torch.no_grad():
            snn(neuro.encoders.poisson(torch.full((16, 256), rate), T=T))
        energies.append(meter.report(16).energy_pj / 1e6)
    ax.plot(rates, energies, "o-", label=f"SNN, T={T}")
ax.axhline(ann_uj, color="k", ls="--", label="ANN (same weights)")
ax.set(
    xlabel="input spike rate (spikes per neuron per step)",
    ylabel="energy per sample (uJ)",
)
ax.set(title="arithmetic energy: SNN against ANN", yscale="log")
ax.legend()
fig.tight_layout()

# %%
# ASH-Net's report
# ----------------
# ``ashnet energy --checkpoint RUN --data FILE`` runs real images through a trained
# model and compares its image path with an ANN-only one: another run given with
# ``--baseline``, or by default the model's *ANN twin*, the same layers with every
# spiking neuron replaced by a ReLU and run for one step. Here we train a small ASH-Net
# for 30 steps (as in :doc:`tutorial_3_train_openmoji`) and call the same Python
# functions, :func:`ashnet.energy.image_energy` and :func:`ashnet.energy.ann_twin`.

pairs = build_openmoji(WORK / "openmoji-64-400", size=64, limit=400, progress=False)
tiny = [
    "data.batch_size=32",
    "train.max_steps=30",
    "train.warmup_steps=5",
    "model.abstract.dim=64",
    "model.abstract.heads=2",
    "model.abstract.depth=1",
    "model.embed_dim=128",
]
train(
    load_config("demo", tiny),
    pairs,
    RUNS / "ashnet",
    cache_dir=WORK / "features",
    progress=False,
)
model, config = load_run(RUNS / "ashnet")

test = ImageTextDataset(
    load_pairs(pairs).split("test"), image_size=config.data.image_size
)
images = torch.stack([test[i][0] for i in range(16)])
hybrid = image_energy(model, images)
twin = image_energy(ann_twin(model), images)
print(hybrid.grouped(depth=2).table())

# %%
# ``grouped(depth=2)`` sums the layers by the first two parts of their names. The
# concrete encoder (EfficientNet-Lite0) does almost all the work in both models; the
# spiking encoder's share is what the choice of ANN or SNN changes:

parts = defaultdict(lambda: {"ASH-Net": 0.0, "ANN twin": 0.0})
for name, report in (("ASH-Net", hybrid), ("ANN twin", twin)):
    for row in report.grouped(depth=1).layers:  # one row per part and kind (MAC or SOP)
        parts[row.name][name] += row.energy_pj / 1e6
parts["total"] = {"ASH-Net": hybrid.energy_pj / 1e6, "ANN twin": twin.energy_pj / 1e6}
print(f"{'uJ per image':14s} {'ASH-Net':>9s} {'ANN twin':>9s}")
for part, values in parts.items():
    print(f"{part:14s} {values['ASH-Net']:9.3f} {values['ANN twin']:9.3f}")

# %%
# Other technologies
# ------------------
# The costs are a parameter (``--mac-pj`` and ``--ac-pj`` on the command line). With
# Horowitz's 8-bit integer figures (a MAC about 0.23 pJ, an add 0.03 pJ) the numbers
# shrink twentyfold. The dense backbone dominates both models either way; the spiking
# encoder's saving is a small part of the whole image path here:

int8 = EnergyCosts(
    mac_pj=0.23, ac_pj=0.03, source="Horowitz 2014, 45 nm, 8-bit integer"
)
costs = {"fp32 (default)": None, "int8": int8}
fig, ax = plt.subplots(figsize=(6, 3.4))
for i, cost in enumerate(costs.values()):
    kwargs = {} if cost is None else {"costs": cost}
    values = [
        image_energy(m, images, **kwargs).energy_pj / 1e6
        for m in (model, ann_twin(model))
    ]
    bars = ax.bar([i - 0.2, i + 0.2], values, width=0.4, color=["C1", "C0"])
    ax.bar_label(bars, fmt="%.2f")
ax.set_xticks(range(len(costs)), list(costs))
ax.set(
    ylabel="energy per image (uJ)",
    title="image path: ASH-Net (orange) vs ANN twin (blue)",
)
fig.tight_layout()
plt.show()

# %%
# The run directories above were temporary (their checkpoints hold the frozen encoders'
# weights too, about 100 MB each); remove them.

shutil.rmtree(RUNS)
