"""
7. Backends and kernels
=======================

Purpose: choose between ``neuro``'s neuron backends (``torch``, ``cpu``, ``cupy``,
``auto``) and memory modes, check that they agree, and time them against SpikingJelly,
Norse and snnTorch with the benchmark script.

A neuron update is a few elementwise operations per neuron per step, so its speed is set
by memory bandwidth. The reference backend steps through time in Python with small torch
operations and runs far below that limit; the fused kernels run the whole time loop
inside one kernel, reading and writing each element once per direction.

======== ==============================================================
backend  what runs
======== ==============================================================
torch    the reference: a Python loop over ``*_step``; every neuron,
         dtype and device; the one to read and debug
cpu      a fused C kernel, built with gcc at first use and cached; IF,
         LIF, ParametricLIF, ALIF, CubaLIF; float32/float64
         (float16/bfloat16 when asked for explicitly)
cupy     the same C source compiled for CUDA by NVRTC through CuPy
         (``pip install -e .[cuda]``, no compiler needed)
auto     the default: ``cupy`` for CUDA tensors when CuPy imports,
         ``cpu`` for float32/float64 CPU tensors when the kernel builds,
         else ``torch``
======== ==============================================================

Without a C compiler, ``auto`` falls back to ``torch`` with a one-line warning; it also
runs ``torch`` for a surrogate of your own that has no C expression (``c_derivative``).
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import neuro
from neuro import functional as F

torch.manual_seed(0)

# %%
# Same spikes, same gradients
# ---------------------------
# Every module takes ``backend=``. The fused kernel's spikes are bit-equal to the
# reference's; its gradients agree to rounding (it adds in another order).

x = torch.randn(16, 8, 1024) + 0.6  # [T, B, N]
results = {}
for backend in ("torch", "cpu"):
    lif = neuro.LIF(tau=2.0, backend=backend)
    xb = x.clone().requires_grad_()
    spikes = lif(xb)
    spikes.sum().backward()
    results[backend] = (spikes.detach(), xb.grad)
p = F.LIFParameters(tau=2.0)
print("auto resolves to:", F.resolve_backend("auto", p, x))
print("spikes bit-equal:", torch.equal(results["torch"][0], results["cpu"][0]))
grad_diff = (results["torch"][1] - results["cpu"][1]).abs().max().item()
print(f"input gradient, max abs difference: {grad_diff:.2e}")

# %%
# Memory for backward
# -------------------
# Backpropagation through time keeps something per neuron per step. The fused kernels
# keep only the pre-spike potential ``H`` (``memory="exact"``, 4 bytes per neuron-step
# in float32) and recompute the spikes from it, or ``H - V_th`` in bfloat16
# (``memory="lean"``, 2 bytes): its sign is the spike, so only the surrogate's argument
# is rounded. The reference keeps several tensors per step. Every neuron module (and
# every ``*_multi_step`` function) takes ``memory=``; here we measure what autograd
# saves.


def saved_bytes(fn, x):
    """Bytes autograd keeps for backward during one forward of ``fn(x)``."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = x.detach().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn(x)
    seen.pop(x.untyped_storage().data_ptr(), None)  # the input exists anyway
    return sum(seen.values()), out, x


modes = {
    "torch": neuro.LIF(tau=2.0, backend="torch"),
    "cpu exact": neuro.LIF(tau=2.0, backend="cpu", memory="exact"),
    "cpu lean": neuro.LIF(tau=2.0, backend="cpu", memory="lean"),
}
grads = {}
for name, lif in modes.items():
    nbytes, out, xin = saved_bytes(lif, x)
    out.sum().backward()
    grads[name] = xin.grad
    print(f"{name:10s} saves {nbytes / x.numel():5.2f} bytes per neuron-step")
# (The extra 0.25 byte is one [B, N] tensor, the starting potential, spread over T=16.)
lean_err = (grads["cpu lean"] - grads["torch"]).abs().max().item()
print(f"lean mode: input-gradient max abs error against the reference {lean_err:.2e}")

# %%
# The benchmark
# -------------
# ``benchmarks/neurons.py`` (``make bench``) times LIF forward+backward for ``neuro``'s
# backends and for SpikingJelly 2.0, Norse and snnTorch with identical dynamics (it
# checks that their firing rates agree before timing), against the memory-bandwidth
# floor of the shape, and writes JSON. Its README, the :doc:`/benchmarks`
# page, explains the method, gives the table measured at full size (``T=16, B=32,
# N=4096``) and says how to run it on a GPU. Here it runs at a quarter of that size with
# few repeats, so that these docs build quickly: the timings below are this build
# machine's, under whatever else it was doing, and vary from run to run.

# benchmarks/ sits next to the neuro package in a clone of the repository.
script = Path(neuro.__file__).resolve().parent.parent / "benchmarks" / "neurons.py"
out = Path(tempfile.gettempdir()) / "ashnet_tutorials" / "tutorial7_neurons.json"
args = ["--T", "16", "--B", "8", "--N", "4096", "--repeats", "7", "--warmup", "2"]
# every row but the torch.compile one, whose compilation alone takes minutes
args += ["--only", "neuro", "spikingjelly", "norse", "snntorch", "naive torch loop"]
run = subprocess.run(
    [sys.executable, str(script), *args, "--threads", "2", "--out", str(out)],
    capture_output=True,
    text=True,
    check=True,
)
print(run.stdout)

# %%
# The same results as a chart, read from the JSON the script wrote:

bench = json.loads(out.read_text())
rows = sorted(bench["results"].items(), key=lambda kv: kv[1]["total"]["median_ms"])
names = [name for name, _ in rows]
forward = [r["forward"]["median_ms"] for _, r in rows]
backward = [r["backward"]["median_ms"] for _, r in rows]
floor = 3 * bench["floor_pass"]["median_ms"]  # fwd+bwd moves at least 3 passes

fig, ax = plt.subplots(figsize=(8, 3.8))
ax.barh(names, forward, color="C0", label="forward")
ax.barh(names, backward, left=forward, color="C1", label="backward")
ax.axvline(floor, color="k", ls="--", lw=1, label="bandwidth floor (3 passes)")
ax.invert_yaxis()
c = bench["config"]
ax.set(xlabel="milliseconds (median)")
ax.set_title(f"LIF forward+backward, T={c['T']} B={c['B']} N={c['N']}, float32, CPU")
ax.legend(loc="upper right", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The benchmark's JSON went to a temporary folder; remove it.

shutil.rmtree(out.parent)
