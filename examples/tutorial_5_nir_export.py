"""
5. Exporting to NIR and running in other simulators
===================================================

Purpose: export a ``neuro`` network to NIR, read it back, run it in SpikingJelly, Norse
and snnTorch with the same spikes, and export ASH-Net's spiking core.

`NIR <https://neuroir.org>`__ (the Neuromorphic Intermediate Representation) describes
spiking networks in continuous time, so that simulators and neuromorphic chips (Lava,
SpiNNaker, Xylo, ...) can exchange them. :func:`neuro.export.to_nir` maps each ``neuro``
neuron to the NIR node whose forward-Euler discretisation at step ``dt`` is exactly our
update (the mapping table is on :doc:`/nir_importers`);
:func:`neuro.export.from_nir` reads a graph back.
"""

import contextlib
import io
import shutil
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import nir
import torch
from torch import nn

import neuro
from neuro.export import from_nir, read_nir, to_nir

warnings.filterwarnings("ignore")  # the peer importers warn about their own internals
torch.manual_seed(0)
OUT = Path(tempfile.gettempdir()) / "ashnet_tutorials" / "tutorial5"  # replaced per run
shutil.rmtree(OUT, ignore_errors=True)
OUT.mkdir(parents=True)

# %%
# A small network and its graph
# -----------------------------
# Two fully connected LIF layers read 20 steps of Poisson spikes. ``to_nir`` traces one
# time step of the network (``sample_input`` only tells it the shapes) and returns a
# :class:`nir.NIRGraph`; ``nir.write`` stores it as HDF5.

net = nn.Sequential(
    neuro.TimeDistributed(nn.Linear(40, 30)),
    neuro.LIF(tau=4.0),
    neuro.TimeDistributed(nn.Linear(30, 10)),
    neuro.LIF(tau=4.0),
)
with torch.no_grad():
    for layer in (net[0].layer, net[2].layer):
        layer.weight.mul_(8.0)  # strong enough weights that every layer fires
x = neuro.encoders.poisson(torch.rand(3, 40), T=20)  # [T=20, B=3, 40]
with torch.no_grad():
    reference = net(x)
neuro.reset(net)
print(f"neuro: {int(reference.sum())} output spikes")

# ``dt`` (seconds per step) defaults to 1e-4 s, what SpikingJelly and snnTorch
# assume; ``graph.metadata`` records it and ``from_nir`` reads it back.
graph = to_nir(net, x)
for name, node in graph.nodes.items():
    (shape,) = (tuple(int(n) for n in v) for v in node.output_type.values())
    print(f"{name:8s} {type(node).__name__:8s} output shape {shape}")
print("edges:", graph.edges)
print("LIF tau in seconds:", graph.nodes["_1"].tau[:3], "(4 steps x dt of 0.1 ms)")
print("recorded dt:", graph.metadata["dt"])

path = OUT / "net.nir"
nir.write(path, graph)

# %%
# The round trip (write, read, import) gives exactly the same spikes:

with torch.no_grad():
    again = from_nir(read_nir(path))(x)  # dt: the one the graph records
print("round trip equal:", torch.equal(again, reference))

# %%
# In other simulators
# -------------------
# Each peer imports the same graph as a module of its own that steps through time with
# an explicit state. snnTorch hard-codes ``dt = 1e-4`` s, so the graph is exported at
# each importer's own ``dt``.


def spikingjelly(graph, dt):
    from spikingjelly.activation_based import nir_exchange

    return nir_exchange.import_from_nir(graph, dt=dt)


def norse(graph, dt):
    import norse.torch

    return norse.torch.from_nir(graph, dt=dt, ignore_warnings=True)


def snntorch(graph, dt):
    from snntorch import import_nir

    return import_nir.import_from_nir(graph)


def run_stateful(module, x_seq):
    """Run an imported ``(output, state) = module(x, state)`` graph over time."""
    outputs, state = [], None
    for x_t in x_seq:
        out, state = module(x_t) if state is None else module(x_t, state)
        outputs.append(out)
    return torch.stack(outputs)


importers = {"SpikingJelly 2.0": (spikingjelly, 1e-4), "Norse": (norse, 1e-3)}
importers["snnTorch"] = (snntorch, 1e-4)
outputs = {"neuro": reference}
for name, (load, dt) in importers.items():
    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints as it imports
        module = load(to_nir(net, x, dt=dt), dt)
    with torch.no_grad():
        outputs[name] = run_stateful(module, x)
    same = torch.equal(outputs[name], reference)
    count = int(outputs[name].sum())
    print(f"{name:16s} {count} output spikes, equal to neuro's: {same}")

fig, axes = plt.subplots(1, len(outputs), figsize=(12, 2.8), sharey=True)
for ax, (name, spikes) in zip(axes, outputs.items(), strict=True):
    t, n = spikes[:, 0].nonzero(as_tuple=True)
    ax.scatter(t, n, s=8, marker="|", c="k")
    ax.set(title=name, xlabel="time step")
axes[0].set_ylabel("output neuron (sample 0)")
fig.suptitle("the same graph in four simulators: output spikes")
fig.tight_layout()

# %%
# What does not carry over
# ------------------------
# NIR 1.0 resets a neuron *to* ``v_reset``; it has no soft reset (subtract the
# threshold) and no adaptive threshold. ``to_nir`` refuses such neurons with an error
# that says so, instead of exporting a different neuron:

soft = nn.Sequential(neuro.TimeDistributed(nn.Linear(40, 10)), neuro.LIF(v_reset=None))
try:
    to_nir(soft, x)
except ValueError as err:
    print("ValueError:", err)

# %%
# Importers have gaps of their own. Norse, for one, ignores NIR's reset potential: a LIF
# that resets to -0.2 is exported faithfully, but Norse resets it to 0 and fires
# differently. :doc:`/nir_importers` lists every gap we found, and the test
# suite checks each one.

reset_low = nn.Sequential(
    neuro.TimeDistributed(nn.Linear(40, 10)), neuro.LIF(tau=4.0, v_reset=-0.2)
)
with torch.no_grad():
    reset_low[0].layer.weight.mul_(8.0)
    ours = reset_low(x)
    theirs = run_stateful(norse(to_nir(reset_low, x, dt=1e-3), 1e-3), x)
print(f"v_reset=-0.2: {int(ours.sum())} spikes in neuro, {int(theirs.sum())} in Norse;")
print(f"{int((ours != theirs).sum())} of {ours.numel()} outputs differ")

# %%
# ASH-Net's spiking core
# ----------------------
# ``ashnet export --format nir`` writes the spiking blocks of a trained ASH-Net's
# abstract encoder as one NIR graph that runs per image token. NIR has no node for
# mixing tokens, so it needs an encoder with ``model.abstract.block: mlp`` (spiking
# self-attention is refused with an error). Its BatchNorms are folded into the linear
# layers before export. Here a small, untrained model shows the Python call behind the
# command, :func:`ashnet.export.export_nir`, which also checks the file against the
# model.

from ashnet.export import export_nir  # noqa: E402
from ashnet.models import ModelConfig, build_model  # noqa: E402

config = ModelConfig(
    concrete={"backbone": "tiny_cnn"},
    abstract={"block": "mlp", "dim": 32, "depth": 2, "time_steps": 4},
    embed_dim=32,
)
model = build_model(config).eval()
images = torch.rand(2, 3, 32, 32)
part = export_nir(model, images, OUT / "core.nir")
print("nodes:", list(part["nodes"].values()))
print("check:", part["check"])
with torch.no_grad():
    rate = model.encode_image(images).firing_rate
print(f"spiking encoder firing rate on these images: {float(rate):.3f}")
plt.show()

# %%
# The exported files above were written to a temporary folder; remove it.

shutil.rmtree(OUT)
