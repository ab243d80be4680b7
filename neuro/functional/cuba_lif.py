r"""Current-based LIF (CubaLIF) with NIR's semantics, discretised by forward Euler with ``dt = 1`` step.

NIR defines :math:`\tau_{syn}\,\dot I = -I + w_{in} X` and
:math:`\tau_{mem}\,\dot V = (V_{leak} - V) + R I`. With times in steps:

.. math::
    I_t &= I_{t-1} + (w_{in} X_t - I_{t-1}) / \tau_{syn} \\
    H_t &= V_{t-1} + (V_{leak} - V_{t-1} + R I_t) / \tau_{mem} \\
    S_t &= \Theta(H_t - V_{th}), \quad V_t = \text{reset}(H_t, S_t)

The neuron starts at rest: :math:`V_0 = V_{leak}`, :math:`I_0 = 0`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..kernels.source import KIND_CUBA
from ..validation import check_finite_number, check_float_tensor, check_positive, check_state_shape
from .common import FUSED, FireParameters, Fused, fire_and_reset, kernel_spec, multi_step

__all__ = ["CubaLIFParameters", "CubaLIFState", "cuba_lif_step", "cuba_lif_multi_step"]


class CubaLIFState(NamedTuple):
    """Membrane potential ``v`` and synaptic current ``i``."""

    v: torch.Tensor
    i: torch.Tensor


@dataclass(frozen=True)
class CubaLIFParameters(FireParameters):
    """Time constants in steps (``tau_syn``, ``tau_mem``), leak potential, resistance, input weight."""

    tau_syn: float = 5.0
    tau_mem: float = 10.0
    v_leak: float = 0.0
    r: float = 1.0
    w_in: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        check_positive(self.tau_syn, "tau_syn")
        check_positive(self.tau_mem, "tau_mem")
        for name in ("v_leak", "r", "w_in"):
            check_finite_number(getattr(self, name), name)


def _initial_state(x: torch.Tensor, p: CubaLIFParameters) -> CubaLIFState:
    return CubaLIFState(torch.full_like(x, p.v_leak), torch.zeros_like(x))  # at rest


def cuba_lif_step(x: torch.Tensor, state: CubaLIFState | None, p: CubaLIFParameters):
    """One CubaLIF step; returns ``(spike, CubaLIFState)``."""
    check_float_tensor(x)
    if state is None:
        state = _initial_state(x, p)
    check_state_shape(state, x.shape)
    i = state.i + (p.w_in * x - state.i) / p.tau_syn
    h = state.v + (p.v_leak - state.v + p.r * i) / p.tau_mem
    spike, v = fire_and_reset(h, p.v_threshold, p)
    return spike, CubaLIFState(v, i)


def cuba_lif_multi_step(
    x_seq: torch.Tensor, state: CubaLIFState | None, p: CubaLIFParameters, backend="torch", memory="exact"
):
    """CubaLIF over ``x_seq`` of shape ``[T, B, ...]``; returns ``(spike_seq, CubaLIFState)``."""
    return multi_step(cuba_lif_step, x_seq, state, p, backend, memory)


FUSED[CubaLIFParameters] = Fused(
    lambda p: kernel_spec(
        KIND_CUBA,
        p,
        tau=float(p.tau_mem),
        tau2=float(p.tau_syn),
        c1=float(p.v_leak),
        c2=float(p.r),
        c3=float(p.w_in),
    ),
    _initial_state,
)
