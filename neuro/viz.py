"""Spike plots: rasters per layer, firing-rate heatmaps over layers and time, membrane traces.

Every function takes ``[T, B, ...]`` tensors (as :class:`neuro.Monitor` records them), draws on a
new matplotlib :class:`~matplotlib.figure.Figure` (no pyplot, no display: it runs headless), saves
it when ``path`` ends in ``.png`` or ``.svg``, and returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = ["spike_raster", "firing_rate_heatmap", "membrane_traces", "save_figure"]

FORMATS = (".png", ".svg")


def save_figure(fig: Figure, path: str | Path | None) -> Figure:
    """Save ``fig`` to ``path`` (``.png`` or ``.svg``; parent folders are created) and return it."""
    if path is None:
        return fig
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"figure path must end in .png or .svg, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def _check_layers(spikes: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if not isinstance(spikes, Mapping) or not spikes:
        raise ValueError("give spikes as a non-empty mapping {layer name: tensor [T, B, ...]}")
    out = {}
    for name, s in spikes.items():
        if not isinstance(s, torch.Tensor) or s.dim() < 2:
            shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
            raise ValueError(f"spikes of layer {name!r} must be a tensor [T, B, ...], got {shape}")
        out[str(name)] = s.detach().float().cpu()
    return out


def _check_sample(sample: int, batch: int) -> None:
    if not 0 <= sample < batch:
        raise ValueError(f"sample {sample} is out of range for a batch of {batch}")


def spike_raster(
    spikes: Mapping[str, torch.Tensor],
    sample: int = 0,
    max_neurons: int = 200,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """One raster per layer: a dot for every spike of one sample, neurons against time steps.

    Parameters
    ----------
    spikes : mapping of layer name to tensor ``[T, B, ...]``
        For example ``{n: s[-1] for n, s in monitor.spikes.items()}``.
    sample : int
        Which batch element to draw.
    max_neurons : int
        Draw at most this many neurons per layer (the first ones, in flattened order).
    """
    layers = _check_layers(spikes)
    row_height = 1.6 if len(layers) <= 6 else 1.15  # inches per layer: keep deep networks on a page
    fig = Figure(figsize=(7, 1.2 + row_height * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, s) in zip(axes, layers.items(), strict=True):
        _check_sample(sample, s.shape[1])
        x = s[:, sample].reshape(s.shape[0], -1)
        shown = x[:, :max_neurons]
        t, n = np.nonzero(shown.numpy())
        ax.scatter(t, n, marker="|", s=40, linewidths=1.2, color="black")
        ax.set_xlim(-0.5, s.shape[0] - 0.5)
        ax.set_ylim(-0.5, shown.shape[1] - 0.5)
        ax.set_ylabel("neuron")
        note = (
            f"{shown.shape[1]} of {x.shape[1]} neurons"
            if x.shape[1] > max_neurons
            else f"{x.shape[1]} neurons"
        )
        ax.set_title(f"{name}: {note}, firing rate {float(x.mean()):.3f} spikes/neuron/step", fontsize=9)
    axes[-1].set_xlabel("time step")
    axes[-1].set_xticks(range(next(iter(layers.values())).shape[0]))
    fig.suptitle(title or f"Spike raster (sample {sample})")
    return save_figure(fig, path)


def firing_rate_heatmap(
    spikes: Mapping[str, torch.Tensor], title: str | None = None, path: str | Path | None = None
) -> Figure:
    """Mean firing rate (spikes per neuron per step, over the batch) of each layer at each step."""
    layers = _check_layers(spikes)
    steps = {s.shape[0] for s in layers.values()}
    if len(steps) != 1:
        raise ValueError(f"all layers must have the same number of time steps, got {sorted(steps)}")
    rates = np.stack([s.reshape(s.shape[0], -1).mean(1).numpy() for s in layers.values()])
    label_width = 0.08 * max(len(name) for name in layers)  # inches for the layer names
    fig = Figure(
        figsize=(2.6 + label_width + 0.6 * rates.shape[1], 1.4 + 0.45 * len(layers)), layout="constrained"
    )
    ax = fig.subplots()
    image = ax.imshow(rates, aspect="auto", cmap="viridis", vmin=0, vmax=max(float(rates.max()), 1e-6))
    ax.set_yticks(range(len(layers)), list(layers))
    ax.set_xticks(range(rates.shape[1]))
    ax.set_xlabel("time step")
    ax.set_ylabel("layer")
    if rates.size <= 200:
        for (i, j), value in np.ndenumerate(rates):
            color = "white" if value < 0.6 * rates.max() else "black"
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, label="firing rate (spikes / neuron / step)")
    ax.set_title(title or "Firing rate per layer and time step")
    return save_figure(fig, path)


def membrane_traces(
    v: torch.Tensor,
    v_threshold: float,
    spikes: torch.Tensor | None = None,
    sample: int = 0,
    neurons: Sequence[int] | int = 5,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Membrane potential of a few neurons over time, with the firing threshold and the spikes.

    Parameters
    ----------
    v : tensor ``[T, B, ...]``
        Potentials after each step's reset, e.g. ``monitor.v[name][-1]`` (``record_v=True``).
    v_threshold : float
        Drawn as a dashed line.
    spikes : tensor ``[T, B, ...]``, optional
        The same layer's spikes, marked on the traces.
    neurons : int or sequence of int
        Flattened neuron indices, or how many to pick (those that fire first, else the first ones).
    """
    (v_layer,) = _check_layers({"v": v}).values()
    _check_sample(sample, v_layer.shape[1])
    trace = v_layer[:, sample].reshape(v_layer.shape[0], -1)
    fired = None
    if spikes is not None:
        (s_layer,) = _check_layers({"spikes": spikes}).values()
        if s_layer.shape != v_layer.shape:
            raise ValueError(
                f"spikes {tuple(s_layer.shape)} and v {tuple(v_layer.shape)} must have one shape"
            )
        fired = s_layer[:, sample].reshape(trace.shape)
    if isinstance(neurons, int):
        active = [] if fired is None else torch.nonzero(fired.sum(0)).flatten().tolist()
        rest = [i for i in range(trace.shape[1]) if i not in active]
        neurons = (active + rest)[:neurons]
    bad = [i for i in neurons if not 0 <= i < trace.shape[1]]
    if bad or not neurons:
        raise ValueError(f"neuron indices {bad or list(neurons)} are not in 0..{trace.shape[1] - 1}")
    fig = Figure(figsize=(7, 1.0 + 1.1 * len(neurons)), layout="constrained")
    axes = fig.subplots(len(neurons), 1, sharex=True, squeeze=False)[:, 0]
    t = np.arange(trace.shape[0])
    for ax, i in zip(axes, neurons, strict=True):
        ax.plot(t, trace[:, i].numpy(), marker=".", color="tab:blue", label="V after reset")
        ax.axhline(
            v_threshold, color="red", linestyle="--", linewidth=1.2, label=f"threshold {v_threshold:g}"
        )
        if fired is not None:
            hits = fired[:, i].numpy() > 0
            ax.plot(
                t[hits], np.full(hits.sum(), v_threshold), "v", color="black", markersize=7, label="spike"
            )
        ax.set_ylabel(f"neuron {i}", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    if fired is not None and "spike" not in labels:
        handles.append(axes[0].plot([], [], "v", color="black")[0])
        labels.append("spike")
    fig.legend(handles, labels, loc="outside upper right", ncols=3, fontsize=8)
    axes[-1].set_xlabel("time step")
    axes[-1].set_xticks(t)
    fig.supylabel("membrane potential V", fontsize=9)
    fig.suptitle(title or f"Membrane potential (sample {sample})", x=0.02, ha="left")
    return save_figure(fig, path)
