"""Encode a photo as Poisson spikes, run three LIF layers, plot rasters and membranes.

Run ``python examples/neuron_basics.py [--out DIR]``; it writes ``input.png`` (the
photo and its spike rate), ``spike_raster.png`` and ``membrane_trace.png`` (drawn by
:mod:`neuro.viz`) to ``DIR`` (default ``runs/neuron_basics``) in a few seconds on a
CPU. The photo is Grace Hopper's portrait that ships with matplotlib, so nothing is
downloaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

import neuro
from neuro import viz

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


def plot_input(photo: torch.Tensor, input_spikes: torch.Tensor, path: Path) -> None:
    """The photo beside its spike rate: the Poisson input reproduces the image."""
    fig = Figure(figsize=(5, 2.8), layout="constrained")
    for ax, image, label in zip(
        fig.subplots(1, 2),
        [photo.numpy(), input_spikes.mean(0).reshape(SIZE, SIZE).numpy()],
        [
            f"photo, {SIZE}x{SIZE} pixels",
            f"its spike rate\n(mean of {len(input_spikes)} steps)",
        ],
        strict=True,
    ):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(label, fontsize=10)
        ax.axis("off")
    viz.save_figure(fig, path)


def charge(current: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Potential before each step's reset: ``H = V + (I - V) / tau`` (``V``: last step).

    The LIF neurons here (``decay_input=True``, hard reset to 0) spike where ``H``
    reaches the threshold; ``v`` (recorded after the reset) alone would hide that.
    """
    v_before = torch.cat([torch.zeros_like(v[:1]), v[:-1]])
    return v_before + (current - v_before) / TAU


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/neuron_basics"),
        help="folder for the PNGs (default runs/neuron_basics)",
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
        first_current = net[0][0](input_spikes)  # layer 1's linear part
    layer_spikes = {
        f"LIF layer {i + 1}": monitor.spikes[name][0]
        for i, name in enumerate(monitor.layers)
    }
    first_v = monitor.v[next(iter(monitor.layers))][0]
    first_h = charge(first_current, first_v)
    first_spikes = layer_spikes["LIF layer 1"]
    assert torch.equal(first_spikes, (first_h >= THRESHOLD).to(first_spikes.dtype))

    args.out.mkdir(parents=True, exist_ok=True)
    plot_input(photo, input_spikes[:, 0], args.out / "input.png")
    viz.spike_raster(
        {"input (one Poisson neuron per pixel)": input_spikes, **layer_spikes},
        max_neurons=None,
        title="Spike rasters: a photo as Poisson spikes, through three LIF layers",
        path=args.out / "spike_raster.png",
    )
    viz.membrane_traces(
        first_v,
        THRESHOLD,
        spikes=layer_spikes["LIF layer 1"],
        neurons=3,
        h=first_h,
        title=f"LIF layer 1 (tau = {TAU:g} steps, hard reset to 0)",
        path=args.out / "membrane_trace.png",
    )
    for i, rate in enumerate(monitor.firing_rates().values()):
        print(f"LIF layer {i + 1}: {rate:.3f} spikes per neuron per step")
    for name in ("input.png", "spike_raster.png", "membrane_trace.png"):
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
