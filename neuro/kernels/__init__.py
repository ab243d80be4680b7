"""Backend dispatch for multi-step neurons: the plain-torch reference and the fused kernels.

``backend`` is one of

* ``"torch"``: the reference, a Python loop over the single-step function;
* ``"cpu"``: a fused C kernel (built with gcc on first use, cached under ``~/.cache/ashnet-neuro``);
* ``"cupy"``: the same kernel source compiled for CUDA by NVRTC through CuPy;
* ``"auto"``: ``"cupy"`` for CUDA tensors when CuPy imports, ``"cpu"`` for float32/float64 CPU
  tensors when the kernel builds, else ``"torch"``.

IF, LIF and ParametricLIF have fused kernels; ALIF and CubaLIF run the reference under ``"auto"``
and reject ``"cpu"``/``"cupy"``. Dispatch happens here, once, for every neuron.

Technique, chosen by measurement (T=16, B=32, N=4096, float32, forward+backward on 2 cores; see
``benchmarks/README.md``): one C source with the time loop inside the kernel, vectorised over a
block of neighbouring neurons, reads and writes each element once in each direction. The
alternative, ``torch.compile`` of the unrolled update, took minutes to compile per shape and
variant and ran 1.5 to 2 times slower. The C source is shared with the CUDA path, so CI (no GPU)
tests the GPU's per-element math.

Memory (``memory=``): ``"exact"`` keeps the pre-spike potential ``H`` for backward (4 bytes per
neuron-step in float32) and recomputes the spikes from it, so gradients equal the reference's up
to rounding. ``"lean"`` keeps ``H - V_th`` in bfloat16 (2 bytes per neuron-step); its sign is the
spike, so the spikes used in backward are exact, and only the surrogate's argument is rounded:
input gradients differ from exact mode by about 1e-3 (relative L2 norm). ParametricLIF also
keeps its input and ``V_0``, which the leak's gradient needs.

float16/bfloat16: the CPU kernel (explicit ``backend="cpu"``) computes in float32 and rounds each
operation to the input's precision as torch's CPU kernels do, so the spikes are bit-equal too.
The CUDA kernels do the same with torch's CUDA rounding rules; they are tested on the CPU through
an emulation of the CUDA intrinsics and have not yet been run on a GPU.
"""

from __future__ import annotations

import warnings

import torch

from ..functional.common import LIFState, run_steps
from ..functional.lif import IFParameters, LIFParameters, ParametricLIFParameters
from ..validation import check_neuron_input, check_state_shape
from . import cpu, cuda, ops  # noqa: F401  (ops registers torch.ops.neuro.*)
from .source import KIND_IF, KIND_LIF, KIND_PLIF, MODE_DECAY, MODE_DETACH, MODE_LEAN, MODE_NO_SAVE, MODE_SOFT

__all__ = ["BACKENDS", "MEMORY_MODES", "check_backend", "run_multi_step", "resolve_backend"]

BACKENDS = ("torch", "cpu", "cupy", "auto")
MEMORY_MODES = ("exact", "lean")
_FUSED_KINDS = {IFParameters: KIND_IF, LIFParameters: KIND_LIF, ParametricLIFParameters: KIND_PLIF}
_CPU_DTYPES = (torch.float32, torch.float64)
_warned_no_cpu_kernel = False


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _cpu_kernel_usable(p, dtype: torch.dtype) -> bool:
    """Whether the CPU kernel for ``p``'s surrogate builds; warns once (and only once) if not."""
    global _warned_no_cpu_kernel
    if torch.compiler.is_compiling():  # building is not traceable; it happens inside the op
        return not _warned_no_cpu_kernel
    try:
        cpu.load_library(p.surrogate.c_derivative, dtype)
        return True
    except cpu.KernelBuildError as err:
        if not _warned_no_cpu_kernel:
            first_line = str(err).splitlines()[0]
            warnings.warn(
                f"neuro: fused CPU kernel unavailable ({first_line}); using backend='torch'", stacklevel=3
            )
            _warned_no_cpu_kernel = True
        return False


def resolve_backend(backend: str, p, x: torch.Tensor) -> str:
    """The backend that will run: ``"torch"``, ``"cpu"`` or ``"cupy"``; raises if ``backend`` cannot."""
    check_backend(backend)
    if backend == "torch":
        return "torch"
    fused = type(p) in _FUSED_KINDS
    if backend == "auto":
        if fused and x.is_cuda and x.dtype in cuda.DTYPES and cuda.available():
            return "cupy"
        if fused and x.device.type == "cpu" and x.dtype in _CPU_DTYPES and _cpu_kernel_usable(p, x.dtype):
            return "cpu"
        return "torch"
    if not fused:
        raise ValueError(
            f"backend {backend!r} has kernels for IF, LIF and ParametricLIF only, not {type(p).__name__}; "
            "use backend='auto' or 'torch'"
        )
    if backend == "cpu":
        if x.device.type != "cpu":
            raise ValueError(f"backend 'cpu' needs CPU tensors, got one on {x.device}; use 'cupy' or 'auto'")
        if x.dtype not in cpu.VARIANTS:
            raise ValueError(f"backend 'cpu' supports float16, bfloat16, float32 and float64, got {x.dtype}")
        return "cpu" if _cpu_kernel_usable(p, x.dtype) else "torch"
    if not x.is_cuda:
        raise ValueError(f"backend 'cupy' needs CUDA tensors, got one on {x.device}; use 'cpu' or 'auto'")
    if x.dtype not in cuda.DTYPES:
        raise ValueError(f"backend 'cupy' supports float32, float16 and bfloat16, got {x.dtype}")
    if not cuda.available():
        raise ValueError("backend 'cupy' needs CuPy: pip install cupy-cuda12x")
    return "cupy"


def run_multi_step(step, x_seq, state, p, backend: str = "torch", memory: str = "exact"):
    """Run ``step`` over the time axis of ``x_seq`` with the chosen backend.

    Parameters
    ----------
    step : callable
        The single-step function (``if_step``, ``lif_step``, ...), used by the ``"torch"`` backend.
    x_seq : torch.Tensor
        Input ``[T, B, ...]``.
    state : NamedTuple or None
        The state after the previous chunk, or ``None`` to start at rest.
    p : FireParameters
        The neuron's parameters; their type selects the fused kernel.
    backend : str
        ``"torch"``, ``"cpu"``, ``"cupy"`` or ``"auto"`` (see the module docstring).
    memory : str
        ``"exact"`` or ``"lean"`` (what the fused backward keeps; the reference ignores it).

    Returns
    -------
    (torch.Tensor, NamedTuple)
        Spikes ``[T, B, ...]`` and the final state.
    """
    if memory not in MEMORY_MODES:
        raise ValueError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")
    if backend == "torch" and memory == "lean":
        raise ValueError("memory='lean' needs a fused backend ('cpu', 'cupy' or 'auto'), not 'torch'")
    check_neuron_input(x_seq, "m")
    if resolve_backend(backend, p, x_seq) == "torch":
        return run_steps(step, x_seq, state, p)
    return _fused_multi_step(x_seq, state, p, memory == "lean")


def _fused_multi_step(x_seq, state, p, lean: bool):
    check_state_shape(state, x_seq.shape[1:])
    kind = _FUSED_KINDS[type(p)]
    soft = p.v_reset is None
    decay = getattr(p, "decay_input", False)
    mode = kind | MODE_DECAY * decay | MODE_SOFT * soft | MODE_DETACH * p.detach_reset | MODE_LEAN * lean
    x = x_seq.reshape(x_seq.shape[0], -1).contiguous()
    if state is None:
        v0 = torch.full(x.shape[1:], p.leak_target, dtype=x.dtype, device=x.device)
    elif state.v.device != x.device:
        raise ValueError(f"state is on {state.v.device} but the input on {x.device}; call neuro.reset(model)")
    else:
        v0 = state.v.reshape(-1).to(x.dtype).contiguous()
    k = p.w.sigmoid().to(x.device) if kind == KIND_PLIF else None
    needs_grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, v0, k))
    if not needs_grad:  # inference: keep nothing for a backward that will not run
        mode = mode & ~MODE_LEAN | MODE_NO_SAVE
    tau = float(p.tau) if kind == KIND_LIF else 1.0
    v_reset = 0.0 if soft else float(p.v_reset)
    spikes, v_last, _ = torch.ops.neuro.lif_forward(
        x, v0, k, tau, float(p.v_threshold), v_reset, mode, p.surrogate.c_derivative
    )
    return spikes.reshape(x_seq.shape), LIFState(v_last.reshape(x_seq.shape[1:]))
