"""Surrogate gradients: Heaviside forward, ``derivative`` backward, and ``derivative == d primitive / dx``."""

import dataclasses
import math
import re

import pytest
import torch

from neuro import surrogate as ns

ALL = [
    ns.ATan(),
    ns.ATan(alpha=0.5),
    ns.Sigmoid(),
    ns.Sigmoid(alpha=10.0),
    ns.FastSigmoid(),
    ns.FastSigmoid(alpha=2.0),
    ns.Triangle(),
    ns.Triangle(alpha=2.0),
    ns.Erf(),
    ns.PiecewiseQuadratic(),
    ns.PiecewiseQuadratic(alpha=3.0),
    ns.StraightThrough(),
    ns.StraightThrough(alpha=0.5),
]
IDS = [repr(s) for s in ALL]


def _kinks(s: ns.Surrogate) -> list[float]:
    """Points where ``derivative`` itself is not differentiable (|x| kinks, clamp edges)."""
    if isinstance(s, (ns.FastSigmoid,)):
        return [0.0]
    if isinstance(s, ns.Triangle):
        return [0.0, 1.0, -1.0]
    if isinstance(s, ns.PiecewiseQuadratic):
        return [0.0, 1 / s.alpha, -1 / s.alpha]
    return []


def _points_away_from_kinks(s: ns.Surrogate, n=41) -> torch.Tensor:
    x = torch.linspace(-2.5, 2.5, n, dtype=torch.float64) + 0.0123
    for k in _kinks(s):
        x = x[(x - k).abs() > 1e-3]
    return x


class _PrimitiveWithDerivative(torch.autograd.Function):
    """Forward: the surrogate's primitive. Backward: its ``derivative``. gradcheck compares the two."""

    @staticmethod
    def forward(ctx, x, surrogate):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return surrogate.primitive(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None


@pytest.mark.parametrize("s", ALL, ids=IDS)
def test_derivative_is_the_derivative_of_the_primitive(s):
    x = _points_away_from_kinks(s).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: _PrimitiveWithDerivative.apply(t, s), (x,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("s", ALL, ids=IDS)
def test_spike_backward_is_the_derivative(s):
    x = _points_away_from_kinks(s).requires_grad_()
    grad_out = torch.linspace(0.5, 2.0, x.numel(), dtype=torch.float64)
    (g,) = torch.autograd.grad(s(x), x, grad_out)
    torch.testing.assert_close(g, grad_out * s.derivative(x.detach()), rtol=0, atol=0)
    # and that gradient is the true derivative of the primitive (double backward-free check)
    (g_prim,) = torch.autograd.grad(s.primitive(x).sum(), x)
    torch.testing.assert_close(s.derivative(x.detach()), g_prim, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("s", ALL, ids=IDS)
def test_forward_is_heaviside_in_every_float_dtype(s):
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        x = torch.tensor([-2.0, -1e-3, 0.0, 1e-3, 2.0], dtype=dtype)
        y = s(x)
        assert y.dtype == dtype
        assert y.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("s", ALL, ids=IDS)
def test_primitive_rises_from_heaviside_0_to_1_like_a_step(s):
    """The primitive is non-decreasing, so its derivative is a non-negative bump."""
    x = torch.linspace(-4, 4, 801, dtype=torch.float64)
    d = s.derivative(x)
    assert bool((d >= 0).all())
    assert bool((s.primitive(x).diff() >= -1e-12).all())


@pytest.mark.parametrize("cls", [ns.ATan, ns.Sigmoid, ns.Erf, ns.PiecewiseQuadratic])
def test_bump_surrogates_integrate_to_one(cls):
    """Heaviside-like surrogates carry unit mass: primitive(+inf) - primitive(-inf) = 1."""
    s = cls(alpha=1.5)
    x = torch.tensor([-1e4, 1e4], dtype=torch.float64)
    p = s.primitive(x)
    assert math.isclose(float(p[1] - p[0]), 1.0, abs_tol=1e-4)


def test_alpha_sharpens_the_gradient_at_zero():
    zero = torch.zeros(1)
    for cls in (ns.ATan, ns.Sigmoid, ns.Erf, ns.PiecewiseQuadratic):
        assert float(cls(alpha=4.0).derivative(zero)) > float(cls(alpha=1.0).derivative(zero))


def test_surrogates_are_hashable_frozen_values():
    assert ns.ATan(2.0) == ns.ATan(alpha=2.0)
    assert hash(ns.ATan(2.0)) == hash(ns.ATan(2.0))
    with pytest.raises(dataclasses.FrozenInstanceError, match="alpha"):
        ns.ATan().alpha = 3.0


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_alpha_is_rejected(bad):
    with pytest.raises(ValueError, match="alpha must be positive"):
        ns.Sigmoid(alpha=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "2", None])
def test_non_numeric_alpha_is_rejected(bad):
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        ns.ATan(alpha=bad)


def _eval_c(expr: str, x: torch.Tensor) -> torch.Tensor:
    """Evaluate the kernels' C expression on ``x`` with torch: float literals, the math calls and
    one top-level ``cond ? a : b`` are all it uses."""
    expr = re.sub(r"(?<=[0-9.])f\b", "", expr)
    if "?" in expr:
        inner = expr.strip()[1:-1]
        cond, rest = inner.split("?", 1)
        a, b = rest.split(":", 1)
        expr = f"torch.where({cond}, torch.as_tensor({a}), {b})"
    names = {
        "torch": torch,
        "x": x,
        "fabsf": torch.abs,
        "expf": torch.exp,
        "fmaxf": lambda a, b: torch.clamp(b, min=a),
        "SIGMOID": torch.sigmoid,
    }
    return torch.as_tensor(eval(expr, names)).expand_as(x)  # noqa: S307 - our own expressions


@pytest.mark.parametrize("s", ALL, ids=IDS)
def test_c_derivative_equals_derivative(s):
    """The fused kernels' C expression computes the same derivative as the torch one."""
    x = torch.linspace(-3, 3, 241)
    torch.testing.assert_close(_eval_c(s.c_derivative, x), s.derivative(x), rtol=1e-5, atol=1e-6)
