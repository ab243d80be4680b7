r"""IF, LIF and ParametricLIF neurons as pure functions of ``(input, state, parameters)``.

The charge equations are SpikingJelly's, operation for operation, so the spikes are bit-equal:

* IF: :math:`H_t = V_{t-1} + X_t`
* LIF, ``decay_input=True``: :math:`H_t = V_{t-1} + (X_t - (V_{t-1} - V_{reset})) / \tau`
* LIF, ``decay_input=False``: :math:`H_t = V_{t-1} - (V_{t-1} - V_{reset}) / \tau + X_t`
* ParametricLIF: as LIF with :math:`1/\tau` replaced by :math:`k = \mathrm{sigmoid}(w)`, ``w``
  learnable (:math:`\tau = 1/k`).

then :math:`S_t = \Theta(H_t - V_{th})` and the reset: hard, :math:`V_t = H_t (1 - S_t) + V_{reset} S_t`;
soft (``v_reset=None``), :math:`V_t = H_t - V_{th} S_t`, with :math:`V_{reset} = 0` in the leak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..kernels.source import KIND_IF, KIND_LIF, KIND_PLIF
from ..validation import check_float_tensor, check_positive, check_state_shape
from .common import (
    FUSED,
    FireParameters,
    Fused,
    LIFState,
    fire_and_reset,
    initial_potential,
    kernel_spec,
    multi_step,
)

__all__ = [
    "IFParameters",
    "LIFParameters",
    "ParametricLIFParameters",
    "LIFState",
    "if_step",
    "if_multi_step",
    "lif_step",
    "lif_multi_step",
    "plif_step",
    "plif_multi_step",
    "plif_weight_for_tau",
]


@dataclass(frozen=True)
class IFParameters(FireParameters):
    """Integrate-and-fire: no leak."""


@dataclass(frozen=True)
class LIFParameters(FireParameters):
    """Leaky integrate-and-fire with time constant ``tau`` in steps (``tau > 1`` leaks, ``1`` copies)."""

    tau: float = 2.0
    decay_input: bool = True

    def __post_init__(self):
        super().__post_init__()
        check_positive(self.tau, "tau")


@dataclass(frozen=True)
class ParametricLIFParameters(FireParameters):
    """LIF whose leak ``k = sigmoid(w)`` is learned; ``w`` is a scalar tensor (``tau = 1/k``)."""

    w: torch.Tensor | None = None
    decay_input: bool = True

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.w, torch.Tensor) or self.w.numel() != 1:
            raise TypeError("ParametricLIFParameters.w must be a one-element tensor")


def plif_weight_for_tau(tau: float) -> float:
    """The ``w`` that gives ``sigmoid(w) = 1/tau`` (SpikingJelly's ``init_tau``)."""
    check_positive(tau, "tau")
    if tau <= 1.0:
        raise ValueError(f"ParametricLIF needs tau > 1, got {tau}")
    return -math.log(tau - 1.0)


def _initial_state(x: torch.Tensor, p: FireParameters) -> LIFState:
    return LIFState(initial_potential(x, p))


def _prepare(x: torch.Tensor, state: LIFState | None, p: FireParameters) -> torch.Tensor:
    check_float_tensor(x)
    if state is None:
        return initial_potential(x, p)
    check_state_shape(state, x.shape)
    return state.v


def _charge_lif(x, v, p: LIFParameters):
    r = p.leak_target
    if p.decay_input:
        return v + (x - (v - r)) / p.tau
    return v - (v - r) / p.tau + x


def _charge_plif(x, v, p: ParametricLIFParameters):
    r = p.leak_target
    k = p.w.sigmoid()
    if p.decay_input:
        return v + (x - (v - r)) * k
    return v - (v - r) * k + x


def if_step(x: torch.Tensor, state: LIFState | None, p: IFParameters):
    """One IF step; returns ``(spike, LIFState)``."""
    v = _prepare(x, state, p)
    spike, v = fire_and_reset(v + x, p.v_threshold, p)
    return spike, LIFState(v)


def lif_step(x: torch.Tensor, state: LIFState | None, p: LIFParameters):
    """One LIF step; returns ``(spike, LIFState)``."""
    v = _prepare(x, state, p)
    spike, v = fire_and_reset(_charge_lif(x, v, p), p.v_threshold, p)
    return spike, LIFState(v)


def plif_step(x: torch.Tensor, state: LIFState | None, p: ParametricLIFParameters):
    """One ParametricLIF step; returns ``(spike, LIFState)``."""
    v = _prepare(x, state, p)
    spike, v = fire_and_reset(_charge_plif(x, v, p), p.v_threshold, p)
    return spike, LIFState(v)


def if_multi_step(
    x_seq: torch.Tensor, state: LIFState | None, p: IFParameters, backend="torch", memory="exact"
):
    """IF over ``x_seq`` of shape ``[T, B, ...]``; returns ``(spike_seq, LIFState)``."""
    return multi_step(if_step, x_seq, state, p, backend, memory)


def lif_multi_step(
    x_seq: torch.Tensor, state: LIFState | None, p: LIFParameters, backend="torch", memory="exact"
):
    """LIF over ``x_seq`` of shape ``[T, B, ...]``; returns ``(spike_seq, LIFState)``."""
    return multi_step(lif_step, x_seq, state, p, backend, memory)


def plif_multi_step(
    x_seq: torch.Tensor, state: LIFState | None, p: ParametricLIFParameters, backend="torch", memory="exact"
):
    """ParametricLIF over ``x_seq`` of shape ``[T, B, ...]``; returns ``(spike_seq, LIFState)``."""
    return multi_step(plif_step, x_seq, state, p, backend, memory)


FUSED[IFParameters] = Fused(lambda p: kernel_spec(KIND_IF, p), _initial_state)
FUSED[LIFParameters] = Fused(
    lambda p: kernel_spec(KIND_LIF, p, decay_input=p.decay_input, tau=float(p.tau)), _initial_state
)
FUSED[ParametricLIFParameters] = Fused(
    lambda p: kernel_spec(KIND_PLIF, p, decay_input=p.decay_input, k=p.w.sigmoid()), _initial_state
)
