"""The fused kernels as ``torch.library`` custom ops (``neuro::lif_forward``, ``neuro::lif_backward``).

Both ops take ``x`` as a contiguous ``[T, N]`` tensor and ``v0`` as ``[N]``; the device picks the
implementation (CPU: :mod:`neuro.kernels.cpu`, CUDA: :mod:`neuro.kernels.cuda`). Fake
implementations give ``torch.compile`` the output shapes, and the autograd formula calls the fused
reverse pass, so compiled graphs that contain them need no graph break.

``mode`` packs the neuron kind and flags (see :mod:`neuro.kernels.source`); ``surrogate`` is the
C expression of the surrogate derivative, which selects the compiled library.
"""

from __future__ import annotations

import torch

from . import cpu, cuda
from .source import KIND_PLIF, MODE_LEAN, MODE_NO_SAVE

__all__ = ["lif_forward", "lif_backward", "saved_dtype", "saved_shape", "grad_k_dtype"]


def saved_dtype(x: torch.Tensor, mode: int) -> torch.dtype:
    """What backward keeps per neuron-step: ``H - V_th`` in bf16 (lean), else ``H`` in the dtype the
    kernel computes in (float32 for half-precision CPU inputs, the input dtype otherwise)."""
    if mode & MODE_LEAN:
        return torch.bfloat16
    return cpu.compute_dtype(x.dtype) if x.device.type == "cpu" else x.dtype


def saved_shape(x: torch.Tensor, mode: int) -> tuple[int, ...]:
    """``[T, N]``, or empty when no backward will run."""
    return (0,) if mode & MODE_NO_SAVE else tuple(x.shape)


def grad_k_dtype(v0: torch.Tensor) -> torch.dtype:
    """The per-neuron leak gradient is summed in float64 for float64 inputs, float32 otherwise."""
    return torch.float64 if v0.dtype == torch.float64 else torch.float32


def _forward_buffers(x: torch.Tensor, k: torch.Tensor | None, mode: int):
    """The PLIF leak as float64 (or ``None``) and the empty buffer the forward pass saves into."""
    k64 = None if k is None else k.detach().to(torch.float64).contiguous()
    return k64, torch.empty(saved_shape(x, mode), dtype=saved_dtype(x, mode), device=x.device)


@torch.library.custom_op("neuro::lif_forward", mutates_args=(), device_types="cpu")
def lif_forward(
    x: torch.Tensor,
    v0: torch.Tensor,
    k: torch.Tensor | None,
    tau: float,
    v_threshold: float,
    v_reset: float,
    mode: int,
    surrogate: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fused forward: ``(spikes [T, N], v_last [N], saved [T, N])``."""
    k64, saved = _forward_buffers(x, k, mode)
    return cpu.lif_forward(x, v0, k64, tau, v_threshold, v_reset, mode, surrogate, saved)


@lif_forward.register_kernel("cuda")
def _lif_forward_cuda(x, v0, k, tau, v_threshold, v_reset, mode, surrogate):
    k64, saved = _forward_buffers(x, k, mode)
    return cuda.lif_forward(x, v0, k64, tau, v_threshold, v_reset, mode, surrogate, saved)


@lif_forward.register_fake
def _lif_forward_fake(x, v0, k, tau, v_threshold, v_reset, mode, surrogate):
    return (
        torch.empty_like(x),
        torch.empty_like(v0),
        x.new_empty(saved_shape(x, mode), dtype=saved_dtype(x, mode)),
    )


@torch.library.custom_op("neuro::lif_backward", mutates_args=(), device_types="cpu")
def lif_backward(
    grad_spikes: torch.Tensor | None,
    grad_v_last: torch.Tensor | None,
    saved: torch.Tensor,
    v0: torch.Tensor,
    x: torch.Tensor | None,
    k: torch.Tensor | None,
    tau: float,
    v_threshold: float,
    v_reset: float,
    mode: int,
    surrogate: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fused reverse pass: ``(grad_x [T, N], grad_v0 [N], grad_k [N])``; ``grad_k`` is empty but for PLIF."""
    args = _backward_args(grad_spikes, grad_v_last, saved, v0, x, k)
    grad_x, grad_v0, grad_k = cpu.lif_backward(
        args[0], args[1], saved, v0, args[2], args[3], tau, v_threshold, v_reset, mode, surrogate
    )
    return grad_x, grad_v0, grad_k if grad_k is not None else v0.new_empty(0, dtype=grad_k_dtype(v0))


@lif_backward.register_kernel("cuda")
def _lif_backward_cuda(grad_spikes, grad_v_last, saved, v0, x, k, tau, v_threshold, v_reset, mode, surrogate):
    args = _backward_args(grad_spikes, grad_v_last, saved, v0, x, k)
    grad_x, grad_v0, grad_k = cuda.lif_backward(
        args[0], args[1], saved, v0, args[2], args[3], tau, v_threshold, v_reset, mode, surrogate
    )
    return grad_x, grad_v0, grad_k if grad_k is not None else v0.new_empty(0, dtype=grad_k_dtype(v0))


@lif_backward.register_fake
def _lif_backward_fake(grad_spikes, grad_v_last, saved, v0, x, k, tau, v_threshold, v_reset, mode, surrogate):
    plif = (mode & 3) == KIND_PLIF
    grad_k = v0.new_empty(v0.shape if plif else (0,), dtype=grad_k_dtype(v0))
    return v0.new_empty(saved.shape), torch.empty_like(v0), grad_k


def _backward_args(grad_spikes, grad_v_last, saved, v0, x, k):
    """Contiguous gradients (autograd may pass expanded ones, or None for unused spikes); k as float64."""
    return (
        torch.zeros_like(v0).expand(saved.shape).contiguous()
        if grad_spikes is None
        else grad_spikes.contiguous(),
        None if grad_v_last is None else grad_v_last.contiguous(),
        None if x is None else x.contiguous(),
        None if k is None else k.detach().to(torch.float64).contiguous(),
    )


def _setup_context(ctx, inputs, output):
    x, v0, k, tau, v_threshold, v_reset, mode, surrogate = inputs
    ctx.set_materialize_grads(False)  # no zero tensors for outputs nobody used (saved, often v_last)
    plif = (mode & 3) == KIND_PLIF
    # only ParametricLIF's leak gradient reads X and V_0; IF and LIF keep the saved potential alone
    ctx.save_for_backward(output[2], v0 if plif else None, x if plif else None, k)
    ctx.v0_meta = (v0.shape, v0.dtype)
    ctx.constants = (tau, v_threshold, v_reset, mode, surrogate)


def _backward(ctx, grad_spikes, grad_v_last, _grad_saved):
    saved, v0, x, k = ctx.saved_tensors
    if v0 is None:  # the kernel needs its shape and dtype only
        v0 = saved.new_empty(ctx.v0_meta[0], dtype=ctx.v0_meta[1])
    grad_x, grad_v0, grad_k = lif_backward(grad_spikes, grad_v_last, saved, v0, x, k, *ctx.constants)
    grad_k = grad_k.sum().to(k.dtype).reshape(k.shape) if k is not None and ctx.needs_input_grad[2] else None
    grad_v0 = grad_v0 if ctx.needs_input_grad[1] else None
    return grad_x, grad_v0, grad_k, None, None, None, None, None


lif_forward.register_autograd(_backward, setup_context=_setup_context)
