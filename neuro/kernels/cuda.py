"""The CUDA kernels: the shared kernel source compiled by NVRTC through CuPy, launched on torch's stream.

Needs ``cupy-cuda13x`` (``cupy-cuda12x`` for a CUDA 12 torch; a wheel: no compiler, no CUDA
toolkit). The kernels load and store float32, float16 or bfloat16 and compute in float;
``--fmad=false`` keeps each operation rounded as torch's, so the spikes are bit-equal to the torch
reference on the same GPU.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from .source import cuda_source

__all__ = ["available", "DTYPES", "lif_forward", "lif_backward"]

DTYPES = {torch.float32: "_f32", torch.float16: "_f16", torch.bfloat16: "_bf16"}
THREADS = 256
NVRTC_OPTIONS = ("--fmad=false", "--std=c++14")

_MODULES: dict[tuple[str, int], object] = {}
_LOCK = threading.Lock()
_available: bool | None = None


def available() -> bool:
    """Whether CuPy imports (the GPU kernels need nothing else); checked once per process."""
    global _available
    if _available is None:
        try:
            import cupy  # noqa: F401

            _available = True
        except (ImportError, OSError, RuntimeError):
            _available = False
    return _available


def _function(c_derivative: str, name: str, device: torch.device):
    """The kernel ``name`` on ``device`` (one NVRTC build per surrogate, loaded once per device)."""
    import cupy

    with _LOCK:
        key = (c_derivative, device.index)
        if key not in _MODULES:
            with cupy.cuda.Device(device.index):
                _MODULES[key] = cupy.RawModule(code=cuda_source(c_derivative), options=NVRTC_OPTIONS)
        return _MODULES[key].get_function(name)


def _ptr(t: torch.Tensor | None) -> np.uint64:
    return np.uint64(0 if t is None else t.data_ptr())


def _launch(kernel, device: torch.device, n: int, args) -> None:
    import cupy

    if n == 0:
        return
    with cupy.cuda.Device(device.index):
        # launch on torch's current stream, so the kernel runs in order with torch's work
        with cupy.cuda.ExternalStream(torch.cuda.current_stream(device).cuda_stream):
            kernel(((n + THREADS - 1) // THREADS,), (THREADS,), args)


def _scalars(T, N, k, scalars, mode):
    return (np.int64(T), np.int64(N), _ptr(k), *map(np.float64, scalars), np.int32(mode))


def lif_forward(x, state0, k, scalars, mode, c_derivative, saved):
    """Forward on contiguous CUDA ``x [T, N]`` and ``state0 [S, N]``, filling ``saved``.

    Returns ``(spikes [T, N], state_last [S, N], saved)``.
    """
    kernel = _function(c_derivative, "neuro_lif_fwd" + DTYPES[x.dtype], x.device)
    spikes, state_last = torch.empty_like(x), torch.empty_like(state0)
    T, N = x.shape
    args = (_ptr(x), _ptr(state0), _ptr(spikes), _ptr(state_last), _ptr(saved))
    _launch(kernel, x.device, N, args + _scalars(T, N, k, scalars, mode))
    return spikes, state_last, saved


def lif_backward(grad_s, grad_state_last, saved, state0, x, k, scalars, mode, c_derivative):
    """Reverse pass; returns ``(grad_x [T, N], grad_state0 [S, N], grad_k per neuron (float32) or None)``."""
    kernel = _function(c_derivative, "neuro_lif_bwd" + DTYPES[state0.dtype], state0.device)
    T, N = saved.shape[-2:]
    grad_x = torch.empty((T, N), dtype=state0.dtype, device=state0.device)
    grad_state0 = torch.empty_like(state0)
    grad_k = torch.empty(N, dtype=torch.float32, device=state0.device) if k is not None else None
    ins = (grad_s, grad_state_last, saved, state0, x, grad_x, grad_state0, grad_k)
    _launch(kernel, state0.device, N, tuple(map(_ptr, ins)) + _scalars(T, N, k, scalars, mode))
    return grad_x, grad_state0, grad_k
