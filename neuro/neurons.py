"""Neuron modules: thin ``nn.Module`` wrappers that hold parameters and state and call ``functional``.

Every neuron takes ``step_mode`` (``'m'``: input ``[T, B, ...]``, the default; ``'s'``: one step
``[B, ...]``) and ``backend`` (see :mod:`neuro.kernels`). The state persists across calls until
:func:`neuro.reset` clears it, so a long sequence can be fed in chunks.
"""

from __future__ import annotations

import torch
from torch import nn

from . import functional as F
from .kernels import MEMORY_MODES, check_backend
from .surrogate import ATan, Surrogate
from .validation import check_neuron_input, check_step_mode

__all__ = ["SpikingNeuron", "IF", "LIF", "ParametricLIF", "ALIF", "CubaLIF", "reset"]


class SpikingNeuron(nn.Module):
    """Base class: owns ``state``, the step mode and the backend; subclasses name their functions.

    Set ``record_v = True`` (a :class:`neuro.monitor.Monitor` does it) to keep the membrane
    potential of the last call in ``v_seq`` (``[T, B, ...]``).

    ``check_finite`` (default ``True``) raises a ``ValueError`` when NaN or Inf input made the
    membrane potential non-finite. NaN and Inf propagate into the final potential of every neuron
    here, so checking that one ``[B, ...]`` tensor catches them at ``1/T`` of the input's cost. The
    check runs on CPU tensors outside ``torch.compile`` only: on CUDA it would force a device sync
    on every call, and in a compiled graph it would break the graph.

    ``memory`` is what the fused backward keeps per neuron-step: ``"exact"`` (the pre-spike
    potential in float32, 4 bytes) or ``"lean"`` (in bfloat16, 2 bytes; see :mod:`neuro.kernels`).
    """

    step_fn = None
    multi_step_fn = None

    def __init__(self, step_mode: str = "m", backend: str = "auto", memory: str = "exact"):
        super().__init__()
        check_step_mode(step_mode)
        check_backend(backend)
        if memory not in MEMORY_MODES:
            raise ValueError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")
        self.step_mode = step_mode
        self.backend = backend
        self.memory = memory
        self.state = None
        self.record_v = False
        self.check_finite = True
        self.v_seq = None

    def parameters_tuple(self):
        """The functional parameter object for the current settings."""
        raise NotImplementedError

    def reset_state(self) -> None:
        self.state = None
        self.v_seq = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_neuron_input(x, self.step_mode)
        z = self._advance(x)
        if self.check_finite:
            self._check_state_finite()
        return z

    def _advance(self, x: torch.Tensor) -> torch.Tensor:
        p = self.parameters_tuple()
        step = type(self).step_fn
        if self.step_mode == "s":
            z, self.state = step(x, self.state, p)
            if self.record_v:
                self.v_seq = self.state.v.detach().unsqueeze(0)
            return z
        if self.record_v:
            spikes, vs = [], []
            for x_t in x:
                z, self.state = step(x_t, self.state, p)
                spikes.append(z)
                vs.append(self.state.v.detach())
            self.v_seq = torch.stack(vs)
            return torch.stack(spikes)
        z, self.state = type(self).multi_step_fn(x, self.state, p, backend=self.backend, memory=self.memory)
        return z

    def _check_state_finite(self) -> None:
        """NaN or Inf anywhere in the input leaves the final membrane potential non-finite."""
        v = self.state.v
        if torch.compiler.is_compiling() or v.device.type != "cpu" or v.numel() == 0:
            return
        # NaN propagates into the minimum and maximum, and Inf is one of them: one reduction, no
        # temporary (isfinite(v).all() wrote and read a mask of v's size)
        if not bool(torch.isfinite(torch.stack(v.aminmax())).all()):
            raise ValueError(
                f"{type(self).__name__}: the membrane potential became NaN or Inf; the input to this "
                "layer contained non-finite values (check the data and the layers before it). "
                "Set check_finite=False on the neuron to skip this check."
            )

    def extra_repr(self) -> str:
        fields = self.parameters_tuple().__dataclass_fields__
        p = self.parameters_tuple()
        shown = ", ".join(f"{k}={getattr(p, k)}" for k in fields if k != "w")
        return f"{shown}, step_mode={self.step_mode!r}, backend={self.backend!r}"


class _FixedParameters(SpikingNeuron):
    """A neuron whose parameters are plain numbers, validated once at construction."""

    params_cls = None

    def __init__(self, step_mode="m", backend="auto", memory="exact", **params):
        super().__init__(step_mode, backend, memory)
        self.params = type(self).params_cls(**params)

    def parameters_tuple(self):
        return self.params


class IF(_FixedParameters):
    """Integrate-and-fire. See :mod:`neuro.functional.lif` for the equations."""

    step_fn = staticmethod(F.if_step)
    multi_step_fn = staticmethod(F.if_multi_step)
    params_cls = F.IFParameters

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        step_mode: str = "m",
        backend: str = "auto",
        memory: str = "exact",
    ):
        super().__init__(
            step_mode,
            backend,
            memory,
            v_threshold=v_threshold,
            v_reset=v_reset,
            detach_reset=detach_reset,
            surrogate=surrogate or ATan(),
        )


class LIF(_FixedParameters):
    """Leaky integrate-and-fire, equal to SpikingJelly's ``LIFNode``.

    ``decay_input=True``: ``H = V + (X - (V - V_reset)) / tau``;
    ``decay_input=False``: ``H = V - (V - V_reset) / tau + X``; ``S = Heaviside(H - V_th)``;
    hard reset ``V = H (1 - S) + V_reset S``; soft reset (``v_reset=None``) ``V = H - V_th S``,
    with 0 in place of ``V_reset`` in the leak.

    snnTorch's ``Leaky(beta, threshold, reset_mechanism, reset_delay=False)`` is
    ``LIF(tau=1 / (1 - beta), decay_input=False, v_threshold=threshold)`` with ``v_reset=None``
    for ``"subtract"`` and ``0.0`` for ``"zero"``; docs/peers.md gives the exact conditions.
    """

    step_fn = staticmethod(F.lif_step)
    multi_step_fn = staticmethod(F.lif_multi_step)
    params_cls = F.LIFParameters

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        step_mode: str = "m",
        backend: str = "auto",
        memory: str = "exact",
    ):
        super().__init__(
            step_mode,
            backend,
            memory,
            tau=tau,
            v_threshold=v_threshold,
            v_reset=v_reset,
            decay_input=decay_input,
            detach_reset=detach_reset,
            surrogate=surrogate or ATan(),
        )


class ALIF(_FixedParameters):
    """LIF with an adaptive threshold ``V_th + beta * a``; see :mod:`neuro.functional.alif`."""

    step_fn = staticmethod(F.alif_step)
    multi_step_fn = staticmethod(F.alif_multi_step)
    params_cls = F.ALIFParameters

    def __init__(
        self,
        tau: float = 2.0,
        tau_adapt: float = 20.0,
        beta: float = 0.2,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        step_mode: str = "m",
        backend: str = "auto",
        memory: str = "exact",
    ):
        super().__init__(
            step_mode,
            backend,
            memory,
            tau=tau,
            tau_adapt=tau_adapt,
            beta=beta,
            v_threshold=v_threshold,
            v_reset=v_reset,
            decay_input=decay_input,
            detach_reset=detach_reset,
            surrogate=surrogate or ATan(),
        )


class CubaLIF(_FixedParameters):
    """Current-based LIF with NIR's CubaLIF semantics; see :mod:`neuro.functional.cuba_lif`.

    ``tau`` is the membrane time constant (``tau_mem``); ``tau_syn`` the synaptic one, in steps.
    """

    step_fn = staticmethod(F.cuba_lif_step)
    multi_step_fn = staticmethod(F.cuba_lif_multi_step)
    params_cls = F.CubaLIFParameters

    def __init__(
        self,
        tau: float = 10.0,
        tau_syn: float = 5.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        v_leak: float = 0.0,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        step_mode: str = "m",
        backend: str = "auto",
        memory: str = "exact",
    ):
        super().__init__(
            step_mode,
            backend,
            memory,
            tau_mem=tau,
            tau_syn=tau_syn,
            v_threshold=v_threshold,
            v_reset=v_reset,
            v_leak=v_leak,
            detach_reset=detach_reset,
            surrogate=surrogate or ATan(),
        )


class ParametricLIF(SpikingNeuron):
    """LIF with a learnable leak ``1/tau = sigmoid(w)``, equal to SpikingJelly's ``ParametricLIFNode``."""

    step_fn = staticmethod(F.plif_step)
    multi_step_fn = staticmethod(F.plif_multi_step)

    def __init__(
        self,
        tau: float = 2.0,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        detach_reset: bool = False,
        surrogate: Surrogate | None = None,
        step_mode: str = "m",
        backend: str = "auto",
        memory: str = "exact",
    ):
        super().__init__(step_mode, backend, memory)
        self.w = nn.Parameter(torch.tensor(F.plif_weight_for_tau(tau)))
        self._fire = dict(
            v_threshold=v_threshold,
            v_reset=v_reset,
            decay_input=decay_input,
            detach_reset=detach_reset,
            surrogate=surrogate or ATan(),
        )
        self.parameters_tuple()  # validate now, not on the first call

    @property
    def tau(self) -> float:
        return float(1.0 / self.w.detach().sigmoid())

    def parameters_tuple(self):
        return F.ParametricLIFParameters(w=self.w, **self._fire)


def reset(module: nn.Module) -> None:
    """Clear the state of every spiking neuron inside ``module`` (call between samples)."""
    for m in module.modules():
        if isinstance(m, SpikingNeuron):
            m.reset_state()
