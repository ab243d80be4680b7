"""The fused kernels as ``torch.library`` custom ops (``neuro::lif_forward``, ``neuro::lif_backward``).

Both ops take ``x`` as a contiguous ``[T, N]`` tensor and the neuron state as ``[S, N]`` (``V``;
``V`` and ``A`` for ALIF; ``V`` and ``I`` for CubaLIF); the device picks the implementation (CPU:
:mod:`neuro.kernels.cpu`, CUDA: :mod:`neuro.kernels.cuda`). Fake implementations give
``torch.compile`` the output shapes, and the autograd formula calls the fused reverse pass, so
compiled graphs that contain them need no graph break.

``mode`` packs the neuron kind and flags, ``scalars`` the neuron's constants (see
:mod:`neuro.kernels.source`); ``surrogate`` is the C expression of the surrogate derivative, which
selects the compiled library.
"""

from __future__ import annotations

import torch

from . import buffers, cpu, cuda
from .source import KIND_MASK, KIND_PLIF, MODE_LEAN, MODE_NO_SAVE, SAVED_ROWS

__all__ = ["lif_forward", "lif_backward", "saved_dtype", "saved_shape", "grad_k_dtype"]


def saved_dtype(x: torch.Tensor, mode: int) -> torch.dtype:
    """What backward keeps per neuron-step: ``H - V_th`` in bf16 (lean), else ``H`` in the dtype the
    kernel computes in (float32 for half-precision CPU inputs, the input dtype otherwise)."""
    if mode & MODE_LEAN:
        return torch.bfloat16
    return cpu.compute_dtype(x.dtype) if x.device.type == "cpu" else x.dtype


def saved_shape(x: torch.Tensor, mode: int) -> tuple[int, ...]:
    """``[R, T, N]`` (R = 2 for ALIF, which also keeps its threshold, else 1), or empty when no
    backward will run."""
    return (0,) if mode & MODE_NO_SAVE else (SAVED_ROWS[mode & KIND_MASK], *x.shape)


def grad_k_dtype(state0: torch.Tensor) -> torch.dtype:
    """The per-neuron leak gradient is summed in float64 for float64 inputs, float32 otherwise."""
    return torch.float64 if state0.dtype == torch.float64 else torch.float32


def _forward_buffers(x: torch.Tensor, k: torch.Tensor | None, mode: int, empty):
    """The PLIF leak as float64 (or ``None``) and the empty buffer the forward pass saves into."""
    k64 = None if k is None else k.detach().to(torch.float64).contiguous()
    return k64, empty(saved_shape(x, mode), saved_dtype(x, mode))


@torch.library.custom_op("neuro::lif_forward", mutates_args=(), device_types="cpu")
def lif_forward(
    x: torch.Tensor,
    state0: torch.Tensor,
    k: torch.Tensor | None,
    scalars: list[float],
    mode: int,
    surrogate: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fused forward: ``(spikes [T, N], state_last [S, N], saved [R, T, N])``."""
    k64, saved = _forward_buffers(x, k, mode, buffers.empty)
    return cpu.lif_forward(x, state0, k64, scalars, mode, surrogate, saved)


@lif_forward.register_kernel("cuda")
def _lif_forward_cuda(x, state0, k, scalars, mode, surrogate):
    k64, saved = _forward_buffers(
        x, k, mode, lambda shape, dtype: torch.empty(shape, dtype=dtype, device=x.device)
    )
    return cuda.lif_forward(x, state0, k64, scalars, mode, surrogate, saved)


@lif_forward.register_fake
def _lif_forward_fake(x, state0, k, scalars, mode, surrogate):
    return (
        torch.empty_like(x),
        torch.empty_like(state0),
        x.new_empty(saved_shape(x, mode), dtype=saved_dtype(x, mode)),
    )


@torch.library.custom_op("neuro::lif_backward", mutates_args=(), device_types="cpu")
def lif_backward(
    grad_spikes: torch.Tensor | None,
    grad_state: torch.Tensor | None,
    saved: torch.Tensor,
    state0: torch.Tensor,
    x: torch.Tensor | None,
    k: torch.Tensor | None,
    scalars: list[float],
    mode: int,
    surrogate: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fused reverse pass: ``(grad_x [T, N], grad_state0 [S, N], grad_k [N] (PLIF; else empty))``."""
    args = _backward_args(grad_spikes, grad_state, saved, state0, x, k)
    grads = cpu.lif_backward(args[0], args[1], saved, state0, args[2], args[3], scalars, mode, surrogate)
    return _with_grad_k(grads, state0)


@lif_backward.register_kernel("cuda")
def _lif_backward_cuda(grad_spikes, grad_state, saved, state0, x, k, scalars, mode, surrogate):
    args = _backward_args(grad_spikes, grad_state, saved, state0, x, k)
    grads = cuda.lif_backward(args[0], args[1], saved, state0, args[2], args[3], scalars, mode, surrogate)
    return _with_grad_k(grads, state0)


@lif_backward.register_fake
def _lif_backward_fake(grad_spikes, grad_state, saved, state0, x, k, scalars, mode, surrogate):
    plif = (mode & KIND_MASK) == KIND_PLIF
    grad_k = state0.new_empty(state0.shape[1:] if plif else (0,), dtype=grad_k_dtype(state0))
    return state0.new_empty(saved.shape[1:]), torch.empty_like(state0), grad_k


def _backward_args(grad_spikes, grad_state, saved, state0, x, k):
    """Contiguous gradients (autograd may pass expanded ones, or None for unused outputs; the
    kernels need the spikes' gradient, zeros then); k as float64."""
    return (
        state0.new_zeros(saved.shape[1:]) if grad_spikes is None else grad_spikes.contiguous(),
        None if grad_state is None else grad_state.contiguous(),
        None if x is None else x.contiguous(),
        None if k is None else k.detach().to(torch.float64).contiguous(),
    )


def _with_grad_k(grads, state0):
    grad_x, grad_state0, grad_k = grads
    return (
        grad_x,
        grad_state0,
        grad_k if grad_k is not None else state0.new_empty(0, dtype=grad_k_dtype(state0)),
    )


def _setup_context(ctx, inputs, output):
    x, state0, k, scalars, mode, surrogate = inputs
    ctx.set_materialize_grads(False)  # no zero tensors for outputs nobody used (saved, often the state)
    plif = (mode & KIND_MASK) == KIND_PLIF
    # only ParametricLIF's leak gradient reads X and V_0; the others keep the saved tensor alone
    ctx.save_for_backward(output[2], state0 if plif else None, x if plif else None, k)
    ctx.state_meta = (state0.shape, state0.dtype)
    ctx.constants = (scalars, mode, surrogate)


def _backward(ctx, grad_spikes, grad_state, _grad_saved):
    saved, state0, x, k = ctx.saved_tensors
    if state0 is None:  # the kernel needs its shape and dtype only
        state0 = saved.new_empty(ctx.state_meta[0], dtype=ctx.state_meta[1])
    grad_x, grad_state0, grad_k = lif_backward(grad_spikes, grad_state, saved, state0, x, k, *ctx.constants)
    grad_k = grad_k.sum().to(k.dtype).reshape(k.shape) if k is not None and ctx.needs_input_grad[2] else None
    grad_state0 = grad_state0 if ctx.needs_input_grad[1] else None
    return grad_x, grad_state0, grad_k, None, None, None


lif_forward.register_autograd(_backward, setup_context=_setup_context)
