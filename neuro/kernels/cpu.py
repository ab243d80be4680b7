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

from .source import cpu_source

__all__ = ["KernelBuildError", "cache_dir", "load_library", "lif_forward", "lif_backward"]

# No fast-math and no FMA contraction: each operation rounds as torch's does, so spikes are bit-equal.
CFLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fPIC", "-shared", "-std=c11"]
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


_LIBS: dict[tuple[str, torch.dtype], ctypes.CDLL] = {}
_LOCK = threading.Lock()
# Input dtype -> CPU variant (see source.CPU_VARIANTS). Half-precision inputs run on float32 copies
# with each operation rounded as torch rounds it.
VARIANTS = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}
_SCALARS = [
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_void_p,
    ctypes.c_double,
    ctypes.c_double,
    ctypes.c_double,
]
_SCALARS.append(ctypes.c_int)


def load_library(c_derivative: str, dtype: torch.dtype = torch.float32) -> ctypes.CDLL:
    """The compiled kernels for one surrogate derivative and dtype, built on first use and cached on disk."""
    with _LOCK:
        if (c_derivative, dtype) in _LIBS:
            return _LIBS[c_derivative, dtype]
        variant = VARIANTS[dtype]
        source = cpu_source(c_derivative, variant)
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
        _LIBS[c_derivative, dtype] = lib
        return lib


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the kernel reads and writes: float64 stays, everything else runs in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _as(t: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    return None if t is None else t.to(dtype).contiguous()


def lif_forward(x, v0, k, tau, v_threshold, v_reset, mode, c_derivative, saved):
    """Forward on contiguous CPU ``x [T, N]``, filling ``saved``; returns ``(spikes, v_last, saved)``."""
    fn = load_library(c_derivative, x.dtype).forward
    real = compute_dtype(x.dtype)
    xr, v0r = _as(x, real), _as(v0, real)
    spikes, v_last = torch.empty_like(xr), torch.empty_like(v0r)
    T, N = x.shape
    fn(*map(_ptr, (xr, v0r, spikes, v_last, saved)), T, N, _ptr(k), tau, v_threshold, v_reset, mode)
    return spikes.to(x.dtype), v_last.to(x.dtype), saved


def lif_backward(grad_s, grad_v_last, saved, v0, x, k, tau, v_threshold, v_reset, mode, c_derivative):
    """Run the reverse pass; returns ``(grad_x, grad_v0, grad_k per neuron or None)``."""
    fn = load_library(c_derivative, v0.dtype).backward
    real = compute_dtype(v0.dtype)
    grad_x = torch.empty(saved.shape, dtype=real)
    grad_v0 = torch.empty(v0.shape, dtype=real)
    grad_k = torch.empty(v0.shape, dtype=real) if k is not None else None
    T, N = saved.shape
    ins = (_as(grad_s, real), _as(grad_v_last, real), saved, _as(v0, real), _as(x, real))
    fn(*map(_ptr, ins + (grad_x, grad_v0, grad_k)), T, N, _ptr(k), tau, v_threshold, v_reset, mode)
    return grad_x.to(v0.dtype), grad_v0.to(v0.dtype), grad_k
