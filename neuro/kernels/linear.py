"""The dense layer as a ``torch.library`` custom op (``neuro::linear``) whose CPU products run on oneDNN.

``torch.nn.functional.linear`` runs float32 CPU products through MKL's ``sgemm``, which on AMD CPUs
takes its AVX2 path: 105 GFLOP/s on one thread of an AVX-512 EPYC, where oneDNN (the library torch
ships for its compiled CPU graphs, which picks its code from the CPU's features, not its vendor)
runs the same products at 230-245 GFLOP/s (``benchmarks/README.md``). The op computes forward, input
gradient and weight gradient with oneDNN's inner product on float32 CPU tensors of at least 4 M
multiply-adds; everything else (small products, other dtypes and devices, autocast, a single vector,
or a torch built without oneDNN) goes to ``F.linear``, the reference the op is tested against, and
so do graphs that ``torch.compile`` or ``torch.export`` trace (their own backends pick the products;
exported programs need no ``neuro``) and ``torch.func`` transforms (the op has no rules for them).
The products equal ``F.linear``'s up to float32 rounding (the order of the sums differs), and are
the same from run to run at a fixed thread count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["linear", "onednn_available"]


def _onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias`` by oneDNN (``x`` is made contiguous, ``weight`` need not be)."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def _probe() -> bool:
    """Whether this torch has oneDNN's linear and it agrees with ``F.linear`` on a small product."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        g = torch.Generator().manual_seed(0)
        x, w, b = (torch.randn(*s, generator=g) for s in ((5, 7), (3, 7), (3,)))
        return torch.allclose(_onednn(x, w.t().contiguous().t(), b), F.linear(x, w, b), atol=1e-5)
    except (AttributeError, RuntimeError):  # no such op in this build
        return False


_ONEDNN = _probe()
# Below about 4 M multiply-adds the custom op's dispatch (tens of microseconds a call) costs more
# than oneDNN saves (measured fwd+bwd, 1 thread: 128x128x128 0.20 ms against F.linear's 0.17,
# 64x256x256 0.27 against 0.31, 8192x128x256 10.6 against 19.7).
_MIN_MACS = 1 << 22


def onednn_available() -> bool:
    """Whether float32 CPU products go through oneDNN (else through ``F.linear``)."""
    return _ONEDNN


def _functorch_active() -> bool:
    """Whether a ``torch.func`` transform (``grad``, ``vmap``, ...) runs (the op has no rules for them)."""
    try:
        return torch._C._functorch.peek_interpreter_stack() is not None
    except AttributeError:  # a torch without this hook: no transform can be told apart
        return False


@torch.library.custom_op("neuro::linear", mutates_args=(), device_types="cpu")
def _linear_op(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T (+ bias)`` of float32 CPU tensors ``[..., K]``, ``[N, K]``, ``[N]``: ``[..., N]``."""
    return _onednn(x, weight, bias)


@_linear_op.register_fake
def _linear_fake(x, weight, bias):
    return x.new_empty((*x.shape[:-1], weight.shape[0]))


def _setup_context(ctx, inputs, output):
    x, weight, bias = inputs
    ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight if ctx.needs_input_grad[0] else None)
    ctx.has_bias = bias is not None


def _backward(ctx, grad):
    x, weight = ctx.saved_tensors
    grad_x = grad_w = grad_b = None
    grad = grad.contiguous()  # autograd may pass an expanded one (of a sum), which oneDNN reads slowly
    g2 = grad.view(-1, grad.shape[-1])  # [M, N]
    if ctx.needs_input_grad[0]:
        grad_x = _linear_op(grad, weight.t(), None)  # [..., N] @ [N, K]
    if ctx.needs_input_grad[1]:
        x2 = x.reshape(-1, x.shape[-1])  # [M, K]
        # oneDNN copies its first operand to contiguous memory: give it the narrower of the two
        if g2.shape[1] <= x2.shape[1]:
            grad_w = _linear_op(g2.t(), x2.t(), None)  # [N, M] @ [M, K]
        else:
            grad_w = _linear_op(x2.t(), g2.t(), None).t().contiguous()  # ([K, M] @ [M, N]).T
    if ctx.has_bias and ctx.needs_input_grad[2]:
        grad_b = g2.sum(0)
    return grad_x, grad_w, grad_b


_linear_op.register_autograd(_backward, setup_context=_setup_context)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, with float32 CPU products (forward and both gradients) run by oneDNN."""
    if torch.compiler.is_compiling() or _functorch_active():
        return F.linear(x, weight, bias)
    float32 = x.dtype == weight.dtype == torch.float32 and (bias is None or bias.dtype == torch.float32)
    cpu = x.device.type == "cpu" and not torch.is_autocast_enabled("cpu")  # autocast: F.linear's dtype rules
    if _ONEDNN and float32 and cpu and x.dim() >= 2 and x.numel() * weight.shape[0] >= _MIN_MACS:
        return _linear_op(x, weight, bias)
    return F.linear(x, weight, bias)
