"""The CPU kernels: build the C source with gcc on first use, cache the library, call it via ctypes.

Libraries live in ``$NEURO_KERNEL_CACHE`` (default ``~/.cache/ashnet-neuro``) under
``<hash of source, flags, compiler and CPU>/lif.so``, written to a temporary name and moved into
place, so concurrent first uses are safe and later sessions start without compiling.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

from . import buffers
from .source import KIND_LIF, KIND_MASK, SCALARS, cpu_source

__all__ = ["KernelBuildError", "cache_dir", "load_library", "lif_forward", "lif_backward"]

# No fast-math and no FMA contraction: each operation rounds as torch's does, so spikes are bit-equal.
# -fno-trapping-math changes no value (only whether FP exception flags may be raised speculatively);
# without it, gcc kept a branch in the reverse loop (for `hard * s`) and did not vectorise it on
# AVX2 machines: 28 instead of 3.5 instructions per neuron-step (callgrind).
CFLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-fPIC", "-shared", "-std=c11"]
# Tried in order: the first set the compiler accepts wins (no -march=native on exotic targets,
# no OpenMP where the compiler lacks it: the kernels then run on one thread).
FLAG_LADDER = (["-march=native", "-fopenmp"], ["-fopenmp"], [])


class KernelBuildError(RuntimeError):
    """The C compiler is missing or failed; the message says which and how."""


def _compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")


def cache_dir() -> Path:
    """Where built libraries are kept: ``$NEURO_KERNEL_CACHE`` or ``~/.cache/ashnet-neuro``."""
    return Path(os.environ.get("NEURO_KERNEL_CACHE", Path.home() / ".cache" / "ashnet-neuro"))


def _cpu_id() -> str:
    """The CPU's feature flags: a library built with -march=native only runs where they match."""
    try:
        info = Path("/proc/cpuinfo").read_text()
        return next((line for line in info.splitlines() if line.startswith("flags")), platform.processor())
    except OSError:
        return platform.processor()


def _build(source: str, out: Path) -> None:
    cc = _compiler()
    if cc is None:
        raise KernelBuildError("no C compiler found (install gcc, or set CC)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        src, lib = Path(tmp) / "lif.c", Path(tmp) / "lif.so"
        src.write_text(source)
        for extra in FLAG_LADDER:
            cmd = [cc, *CFLAGS, *extra, str(src), "-o", str(lib), "-lm"]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode == 0:
                os.replace(lib, out)
                return
        raise KernelBuildError(f"{cc} failed to build the neuron kernels:\n{result.stderr[-2000:]}")


_LIBS: dict[tuple[str, torch.dtype, int], ctypes.CDLL] = {}
_LOCK = threading.Lock()
# Input dtype -> CPU variant (see source.CPU_VARIANTS). Half-precision inputs run on float32 copies
# with each operation rounded as torch rounds it.
VARIANTS = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}
# T, N, the PLIF leak, the SCALARS, mode, threads
_SCALARS = (
    [ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p] + [ctypes.c_double] * len(SCALARS) + [ctypes.c_int] * 2
)


def load_library(c_derivative: str, dtype: torch.dtype = torch.float32, kind: int = KIND_LIF) -> ctypes.CDLL:
    """The compiled kernels for one surrogate derivative, dtype and neuron kind, built on first use
    and cached on disk."""
    with _LOCK:
        if (c_derivative, dtype, kind) in _LIBS:
            return _LIBS[c_derivative, dtype, kind]
        variant = VARIANTS[dtype]
        source = cpu_source(c_derivative, variant, kind)
        key = "\n".join([source, repr((CFLAGS, FLAG_LADDER)), str(_compiler()), _cpu_id()])
        path = cache_dir() / hashlib.sha256(key.encode()).hexdigest()[:24] / "lif.so"
        try:
            if not path.exists():
                _build(source, path)
            lib = ctypes.CDLL(str(path))
        except OSError as err:
            raise KernelBuildError(f"cannot build or load {path} ({err}); set NEURO_KERNEL_CACHE") from err
        lib.forward = getattr(lib, "neuro_lif_fwd_" + variant)
        lib.forward.argtypes = [ctypes.c_void_p] * 5 + _SCALARS
        lib.backward = getattr(lib, "neuro_lif_bwd_" + variant)
        lib.backward.argtypes = [ctypes.c_void_p] * 8 + _SCALARS
        _LIBS[c_derivative, dtype, kind] = lib
        return lib


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the kernel reads and writes: float64 stays, everything else runs in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _as(t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    return None if t is None else t.to(dtype).contiguous()


def lif_forward(x, state0, k, scalars, mode, c_derivative, saved):
    """Forward on contiguous CPU ``x [T, N]`` and ``state0 [S, N]``, filling ``saved``.

    Returns ``(spikes [T, N], state_last [S, N], saved)``. Runs on ``torch.get_num_threads()`` threads.
    """
    fn = load_library(c_derivative, x.dtype, mode & KIND_MASK).forward
    real = compute_dtype(x.dtype)
    xr, s0 = _as(x, real), _as(state0, real)
    spikes, state_last = buffers.empty(xr.shape, real), torch.empty_like(s0)
    T, N = x.shape
    ptrs = map(_ptr, (xr, s0, spikes, state_last, saved))
    fn(*ptrs, T, N, _ptr(k), *scalars, mode, torch.get_num_threads())
    return spikes.to(x.dtype), state_last.to(x.dtype), saved


def lif_backward(grad_s, grad_state_last, saved, state0, x, k, scalars, mode, c_derivative):
    """The reverse pass; returns ``(grad_x [T, N], grad_state0 [S, N], grad_k [N] or None)``.

    ``grad_state_last`` may be ``None`` (no gradient reached it).
    """
    fn = load_library(c_derivative, state0.dtype, mode & KIND_MASK).backward
    real = compute_dtype(state0.dtype)
    T, N = saved.shape[-2:]
    grad_x = buffers.empty((T, N), real)
    grad_state0 = torch.empty(state0.shape, dtype=real)
    grad_k = torch.empty(N, dtype=real) if k is not None else None
    ins = (_as(grad_s, real), _as(grad_state_last, real), saved, _as(state0, real), _as(x, real))
    outs = (grad_x, grad_state0, grad_k)
    fn(*map(_ptr, ins + outs), T, N, _ptr(k), *scalars, mode, torch.get_num_threads())
    return grad_x.to(state0.dtype), grad_state0.to(state0.dtype), grad_k
