"""Encode a photo as Poisson spikes, run three LIF layers, plot rasters and membranes.

Run ``python examples/neuron_basics.py [--out DIR]``; it writes ``spike_raster.png``
and ``membrane_trace.png`` to ``DIR`` (default ``runs/neuron_basics``) in a few
seconds on a CPU. The photo is Grace Hopper's portrait that ships with matplotlib, so
nothing is downloaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib import cbook  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

import neuro  # noqa: E402

SIZE = 32  # the photo is downscaled to SIZE x SIZE pixels, one input neuron each
WIDTHS = (SIZE * SIZE, 256, 128, 64)  # neurons per layer: input, then three LIF layers
THRESHOLD = 1.0
TAU = 4.0  # membrane time constant, in steps
GAIN = 2.0  # width of each layer's summed input, in thresholds


def load_photo(size: int = SIZE) -> torch.Tensor:
    """Grace Hopper's portrait, grayscale, ``size x size``, intensities in [0, 1]."""
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = Image.open(path).convert("L").resize((size, size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)


def build_network(input_spikes: torch.Tensor, seed: int) -> nn.Sequential:
    """Three ``SpikingLinear`` + LIF layers with fixed random, zero-mean weights.

    Each layer's weights are scaled to the activity it receives (as LSUV
    initialisation does): with ``k`` input spikes per step on average, weights
    ``N(0, (GAIN / sqrt(k))^2)`` give summed inputs about ``GAIN`` thresholds wide, so
    a fraction of the neurons fire.
    """
    torch.manual_seed(seed)
    layers, x = [], input_spikes
    for fan_in, fan_out in zip(WIDTHS[:-1], WIDTHS[1:], strict=False):
        neuron = neuro.LIF(tau=TAU, v_threshold=THRESHOLD)
        block = neuro.SpikingLinear(fan_in, fan_out, neuron=neuron, bias=False)
        active = float(x.sum(-1).mean())  # input spikes per step
        with torch.no_grad():
            block[0].layer.weight.normal_(
                0.0, GAIN * THRESHOLD / max(active, 1.0) ** 0.5
            )
            x = block(x)
        neuro.reset(block)
        layers.append(block)
    return nn.Sequential(*layers)


def plot_rasters(photo, input_spikes, layer_spikes, path: Path) -> None:
    """Neurons x time spike rasters, one per layer, beside the photo and its rates."""
    n_rows = 1 + len(layer_spikes)
    fig = plt.figure(figsize=(11, 2.5 * n_rows), layout="constrained")
    grid = fig.add_gridspec(n_rows, 3, width_ratios=[1, 1, 4])
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(photo, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"photo, {SIZE}x{SIZE} pixels", fontsize=10)
    ax.axis("off")
    ax = fig.add_subplot(grid[0, 1])
    ax.imshow(input_spikes.mean(0).reshape(SIZE, SIZE), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"its spike rate\n(mean of {len(input_spikes)} steps)", fontsize=10)
    ax.axis("off")

    rows = [("input (one Poisson neuron per pixel)", input_spikes)] + [
        (f"LIF layer {i + 1}", s) for i, s in enumerate(layer_spikes)
    ]
    for row, (name, spikes) in enumerate(rows):
        ax = fig.add_subplot(grid[row, 2] if row == 0 else grid[row, :])
        steps, neurons = spikes.shape
        ax.imshow(
            spikes.T,
            cmap="Greys",
            vmin=0,
            vmax=1,
            aspect="auto",
            interpolation="nearest",
            origin="lower",
            extent=(-0.5, steps - 0.5, -0.5, neurons - 0.5),
        )
        ax.set_ylabel("neuron")
        ax.set_title(
            f"{name}: {neurons} neurons, "
            f"{float(spikes.mean()):.1%} of neuron-steps spike",
            fontsize=10,
        )
        if row == n_rows - 1:
            ax.set_xlabel("time step")
    fig.suptitle(
        "Spike rasters (black = spike): a photo encoded as Poisson spikes, "
        "through three LIF layers"
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_membranes(current, v, spikes, path: Path, n_neurons: int = 3) -> None:
    """Membrane potential of a few first-layer neurons, with the threshold and spikes.

    ``v`` is recorded after each step's reset. To show the threshold crossings, each
    step is drawn as the charge ``H = V + (I - V) / tau`` (LIF with
    ``decay_input=True``, ``I`` the layer's input current) followed, on a spike, by
    the drop to the reset value 0.
    """
    v_before = torch.cat([torch.zeros_like(v[:1]), v[:-1]])
    h = v_before + (current - v_before) / TAU
    assert torch.equal(spikes, (h >= THRESHOLD).to(spikes.dtype))
    counts = spikes.sum(0)
    order = torch.argsort(counts, descending=True)[: int((counts > 0).sum())]
    # from the busiest neuron to one that fires rarely
    picks = order[torch.linspace(0, len(order) - 1, n_neurons).round().long()]
    steps = np.arange(v.shape[0])
    fig, axes = plt.subplots(n_neurons, 1, figsize=(10, 2.2 * n_neurons), sharex=True)
    fig.set_layout_engine("constrained")
    for ax, i in zip(axes, picks.tolist(), strict=True):
        # each step t contributes two points: (t, H_t) then (t, V_t)
        x = np.repeat(steps, 2)
        y = torch.stack([h[:, i], v[:, i]], dim=1).flatten().numpy()
        ax.plot(x, y, color="tab:blue", lw=1.3, label="membrane potential")
        ax.axhline(THRESHOLD, color="tab:red", ls="--", lw=1, label="threshold")
        fired = np.nonzero(spikes[:, i].numpy())[0]
        ax.plot(fired, h[fired, i], "o", color="tab:red", ms=4, label="spike")
        ax.set_ylabel("V")
        label = (
            f"layer 1, neuron {i}: {len(fired)} spike{'s' if len(fired) != 1 else ''}"
        )
        ax.set_title(label, fontsize=10, loc="left")
    axes[-1].set_xlabel("time step")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=9)
    fig.suptitle(
        f"LIF membrane potentials in layer 1 (tau = {TAU:g} steps, hard reset to 0)"
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/neuron_basics"),
        help="folder for the two PNGs (default runs/neuron_basics)",
    )
    parser.add_argument(
        "--steps", type=int, default=60, help="time steps T (default 60)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="spikes and weights (default 0)"
    )
    args = parser.parse_args(argv)

    photo = load_photo()
    generator = torch.Generator().manual_seed(args.seed)
    # [T, B=1, pixels]: each pixel fires with probability equal to its brightness
    input_spikes = neuro.encoders.poisson(photo.flatten()[None], args.steps, generator)
    net = build_network(input_spikes, args.seed)
    with torch.no_grad(), neuro.Monitor(net, record_v=True) as monitor:
        net(input_spikes)
        first_current = net[0][0](input_spikes)[:, 0]  # layer 1's linear part
    layer_spikes = [monitor.spikes[name][0][:, 0] for name in monitor.layers]
    first_v = monitor.v[next(iter(monitor.layers))][0][:, 0]

    args.out.mkdir(parents=True, exist_ok=True)
    plot_rasters(photo, input_spikes[:, 0], layer_spikes, args.out / "spike_raster.png")
    plot_membranes(
        first_current, first_v, layer_spikes[0], args.out / "membrane_trace.png"
    )
    for i, rate in enumerate(monitor.firing_rates().values()):
        print(f"LIF layer {i + 1}: {rate:.3f} spikes per neuron per step")
    print(
        f"wrote {args.out / 'spike_raster.png'} and {args.out / 'membrane_trace.png'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
