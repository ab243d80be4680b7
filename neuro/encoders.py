"""Spike encoders: turn a static or time-varying tensor into a ``[T, B, ...]`` spike train.

* :func:`direct` repeats the analog input T times (the first layer's neurons do the encoding);
* :func:`poisson` fires each step with probability equal to the intensity (rate coding);
* :func:`latency` fires once, earlier for stronger input (time-to-first-spike coding);
* :func:`delta` fires where a sequence changes by more than a threshold (+1 up, -1 down).
"""

from __future__ import annotations

import torch
from torch import nn

from .validation import check_finite_number, check_float_tensor, check_positive

__all__ = [
    "direct",
    "poisson",
    "latency",
    "delta",
    "DirectEncoder",
    "PoissonEncoder",
    "LatencyEncoder",
]


def _check_steps(T) -> None:
    if not isinstance(T, int) or isinstance(T, bool):
        raise TypeError(f"T must be an int, got {type(T).__name__}")
    if T < 1:
        raise ValueError(f"T must be >= 1 time step, got {T}")


def _check_unit_interval(x: torch.Tensor, encoder: str) -> None:
    if x.numel() and (bool(x.min() < 0) or bool(x.max() > 1) or not bool(torch.isfinite(x).all())):
        raise ValueError(
            f"{encoder} encoding needs intensities in [0, 1]; got min {float(x.min()):.3g}, "
            f"max {float(x.max()):.3g} (normalise, e.g. with x.sigmoid() or min-max scaling)"
        )


def direct(x: torch.Tensor, T: int) -> torch.Tensor:
    """Repeat ``x`` over ``T`` steps: ``[B, ...] -> [T, B, ...]`` (a view, no copy)."""
    check_float_tensor(x)
    _check_steps(T)
    return x.unsqueeze(0).expand(T, *x.shape)


def poisson(x: torch.Tensor, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli spikes with per-step probability ``x`` in ``[0, 1]``: ``[B, ...] -> [T, B, ...]``."""
    check_float_tensor(x)
    _check_steps(T)
    _check_unit_interval(x, "poisson")
    u = torch.rand((T, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    return (u < x).to(x.dtype)


def latency(x: torch.Tensor, T: int, threshold: float = 0.0) -> torch.Tensor:
    """One spike per element at step ``round((1 - x) (T - 1))``; elements ``<= threshold`` stay silent."""
    check_float_tensor(x)
    _check_steps(T)
    _check_unit_interval(x, "latency")
    check_finite_number(threshold, "threshold")
    t_fire = torch.round((1 - x) * (T - 1)).long()
    steps = torch.arange(T, device=x.device).view(T, *([1] * x.dim()))
    return ((steps == t_fire) & (x > threshold)).to(x.dtype)


def delta(x_seq: torch.Tensor, threshold: float = 0.1, off_spikes: bool = True) -> torch.Tensor:
    """Spikes where ``x_seq`` ([T, B, ...]) changes by at least ``threshold`` (> 0) from the previous step.

    The first step is compared with zeros. Decreases give ``-1`` when ``off_spikes`` else nothing.
    """
    check_float_tensor(x_seq)
    if x_seq.dim() < 2:
        raise ValueError(f"delta encoding needs a sequence [T, B, ...], got shape {tuple(x_seq.shape)}")
    check_positive(threshold, "threshold")
    diff = x_seq - torch.cat([torch.zeros_like(x_seq[:1]), x_seq[:-1]])
    out = (diff >= threshold).to(x_seq.dtype)
    if off_spikes:
        out = out - (diff <= -threshold).to(x_seq.dtype)
    return out


class DirectEncoder(nn.Module):
    """Module form of :func:`direct`."""

    def __init__(self, T: int):
        super().__init__()
        _check_steps(T)
        self.T = T

    def forward(self, x):
        return direct(x, self.T)


class PoissonEncoder(nn.Module):
    """Module form of :func:`poisson`."""

    def __init__(self, T: int):
        super().__init__()
        _check_steps(T)
        self.T = T

    def forward(self, x):
        return poisson(x, self.T)


class LatencyEncoder(nn.Module):
    """Module form of :func:`latency`."""

    def __init__(self, T: int, threshold: float = 0.0):
        super().__init__()
        _check_steps(T)
        self.T, self.threshold = T, threshold

    def forward(self, x):
        return latency(x, self.T, self.threshold)
