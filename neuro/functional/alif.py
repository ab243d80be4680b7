r"""Adaptive LIF (ALIF): a LIF whose threshold rises with each spike and relaxes back.

.. math::
    H_t &= \text{LIF charge}(X_t, V_{t-1}) \\
    \theta_t &= V_{th} + \beta A_{t-1} \\
    S_t &= \Theta(H_t - \theta_t) \\
    V_t &= \text{reset}(H_t, S_t) \quad (\text{soft reset subtracts } \theta_t) \\
    A_t &= A_{t-1} - A_{t-1} / \tau_a + S_t
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..kernels.source import KIND_ALIF
from ..validation import check_finite_number, check_float_tensor, check_positive, check_state_shape
from .common import FUSED, Fused, fire_and_reset, initial_potential, kernel_spec, multi_step
from .lif import LIFParameters, _charge_lif

__all__ = ["ALIFParameters", "ALIFState", "alif_step", "alif_multi_step"]


class ALIFState(NamedTuple):
    """Membrane potential ``v`` and threshold adaptation ``a``."""

    v: torch.Tensor
    a: torch.Tensor


@dataclass(frozen=True)
class ALIFParameters(LIFParameters):
    """LIF parameters plus the adaptation time constant ``tau_adapt`` and strength ``beta``."""

    tau_adapt: float = 20.0
    beta: float = 0.2

    def __post_init__(self):
        super().__post_init__()
        check_positive(self.tau_adapt, "tau_adapt")
        check_finite_number(self.beta, "beta")


def _initial_state(x: torch.Tensor, p: ALIFParameters) -> ALIFState:
    return ALIFState(initial_potential(x, p), torch.zeros_like(x))


def alif_step(x: torch.Tensor, state: ALIFState | None, p: ALIFParameters):
    """One ALIF step; returns ``(spike, ALIFState)``."""
    check_float_tensor(x)
    if state is None:
        state = _initial_state(x, p)
    check_state_shape(state, x.shape)
    h = _charge_lif(x, state.v, p)
    threshold = p.v_threshold + p.beta * state.a
    spike, v = fire_and_reset(h, threshold, p)
    a = state.a - state.a / p.tau_adapt + spike
    return spike, ALIFState(v, a)


def alif_multi_step(
    x_seq: torch.Tensor, state: ALIFState | None, p: ALIFParameters, backend="torch", memory="exact"
):
    """ALIF over ``x_seq`` of shape ``[T, B, ...]``; returns ``(spike_seq, ALIFState)``."""
    return multi_step(alif_step, x_seq, state, p, backend, memory)


FUSED[ALIFParameters] = Fused(
    lambda p: kernel_spec(
        KIND_ALIF, p, decay_input=p.decay_input, tau=float(p.tau), tau2=float(p.tau_adapt), c1=float(p.beta)
    ),
    _initial_state,
)
