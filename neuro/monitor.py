"""Monitors: record the spikes (and optionally membrane potentials) of chosen neuron layers."""

from __future__ import annotations

import torch
from torch import nn

from .neurons import SpikingNeuron

__all__ = ["Monitor"]


class Monitor:
    """Record outputs of spiking layers during forward passes.

    ``layers``: names (as in ``model.named_modules()``) to watch; default all spiking neurons.
    ``record_v``: also keep membrane potentials ``[T, B, ...]`` (runs those layers step by step).
    Use as a context manager, or call :meth:`remove` when done.
    """

    def __init__(self, model: nn.Module, layers: list[str] | None = None, record_v: bool = False):
        named = {n: m for n, m in model.named_modules() if isinstance(m, SpikingNeuron)}
        if layers is None:
            layers = list(named)
        unknown = [n for n in layers if n not in named]
        if unknown:
            raise ValueError(f"not spiking layers of this model: {unknown}; spiking layers are {list(named)}")
        if not layers:
            raise ValueError("the model has no spiking neuron layers to monitor")
        self.layers = {n: named[n] for n in layers}
        self.spikes: dict[str, list[torch.Tensor]] = {n: [] for n in layers}
        self.v: dict[str, list[torch.Tensor]] = {n: [] for n in layers}
        self.record_v = record_v
        self._handles = []
        for name, m in self.layers.items():
            m.record_v = record_v
            self._handles.append(m.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def hook(module, inputs, output):
            self.spikes[name].append(output.detach())
            if self.record_v and module.v_seq is not None:
                self.v[name].append(module.v_seq)

        return hook

    def firing_rates(self) -> dict[str, float]:
        """Mean spikes per neuron per step, per layer, over everything recorded."""
        return {
            n: float(torch.cat([s.flatten() for s in seq]).float().mean()) if seq else float("nan")
            for n, seq in self.spikes.items()
        }

    def clear(self) -> None:
        for n in self.spikes:
            self.spikes[n].clear()
            self.v[n].clear()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        for m in self.layers.values():
            m.record_v = False
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
