"""Parameter and state objects shared by the neuron functions, and the fire-and-reset rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from ..surrogate import ATan, Surrogate
from ..validation import check_finite_number, check_positive


class LIFState(NamedTuple):
    """Membrane potential ``v``: the state of IF, LIF and ParametricLIF neurons."""

    v: torch.Tensor


@dataclass(frozen=True)
class FireParameters:
    """What every neuron shares: its threshold, its reset, and its surrogate gradient.

    ``v_reset`` is a float for a hard reset (``V = H (1 - S) + V_reset S``) and ``None`` for a
    soft reset by subtraction (``V = H - V_th S``). ``detach_reset`` cuts the gradient through
    the reset term, as in SpikingJelly.
    """

    v_threshold: float = 1.0
    v_reset: float | None = 0.0
    detach_reset: bool = False
    surrogate: Surrogate = field(default_factory=ATan)

    def __post_init__(self):
        check_positive(self.v_threshold, "v_threshold")
        if self.v_reset is not None:
            check_finite_number(self.v_reset, "v_reset")
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(
                f"surrogate must be a neuro.surrogate.Surrogate, got {type(self.surrogate).__name__}"
            )

    @property
    def leak_target(self) -> float:
        """The potential the leak pulls toward: ``v_reset``, or 0 under soft reset."""
        return 0.0 if self.v_reset is None else self.v_reset


def initial_potential(x: torch.Tensor, p: FireParameters) -> torch.Tensor:
    """The resting potential for one step shaped like ``x``: ``v_reset`` (0 under soft reset)."""
    return torch.full_like(x, p.leak_target)


def fire_and_reset(h: torch.Tensor, threshold, p: FireParameters):
    """Spike where ``h >= threshold``, then reset; returns ``(spike, v)``.

    ``threshold`` is ``p.v_threshold`` for fixed-threshold neurons and a tensor for ALIF.
    """
    spike = p.surrogate(h - threshold)
    s = spike.detach() if p.detach_reset else spike
    if p.v_reset is None:
        v = h - s * threshold
    else:
        v = s * p.v_reset + (1.0 - s) * h
    return spike, v


def multi_step(step, x_seq: torch.Tensor, state, p, backend: str, memory: str = "exact"):
    """Run ``step`` over the time axis of ``x_seq`` with the chosen backend (see :mod:`neuro.kernels`)."""
    from ..kernels import run_multi_step

    return run_multi_step(step, x_seq, state, p, backend, memory)


def run_steps(step, x_seq: torch.Tensor, state, p):
    """Apply a single-step function over the leading time axis of ``x_seq``."""
    spikes = []
    for x in x_seq:
        z, state = step(x, state, p)
        spikes.append(z)
    return torch.stack(spikes), state
