"""Backend dispatch for multi-step neurons: the plain-torch reference and the fused kernels.

``backend`` is one of ``"torch"`` (the reference: a Python loop over the single-step function),
``"cpu"`` (fused C kernel), ``"cupy"`` (fused CUDA kernel) or ``"auto"`` (the fastest one that
supports the neuron, dtype and device). Dispatch happens here, once, for every neuron.
"""

from __future__ import annotations

from ..functional.common import run_steps

BACKENDS = ("torch", "cpu", "cupy", "auto")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def run_multi_step(step, x_seq, state, p, backend: str = "torch"):
    """Run ``step`` over the time axis of ``x_seq`` with the chosen backend."""
    check_backend(backend)
    if backend in ("torch", "auto"):
        return run_steps(step, x_seq, state, p)
    raise NotImplementedError(f"backend {backend!r} is not built yet")
