"""Fused multi-step neuron kernels: which backend runs, and the call into the kernels.

``backend`` is one of

* ``"torch"``: the reference, a Python loop over the single-step function;
* ``"cpu"``: a fused C kernel (built with gcc on first use, cached under ``~/.cache/ashnet-neuro``);
* ``"cupy"``: the same kernel source compiled for CUDA by NVRTC through CuPy;
* ``"auto"``: ``"cupy"`` for CUDA tensors when CuPy imports, ``"cpu"`` for float32/float64 CPU
  tensors when the kernel builds, else ``"torch"``; also ``"torch"`` for a neuron without a
  kernel or a surrogate without a C expression (``c_derivative``).

IF, LIF, ParametricLIF, ALIF and CubaLIF have fused kernels. This package knows nothing of the
parameter classes: :mod:`neuro.functional` describes each neuron as a :class:`KernelSpec` and
dispatches, once, in ``neuro.functional.common.multi_step``.

Technique, chosen by measurement (T=16, B=32, N=4096, float32, forward+backward; see
``benchmarks/README.md``): one C source with the time loop inside the kernel, vectorised over a
tile of neighbouring neurons, reads and writes each element once in each direction. The
alternative, ``torch.compile`` of the unrolled update, took minutes to compile per shape and
variant and ran 1.5 to 2 times slower. The C source is shared with the CUDA path, so CI (no GPU)
tests the GPU's per-element math, and compiles the CUDA source with NVRTC.

Memory (``memory=``): ``"exact"`` keeps the pre-spike potential ``H`` for backward (4 bytes per
neuron-step in float32) and recomputes the spikes from it, so gradients equal the reference's up
to rounding. ``"lean"`` keeps ``H - V_th`` in bfloat16 (2 bytes per neuron-step); its sign is the
spike, so the spikes used in backward are exact, and only the surrogate's argument is rounded:
input gradients differ from exact mode by about 1e-3 (relative L2 norm). ParametricLIF also
keeps its input and ``V_0``, which the leak's gradient needs; ALIF also keeps its threshold
(4 bytes, or 2 in lean mode).

float16/bfloat16: the CPU kernel (explicit ``backend="cpu"``) computes in float32 and rounds each
operation to the input's precision as torch's CPU kernels do, so the spikes are bit-equal too.
The CUDA kernels do the same with torch's CUDA rounding rules; they are tested on the CPU through
an emulation of the CUDA intrinsics, compiled by NVRTC in the test suite, and have not yet been
run on a GPU.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

from . import cpu, cuda, ops  # noqa: F401  (ops registers torch.ops.neuro.*)
from .source import MODE_DECAY, MODE_DETACH, MODE_LEAN, MODE_NO_SAVE, MODE_SOFT

__all__ = [
    "BACKENDS",
    "MEMORY_MODES",
    "KernelSpec",
    "c_expression",
    "check_backend",
    "check_memory",
    "fused_multi_step",
    "select_backend",
]

BACKENDS = ("torch", "cpu", "cupy", "auto")
MEMORY_MODES = ("exact", "lean")
_CPU_DTYPES = (torch.float32, torch.float64)
_warned_no_cpu_kernel = False


class KernelSpec(NamedTuple):
    """A neuron as the fused kernels take it: its kind (``source.KIND_*``), fire rule and constants.

    ``v_reset=None`` is a soft reset. ``tau`` is LIF's and ALIF's time constant and CubaLIF's
    ``tau_mem``; ``tau2`` is ALIF's ``tau_adapt`` and CubaLIF's ``tau_syn``; ``c1`` is ALIF's
    ``beta`` and CubaLIF's ``v_leak``; ``c2`` and ``c3`` are CubaLIF's ``r`` and ``w_in``; ``k`` is
    ParametricLIF's leak ``sigmoid(w)``. ``c_derivative`` is ``None`` for a surrogate without a C
    expression.
    """

    kind: int
    c_derivative: str | None
    v_threshold: float
    v_reset: float | None
    detach_reset: bool
    decay_input: bool = False
    tau: float = 1.0
    tau2: float = 1.0
    c1: float = 0.0
    c2: float = 0.0
    c3: float = 0.0
    k: torch.Tensor | None = None


def c_expression(surrogate) -> str | None:
    """The surrogate derivative as C (``surrogate.c_derivative``), or ``None`` where it has none."""
    try:
        return surrogate.c_derivative
    except NotImplementedError:
        return None


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def check_memory(memory: str) -> None:
    if memory not in MEMORY_MODES:
        raise ValueError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")


def _cpu_kernel_usable(spec: KernelSpec, dtype: torch.dtype) -> bool:
    """Whether the CPU kernel for this neuron and surrogate builds; warns once (and only once) if not."""
    global _warned_no_cpu_kernel
    if torch.compiler.is_compiling():  # building is not traceable; it happens inside the op
        return not _warned_no_cpu_kernel
    try:
        cpu.load_library(spec.c_derivative, dtype, spec.kind)
        return True
    except cpu.KernelBuildError as err:
        if not _warned_no_cpu_kernel:
            first_line = str(err).splitlines()[0]
            warnings.warn(
                f"neuro: fused CPU kernel unavailable ({first_line}); using backend='torch'", stacklevel=4
            )
            _warned_no_cpu_kernel = True
        return False


def select_backend(
    backend: str, spec: KernelSpec | None, x: torch.Tensor, neuron: str = "this neuron"
) -> str:
    """The backend that will run: ``"torch"``, ``"cpu"`` or ``"cupy"``; raises if ``backend`` cannot.

    ``spec`` is ``None`` for a neuron without a fused kernel; ``neuron`` names it in errors.
    """
    check_backend(backend)
    if backend == "torch":
        return "torch"
    expr = None if spec is None else spec.c_derivative
    if backend == "auto":
        if expr is None:
            return "torch"
        if x.is_cuda and x.dtype in cuda.DTYPES and cuda.available():
            return "cupy"
        if x.device.type == "cpu" and x.dtype in _CPU_DTYPES and _cpu_kernel_usable(spec, x.dtype):
            return "cpu"
        return "torch"
    if spec is None:
        raise ValueError(
            f"backend {backend!r} has no fused kernel for {neuron}; use backend='auto' or 'torch'"
        )
    if expr is None:
        raise ValueError(
            f"backend {backend!r} needs a surrogate with a C expression (c_derivative), and {neuron} has "
            "one with no C expression; use backend='auto' or 'torch'"
        )
    if backend == "cpu":
        if x.device.type != "cpu":
            raise ValueError(f"backend 'cpu' needs CPU tensors, got one on {x.device}; use 'cupy' or 'auto'")
        if x.dtype not in cpu.VARIANTS:
            raise ValueError(f"backend 'cpu' supports float16, bfloat16, float32 and float64, got {x.dtype}")
        return "cpu" if _cpu_kernel_usable(spec, x.dtype) else "torch"
    if not x.is_cuda:
        raise ValueError(f"backend 'cupy' needs CUDA tensors, got one on {x.device}; use 'cpu' or 'auto'")
    if x.dtype not in cuda.DTYPES:
        raise ValueError(f"backend 'cupy' supports float32, float16 and bfloat16, got {x.dtype}")
    if not cuda.available():
        raise ValueError(
            "backend 'cupy' needs CuPy: pip install cupy-cuda13x (cupy-cuda12x for CUDA 12 torch)"
        )
    return "cupy"


def fused_multi_step(x_seq: torch.Tensor, state: tuple[torch.Tensor, ...], spec: KernelSpec, lean: bool):
    """Run the fused kernel over ``x_seq [T, B, ...]`` from ``state`` (one tensor per state field,
    each shaped like one step); returns ``(spikes, final state as a tuple of tensors)``."""
    for s in state:
        if s.device != x_seq.device:
            raise ValueError(
                f"state is on {s.device} but the input on {x_seq.device}; call neuro.reset(model)"
            )
    soft = spec.v_reset is None
    mode = (
        spec.kind
        | MODE_DECAY * spec.decay_input
        | MODE_SOFT * soft
        | MODE_DETACH * spec.detach_reset
        | MODE_LEAN * lean
    )
    x = x_seq.reshape(x_seq.shape[0], -1).contiguous()
    state0 = torch.stack([s.reshape(-1) for s in state]) if len(state) > 1 else state[0].reshape(1, -1)
    state0 = state0.to(x.dtype).contiguous()
    k = None if spec.k is None else spec.k.to(x.device)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (x, state0, k) if t is not None)
    if not needs_grad:  # inference: keep nothing for a backward that will not run
        mode = mode & ~MODE_LEAN | MODE_NO_SAVE
    scalars = [spec.tau, float(spec.v_threshold), 0.0 if soft else float(spec.v_reset)]
    scalars += [spec.tau2, spec.c1, spec.c2, spec.c3]
    scalars = [float(s) for s in scalars]
    spikes, state_last, _ = torch.ops.neuro.lif_forward(x, state0, k, scalars, mode, spec.c_derivative)
    step_shape = x_seq.shape[1:]
    return spikes.reshape(x_seq.shape), tuple(s.reshape(step_shape) for s in state_last.unbind(0))
