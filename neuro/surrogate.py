"""Surrogate gradients: a Heaviside forward pass with a smooth derivative in the backward pass.

Each surrogate is a small frozen object with an ``alpha`` that sets its sharpness. It owns three
views of one function:

* ``primitive(x)``: the smooth function whose derivative stands in for the Heaviside's;
* ``derivative(x)``: that derivative as a torch expression (used by autograd and the reference);
* ``c_derivative``: the same derivative as a C expression of ``x`` (used by the fused kernels).

Calling a surrogate on ``x`` returns ``Heaviside(x)`` (``1`` where ``x >= 0``) whose gradient is
``derivative(x)``. Where SpikingJelly defines the same function (``ATan``, ``Sigmoid``, ``Erf``,
``PiecewiseQuadratic``), the definition and the meaning of ``alpha`` are SpikingJelly's, so the
gradients are equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "Surrogate",
    "ATan",
    "Sigmoid",
    "FastSigmoid",
    "Triangle",
    "Erf",
    "PiecewiseQuadratic",
    "StraightThrough",
    "heaviside",
]


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Spike function: ``1`` where ``x >= 0`` else ``0``, in the dtype of ``x``."""
    return (x >= 0).to(x.dtype)


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward; the surrogate's derivative backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


@dataclass(frozen=True)
class Surrogate:
    """Base class. Subclasses set ``alpha``'s default and define the three views."""

    alpha: float = 1.0

    def __post_init__(self):
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha)):
            raise ValueError(f"{type(self).__name__}: alpha must be a finite number, got {self.alpha!r}")
        if self.alpha <= 0:
            raise ValueError(f"{type(self).__name__}: alpha must be positive, got {self.alpha}")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _SpikeFunction.apply(x, self)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def c_derivative(self) -> str:
        """The derivative as a C expression of a float ``x`` (for the fused kernels)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ATan(Surrogate):
    r"""Arc tangent: :math:`g'(x) = \frac{\alpha}{2(1 + (\frac{\pi}{2}\alpha x)^2)}` (SpikingJelly)."""

    alpha: float = 2.0

    def primitive(self, x):
        return torch.atan(math.pi / 2 * self.alpha * x) / math.pi + 0.5

    def derivative(self, x):
        return self.alpha / 2 / (1 + (math.pi / 2 * self.alpha * x).pow(2))

    @property
    def c_derivative(self):
        a = float(self.alpha)
        return f"(({a!r}f / 2.0f) / (1.0f + ({math.pi / 2 * a!r}f * x) * ({math.pi / 2 * a!r}f * x)))"


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    r"""Logistic: :math:`g'(x) = \alpha\,\sigma(\alpha x)(1 - \sigma(\alpha x))` (SpikingJelly)."""

    alpha: float = 4.0

    def primitive(self, x):
        return torch.sigmoid(self.alpha * x)

    def derivative(self, x):
        s = torch.sigmoid(x * self.alpha)
        return (1.0 - s) * s * self.alpha

    @property
    def c_derivative(self):
        a = float(self.alpha)
        return f"((1.0f - SIGMOID({a!r}f * x)) * SIGMOID({a!r}f * x) * {a!r}f)"


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    r"""SuperSpike fast sigmoid: :math:`g'(x) = 1 / (\alpha|x| + 1)^2` (snnTorch's ``slope``)."""

    alpha: float = 25.0

    def primitive(self, x):
        return x / (self.alpha * x.abs() + 1)

    def derivative(self, x):
        return 1.0 / (self.alpha * x.abs() + 1.0).pow(2)

    @property
    def c_derivative(self):
        a = float(self.alpha)
        return f"(1.0f / (({a!r}f * fabsf(x) + 1.0f) * ({a!r}f * fabsf(x) + 1.0f)))"


@dataclass(frozen=True)
class Triangle(Surrogate):
    r"""Triangle: :math:`g'(x) = \alpha \max(0, 1 - |x|)` (Norse's ``triangle``)."""

    alpha: float = 0.3

    def primitive(self, x):
        xc = x.clamp(-1.0, 1.0)
        return self.alpha * (xc - xc * xc.abs() / 2)

    def derivative(self, x):
        return self.alpha * torch.relu(1.0 - x.abs())

    @property
    def c_derivative(self):
        a = float(self.alpha)
        return f"({a!r}f * fmaxf(0.0f, 1.0f - fabsf(x)))"


@dataclass(frozen=True)
class Erf(Surrogate):
    r"""Gaussian error function: :math:`g'(x) = \frac{\alpha}{\sqrt\pi} e^{-(\alpha x)^2}` (SpikingJelly)."""

    alpha: float = 2.0

    def primitive(self, x):
        return torch.special.erfc(-self.alpha * x) / 2

    def derivative(self, x):
        return (-(x * self.alpha).pow(2)).exp() * (self.alpha / math.sqrt(math.pi))

    @property
    def c_derivative(self):
        a = float(self.alpha)
        return f"(expf(-({a!r}f * x) * ({a!r}f * x)) * {a / math.sqrt(math.pi)!r}f)"


@dataclass(frozen=True)
class PiecewiseQuadratic(Surrogate):
    r"""Piecewise quadratic: :math:`g'(x) = \max(0, \alpha - \alpha^2|x|)` (SpikingJelly)."""

    alpha: float = 1.0

    def primitive(self, x):
        a = self.alpha
        xc = x.clamp(-1.0 / a, 1.0 / a)
        return -(a**2) / 2 * xc * xc.abs() + a * xc + 0.5

    def derivative(self, x):
        a = self.alpha
        return (-(a**2) * x.abs() + a).masked_fill(x.abs() > 1 / a, 0.0)

    @property
    def c_derivative(self):
        a = float(self.alpha)
        return f"(fabsf(x) > {1 / a!r}f ? 0.0f : ({-(a**2)!r}f * fabsf(x) + {a!r}f))"


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    r"""Straight-through estimator: :math:`g'(x) = \alpha` everywhere (snnTorch's STE for ``alpha=1``)."""

    alpha: float = 1.0

    def primitive(self, x):
        return self.alpha * x

    def derivative(self, x):
        return torch.full_like(x, self.alpha)

    @property
    def c_derivative(self):
        return f"{float(self.alpha)!r}f"
