"""Spike plots: rasters per layer, firing-rate heatmaps over layers and time, membrane traces.

Every function takes ``[T, B, ...]`` tensors (as :class:`neuro.Monitor` records them), draws on a
new matplotlib :class:`~matplotlib.figure.Figure` (no pyplot, no display: it runs headless), saves
it when ``path`` ends in ``.png`` or ``.svg``, and returns the figure. Time axes get a few integer
ticks, so the figures stay readable from a handful of steps to several hundred.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["spike_raster", "firing_rate_heatmap", "membrane_traces", "save_figure"]

FORMATS = (".png", ".svg")
SELECTIONS = ("first", "spread")
DPI = 120


def save_figure(fig: Figure, path: str | Path | None) -> Figure:
    """Save ``fig`` to ``path`` (``.png`` or ``.svg``; parent folders are created) and return it."""
    if path is None:
        return fig
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"figure path must end in .png or .svg, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
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


def _integer_steps(ax) -> None:
    """At most ~10 integer ticks on the time axis, whatever the number of steps."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))


def spike_raster(
    spikes: Mapping[str, torch.Tensor],
    sample: int = 0,
    max_neurons: int | None = 200,
    title: str | None = None,
    path: str | Path | None = None,
    select: str = "first",
) -> Figure:
    """One raster per layer: neurons against time steps for one sample, black where a neuron spikes.

    Each raster is an image of the ``[neurons, T]`` spike matrix, so it stays readable for
    thousands of neurons: where there are more neurons than pixel rows, each image row shows a
    group of neighbouring neurons in grey, darker the more of them spike at that step.

    Parameters
    ----------
    spikes : mapping of layer name to tensor ``[T, B, ...]``
        For example ``{n: s[-1] for n, s in monitor.spikes.items()}``.
    sample : int
        Which batch element to draw.
    max_neurons : int or None
        Draw at most this many neurons per layer (``None``: all of them).
    select : {"first", "spread"}
        Which neurons of a larger layer: the first ``max_neurons`` in flattened order, or every
        k-th neuron so the whole layer is covered (the neuron axis keeps the layer's indices).
    """
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {SELECTIONS}, got {select!r}")
    if max_neurons is not None and max_neurons < 1:
        raise ValueError(f"max_neurons must be at least 1 (or None for all), got {max_neurons}")
    layers = _check_layers(spikes)
    chosen = {}
    for name, s in layers.items():
        _check_sample(sample, s.shape[1])
        x = s[:, sample].reshape(s.shape[0], -1)
        stride = 1
        if max_neurons is not None and x.shape[1] > max_neurons and select == "spread":
            stride = -(-x.shape[1] // max_neurons)  # ceil: every stride-th neuron, at most max_neurons
        shown = x[:, ::stride] if stride > 1 else x[:, : max_neurons or x.shape[1]]
        chosen[name] = x, shown, stride
    tallest = 1.8 if len(layers) <= 6 else 0.75  # inches per raster: keep deep networks on a page
    heights = [min(tallest, max(0.6, 0.12 * shown.shape[1])) for _, shown, _ in chosen.values()]
    fig = Figure(figsize=(7, 0.7 + sum(h + 0.7 for h in heights)), layout="constrained")
    axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
    for ax, height, (name, (x, shown, stride)) in zip(axes, heights, chosen.items(), strict=True):
        steps, rows = shown.shape
        group = -(-rows // int(0.95 * height * DPI))  # neurons per image row: more rows than pixels alias
        starts = np.arange(0, rows, group)
        image = np.add.reduceat(shown.numpy(), starts, axis=1) / np.diff(np.append(starts, rows))
        ax.imshow(
            image.T,
            cmap="Greys",
            vmin=0,
            vmax=1,
            aspect="auto",
            interpolation="nearest",
            origin="lower",
            extent=(-0.5, steps - 0.5, -0.5 * stride, (len(starts) * group - 0.5) * stride),
        )
        ax.set_ylim(-0.5 * stride, (rows - 0.5) * stride)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.set_ylabel("neuron")
        # thin white lines between cells, where cells are big enough, keep neighbouring spikes apart
        if 7 * DPI / steps >= 6:
            ax.set_xticks(np.arange(steps + 1) - 0.5, minor=True)
            ax.grid(axis="x", which="minor", color="white", linewidth=0.6)
        if height * DPI / len(starts) >= 6:
            ax.set_yticks((np.arange(len(starts) + 1) * group - 0.5) * stride, minor=True)
            ax.grid(axis="y", which="minor", color="white", linewidth=0.6)
        ax.tick_params(which="minor", length=0)
        n = x.shape[1]
        if rows == n:
            note = f"{n} neurons"
        elif stride > 1:
            note = f"{rows} of {n} neurons, one in {stride}"
        else:
            note = f"{rows} of {n} neurons"
        if group > 1:
            note += f", {group} neurons per row"
        ax.set_title(f"{name}: {note}, firing rate {float(x.mean()):.3f} spikes/neuron/step", fontsize=9)
    _integer_steps(axes[-1])
    axes[-1].set_xlabel("time step")
    fig.suptitle(title or f"Spike raster (sample {sample}; black = spike)")
    return save_figure(fig, path)


def firing_rate_heatmap(
    spikes: Mapping[str, torch.Tensor], title: str | None = None, path: str | Path | None = None
) -> Figure:
    """Mean firing rate (spikes per neuron per step, over the batch) of each layer at each step.

    The rate is written in each cell while the cells are wide enough to hold it (up to 16 steps).
    """
    layers = _check_layers(spikes)
    steps = {s.shape[0] for s in layers.values()}
    if len(steps) != 1:
        raise ValueError(f"all layers must have the same number of time steps, got {sorted(steps)}")
    rates = np.stack([s.reshape(s.shape[0], -1).mean(1).numpy() for s in layers.values()])
    label_width = 0.08 * max(len(name) for name in layers)  # inches for the layer names
    cells_width = min(0.6 * rates.shape[1], 8.0)  # 0.6 inch per step, at most 8 inches in all
    fig = Figure(figsize=(2.6 + label_width + cells_width, 1.4 + 0.45 * len(layers)), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rates, aspect="auto", cmap="viridis", vmin=0, vmax=max(float(rates.max()), 1e-6))
    ax.set_yticks(range(len(layers)), list(layers))
    _integer_steps(ax)
    ax.set_xlabel("time step")
    ax.set_ylabel("layer")
    if rates.shape[1] <= 16 and len(layers) <= 24:
        for (i, j), value in np.ndenumerate(rates):
            color = "white" if value < 0.6 * rates.max() else "black"
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, label="firing rate\n(spikes / neuron / step)")
    ax.set_title(title or "Firing rate per layer and time step")
    return save_figure(fig, path)


def _pick_neurons(fired: torch.Tensor | None, n_neurons: int, count: int) -> list[int]:
    """``count`` neurons: firing ones from the busiest to the quietest, evenly spread; then silent ones."""
    if fired is None:
        return list(range(min(count, n_neurons)))
    totals = fired.sum(0)
    active = torch.argsort(totals, descending=True, stable=True)[: int((totals > 0).sum())].tolist()
    if len(active) > count:
        active = [active[i] for i in np.linspace(0, len(active) - 1, count).round().astype(int)]
    rest = [i for i in range(n_neurons) if totals[i] == 0]
    return (active + rest)[:count]


def membrane_traces(
    v: torch.Tensor,
    v_threshold: float,
    spikes: torch.Tensor | None = None,
    sample: int = 0,
    neurons: Sequence[int] | int = 5,
    title: str | None = None,
    path: str | Path | None = None,
    h: torch.Tensor | None = None,
) -> Figure:
    """Membrane potential of a few neurons over time, with the firing threshold and the spikes.

    Each step is drawn as the charge ``H_t`` followed by the reset to ``V_t``, so a spike shows as
    the potential reaching the threshold and dropping. Without ``h``, the charge at a spike step
    is drawn at the threshold (it was at least that high) and other steps at ``V_t``.

    Parameters
    ----------
    v : tensor ``[T, B, ...]``
        Potentials after each step's reset, e.g. ``monitor.v[name][-1]`` (``record_v=True``).
    v_threshold : float
        Drawn as a dashed line.
    spikes : tensor ``[T, B, ...]``, optional
        The same layer's spikes, marked on the traces.
    neurons : int or sequence of int
        Flattened neuron indices, or how many to pick (firing neurons from the busiest to the
        quietest, then silent ones).
    h : tensor ``[T, B, ...]``, optional
        Potentials before each step's reset (the charge the neuron compares with the threshold).
    """
    (v_layer,) = _check_layers({"v": v}).values()
    _check_sample(sample, v_layer.shape[1])
    trace = v_layer[:, sample].reshape(v_layer.shape[0], -1)
    extra = {}
    for name, tensor in (("spikes", spikes), ("h", h)):
        if tensor is not None:
            (layer,) = _check_layers({name: tensor}).values()
            if layer.shape != v_layer.shape:
                raise ValueError(
                    f"{name} {tuple(layer.shape)} and v {tuple(v_layer.shape)} must have one shape"
                )
            extra[name] = layer[:, sample].reshape(trace.shape)
    fired, charge = extra.get("spikes"), extra.get("h")
    if charge is None:
        charge = trace if fired is None else torch.where(fired > 0, torch.tensor(float(v_threshold)), trace)
    if isinstance(neurons, int):
        neurons = _pick_neurons(fired, trace.shape[1], neurons)
    bad = [i for i in neurons if not 0 <= i < trace.shape[1]]
    if bad or not neurons:
        raise ValueError(f"neuron indices {bad or list(neurons)} are not in 0..{trace.shape[1] - 1}")
    fig = Figure(figsize=(8, 1.0 + 1.5 * len(neurons)), layout="constrained")
    axes = fig.subplots(len(neurons), 1, sharex=True, squeeze=False)[:, 0]
    steps = trace.shape[0]
    t = np.arange(steps)
    for ax, i in zip(axes, neurons, strict=True):
        # each step t contributes two points: the charge (t, H_t), then the reset (t, V_t)
        y = torch.stack([charge[:, i], trace[:, i]], dim=1).flatten().numpy()
        ax.plot(np.repeat(t, 2), y, color="tab:blue", linewidth=1.2, label="membrane potential")
        ax.axhline(
            v_threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {v_threshold:g}"
        )
        note = f"neuron {i}"
        if fired is not None:
            hits = fired[:, i].numpy() > 0
            ax.plot(t[hits], charge[hits, i].numpy(), "o", color="tab:red", markersize=4, label="spike")
            note += f": {int(hits.sum())} spike{'' if hits.sum() == 1 else 's'}"
        ax.set_title(note, fontsize=9, loc="left")
        ax.set_ylabel("V")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=3, fontsize=8)
    _integer_steps(axes[-1])
    axes[-1].set_xlim(-0.5, steps - 0.5)
    axes[-1].set_xlabel("time step")
    fig.suptitle(title or f"Membrane potential (sample {sample})", x=0.02, ha="left")
    return save_figure(fig, path)
