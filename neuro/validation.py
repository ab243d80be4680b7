"""Input checks shared by the neurons, encoders and kernels: each failure names the problem."""

from __future__ import annotations

import math

import torch

STEP_MODES = ("s", "m")


def check_float_tensor(x, name: str = "input") -> None:
    """Reject anything that is not a floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16, bfloat16, float32 or float64), "
            f"got {x.dtype}; cast it with .float() first"
        )


def check_step_mode(step_mode: str) -> None:
    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode must be 's' (single step) or 'm' (multi-step), got {step_mode!r}")


def check_neuron_input(x, step_mode: str, name: str = "input") -> None:
    """A single-step input is ``[B, ...]`` (rank >= 1); a multi-step one is ``[T, B, ...]`` with T >= 1."""
    check_float_tensor(x, name)
    check_step_mode(step_mode)
    if step_mode == "m":
        if x.dim() < 2:
            raise ValueError(
                f"{name} in multi-step mode must have shape [T, B, ...] (rank >= 2), "
                f"got shape {tuple(x.shape)}; use step_mode='s' for a single step"
            )
        if x.shape[0] == 0:
            raise ValueError(f"{name} has T=0 time steps (shape {tuple(x.shape)}); T must be >= 1")
    elif x.dim() < 1:
        raise ValueError(f"{name} in single-step mode must have shape [B, ...], got a scalar")


def check_state_shape(state, x_step_shape, name: str = "state") -> None:
    """Each tensor of a neuron state must match the shape of one time step of the input."""
    if state is None:
        return
    for field, value in zip(state._fields, state, strict=True):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}.{field} must be a tensor, got {type(value).__name__}")
        if tuple(value.shape) != tuple(x_step_shape):
            raise ValueError(
                f"{name}.{field} has shape {tuple(value.shape)} but one input step has shape "
                f"{tuple(x_step_shape)}; call neuro.reset(model) when the batch size changes"
            )


def check_positive(value, name: str) -> None:
    """A positive, finite number (or a tensor of them)."""
    if isinstance(value, torch.Tensor):
        if not bool(torch.isfinite(value).all()) or not bool((value > 0).all()):
            raise ValueError(f"{name} must be positive and finite")
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value}")


def check_finite_number(value, name: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
