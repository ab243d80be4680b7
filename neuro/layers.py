"""Layer helpers for ``[T, B, ...]`` tensors: stateless layers over time, shortcuts, spiking blocks."""

from __future__ import annotations

import torch
from torch import nn

from .kernels.linear import linear
from .neurons import LIF, SpikingNeuron
from .validation import check_float_tensor

__all__ = ["Linear", "TimeDistributed", "Residual", "SpikingLinear", "SpikingConv2d"]


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, state dict and export) whose float32 CPU products, forward and
    backward, run through oneDNN (:func:`neuro.kernels.linear.linear`): 1.6 to 1.9 times as fast
    as ``nn.Linear`` on CPUs where MKL takes a slower path (AMD; ``benchmarks/linear.py``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


class TimeDistributed(nn.Module):
    """Apply a stateless layer to ``[T, B, ...]`` by folding T into the batch: ``[T*B, ...]``."""

    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.layer = layers[0] if len(layers) == 1 else nn.Sequential(*layers)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_float_tensor(x_seq)
        if x_seq.dim() < 2:
            raise ValueError(f"TimeDistributed needs [T, B, ...], got shape {tuple(x_seq.shape)}")
        T, B = x_seq.shape[:2]
        y = self.layer(x_seq.flatten(0, 1))
        return y.reshape(T, B, *y.shape[1:])


class Residual(nn.Module):
    """``x + block(x)``: a shortcut around ``block`` (shapes in and out must match).

    :func:`neuro.export.to_nir` exports it as two edges into the node after it (NIR sums the
    inputs of a node), so residual stacks of neurons and layers export as they run.
    """

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class SpikingLinear(nn.Sequential):
    """``Linear`` (optionally with ``BatchNorm1d``) over time, then a spiking neuron (LIF by default)."""

    def __init__(self, in_features, out_features, neuron: SpikingNeuron | None = None, bias=True, norm=False):
        layers = [Linear(in_features, out_features, bias=bias)]
        if norm:
            layers.append(nn.BatchNorm1d(out_features))
        super().__init__(TimeDistributed(*layers), neuron if neuron is not None else LIF())


class SpikingConv2d(nn.Sequential):
    """``Conv2d`` + ``BatchNorm2d`` over time, then a spiking neuron (LIF by default)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=1,
        neuron: SpikingNeuron | None = None,
        norm=True,
    ):
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        super().__init__(TimeDistributed(*layers), neuron if neuron is not None else LIF())
