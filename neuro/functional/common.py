"""Parameter and state objects shared by the neuron functions, the fire-and-reset rule, and the
one place where a multi-step call picks its backend (the torch reference or a fused kernel)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from .. import kernels
from ..kernels import KernelSpec
from ..surrogate import ATan, Surrogate
from ..validation import check_finite_number, check_neuron_input, check_positive, check_state_shape


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


class Fused(NamedTuple):
    """How one parameter class runs on the fused kernels: its :class:`~neuro.kernels.KernelSpec`
    and the state it starts from, each a function of ``p`` (and of one input step for the state)."""

    spec: Callable[..., KernelSpec]
    initial_state: Callable[[torch.Tensor, FireParameters], NamedTuple]


# Parameter class -> Fused; each neuron's module registers its classes (exact types: a subclass
# with its own dynamics runs the reference until it registers a kernel of its own).
FUSED: dict[type, Fused] = {}


def kernel_spec(kind: int, p: FireParameters, **constants) -> KernelSpec:
    """The kernel's view of ``p``: its fire rule plus the kind's ``constants`` (see KernelSpec)."""
    return KernelSpec(
        kind, kernels.c_expression(p.surrogate), p.v_threshold, p.v_reset, p.detach_reset, **constants
    )


def _fused(p: FireParameters):
    """``p``'s registered :class:`Fused` and its :class:`KernelSpec`, or ``(None, None)``."""
    fused = FUSED.get(type(p))
    return fused, None if fused is None else fused.spec(p)


def resolve_backend(backend: str, p: FireParameters, x: torch.Tensor) -> str:
    """The backend a multi-step call with ``p`` and ``x`` runs: ``"torch"``, ``"cpu"`` or ``"cupy"``."""
    return kernels.select_backend(backend, _fused(p)[1], x, type(p).__name__)


def multi_step(step, x_seq: torch.Tensor, state, p, backend: str = "torch", memory: str = "exact"):
    """Run ``step`` over the time axis of ``x_seq`` with the chosen backend (see :mod:`neuro.kernels`).

    Parameters
    ----------
    step : callable
        The single-step function (``if_step``, ``lif_step``, ...), used by the ``"torch"`` backend.
    x_seq : torch.Tensor
        Input ``[T, B, ...]``.
    state : NamedTuple or None
        The state after the previous chunk, or ``None`` to start at rest.
    p : FireParameters
        The neuron's parameters; their type selects the fused kernel.
    backend : str
        ``"torch"``, ``"cpu"``, ``"cupy"`` or ``"auto"``.
    memory : str
        ``"exact"`` or ``"lean"`` (what the fused backward keeps; the reference ignores it).

    Returns
    -------
    (torch.Tensor, NamedTuple)
        Spikes ``[T, B, ...]`` and the final state.
    """
    kernels.check_memory(memory)
    if backend == "torch" and memory == "lean":
        raise ValueError("memory='lean' needs a fused backend ('cpu', 'cupy' or 'auto'), not 'torch'")
    check_neuron_input(x_seq, "m")
    fused, spec = _fused(p)
    if kernels.select_backend(backend, spec, x_seq, type(p).__name__) == "torch":
        return run_steps(step, x_seq, state, p)
    check_state_shape(state, x_seq.shape[1:])
    if state is None:
        state = fused.initial_state(x_seq[0], p)
    spikes, last = kernels.fused_multi_step(x_seq, tuple(state), spec, memory == "lean")
    return spikes, type(state)(*last)


def run_steps(step, x_seq: torch.Tensor, state, p):
    """Apply a single-step function over the leading time axis of ``x_seq``."""
    spikes = []
    for x in x_seq:
        z, state = step(x, state, p)
        spikes.append(z)
    return torch.stack(spikes), state
