"""The CUDA kernels: their source run on the CPU through an emulation of the CUDA intrinsics, and on a GPU.

The emulation compiles :func:`neuro.kernels.source.cuda_kernels` (everything but the intrinsics)
with g++, one "thread" per call, so CI without a GPU checks the CUDA-only code: the per-thread
loops and the float16/bfloat16 loads, stores and per-operation rounding. Scalars are chosen
exactly representable in every dtype, where torch's CPU and CUDA kernels round alike.
"""

import contextlib
import ctypes
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from neuro import functional as F
from neuro.functional.common import run_steps
from neuro.kernels import cuda, run_multi_step
from neuro.kernels.source import (
    KIND_IF,
    KIND_LIF,
    KIND_PLIF,
    MODE_DECAY,
    MODE_DETACH,
    MODE_LEAN,
    MODE_SOFT,
    cuda_kernels,
)
from neuro.surrogate import ATan

EMULATED_INTRINSICS = r"""
#include <math.h>
#include <string.h>
struct EmuDim { unsigned int x; };
extern "C" { EmuDim blockIdx = {0}; }
static const EmuDim blockDim = {1}, threadIdx = {0};
#define __global__
#define DEVICE static inline
static inline unsigned int __float_as_uint(float f) { unsigned int u; memcpy(&u, &f, 4); return u; }
static inline float __uint_as_float(unsigned int u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned short f16_from_float(float f)
{
    _Float16 h = (_Float16)f;
    unsigned short u;
    memcpy(&u, &h, 2);
    return u;
}
static inline float float_from_f16(unsigned short u) { _Float16 h; memcpy(&h, &u, 2); return (float)h; }
"""

DTYPES = {torch.float32: "_f32", torch.float16: "_f16", torch.bfloat16: "_bf16"}

# (name, params, kind, mode bits)
CONFIGS = [
    ("LIF-hard", F.LIFParameters(tau=2.0, v_reset=-0.125), KIND_LIF | MODE_DECAY),
    (
        "LIF-soft-detach",
        F.LIFParameters(tau=4.0, v_reset=None, decay_input=False, detach_reset=True),
        KIND_LIF,
    ),
    ("IF-hard", F.IFParameters(v_threshold=0.75), KIND_IF),
    ("PLIF-soft", F.ParametricLIFParameters(w=torch.tensor(0.0), v_reset=None), KIND_PLIF | MODE_DECAY),
]


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: cannot emulate the CUDA kernels")
    out = tmp_path_factory.mktemp("cuda_emulation")
    src, lib = out / "lif_cuda_emulated.cpp", out / "lif_cuda_emulated.so"
    src.write_text(EMULATED_INTRINSICS + cuda_kernels(ATan().c_derivative))
    cmd = [gxx, "-O1", "-std=c++17", "-ffp-contract=off", "-fPIC", "-shared", str(src), "-o", str(lib)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return ctypes.CDLL(str(lib))


def _launch(lib, name, N, *args):
    kernel = getattr(lib, name)
    block = ctypes.c_uint.in_dll(lib, "blockIdx")
    scalars = [ctypes.c_longlong, ctypes.c_longlong, ctypes.c_void_p, ctypes.c_double, ctypes.c_double]
    n_ptrs = len(args) - 7
    kernel.argtypes = [ctypes.c_void_p] * n_ptrs + scalars + [ctypes.c_double, ctypes.c_int]
    for n in range(N):
        block.value = n
        kernel(*args)


def _ptr(t):
    return None if t is None else t.data_ptr()


def _emulated_run(lib, p, mode, x, v0, grad_s):
    """Forward and backward of the emulated CUDA kernels on [T, N] tensors."""
    T, N = x.shape
    sfx = DTYPES[x.dtype]
    k = p.w.sigmoid().double().reshape(1) if isinstance(p, F.ParametricLIFParameters) else None
    tau = float(getattr(p, "tau", 1.0))
    vr = 0.0 if p.v_reset is None else p.v_reset
    scalars = (T, N, _ptr(k), tau, p.v_threshold, vr, mode)
    spikes, v_last = torch.empty_like(x), torch.empty_like(v0)
    saved = torch.empty(x.shape, dtype=torch.bfloat16 if mode & MODE_LEAN else x.dtype)
    _launch(lib, "neuro_lif_fwd" + sfx, N, *map(_ptr, (x, v0, spikes, v_last, saved)), *scalars)
    grad_x, grad_v0, grad_k = torch.empty_like(x), torch.empty_like(v0), torch.empty(N)
    ptrs = (grad_s, None, saved, v0, x, grad_x, grad_v0, grad_k)
    _launch(lib, "neuro_lif_bwd" + sfx, N, *map(_ptr, ptrs), *scalars)
    return spikes, v_last, grad_x, grad_v0


def _mode(p, kind):
    return kind | MODE_SOFT * (p.v_reset is None) | MODE_DETACH * p.detach_reset


STEPS = {F.IFParameters: F.if_step, F.LIFParameters: F.lif_step, F.ParametricLIFParameters: F.plif_step}


@pytest.mark.parametrize("lean", [False, True], ids=["exact", "lean"])
@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
@pytest.mark.parametrize("name,p,kind", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_emulated_cuda_kernels_match_the_reference(emulated, name, p, kind, dtype, lean):
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(6, 2, 15, generator=g) + 0.6).to(dtype)
    v0 = torch.zeros(2, 15, dtype=dtype)
    grad_s = torch.randn(x.shape, generator=g).to(dtype)
    ref_spikes, ref_state = run_steps(STEPS[type(p)], x, F.LIFState(v0), p)
    mode = _mode(p, kind) | MODE_LEAN * lean
    spikes, v_last, grad_x, grad_v0 = _emulated_run(
        emulated, p, mode, x.reshape(6, 30), v0.reshape(30), grad_s
    )
    assert torch.equal(spikes.reshape(x.shape), ref_spikes)
    assert torch.equal(v_last.reshape(v0.shape), ref_state.v)
    # gradients: the fused CPU kernel computes them in float32 with the same formulas
    xc = x.clone().requires_grad_()
    out, _ = run_multi_step(STEPS[type(p)], xc, F.LIFState(v0), p, "cpu", "lean" if lean else "exact")
    (want,) = torch.autograd.grad((out * grad_s).sum(), xc)
    tol = {torch.float32: 1e-5, torch.float16: 1e-3, torch.bfloat16: 1e-2}[dtype]
    torch.testing.assert_close(grad_x.reshape(x.shape).float(), want.float(), rtol=tol, atol=tol)


class _EmulatedFunction:
    """Stands in for a CuPy kernel: runs the emulated kernel once per thread of the grid."""

    _CTYPES = {np.uint64: ctypes.c_void_p, np.int64: ctypes.c_longlong, np.float64: ctypes.c_double,
               np.int32: ctypes.c_int}  # fmt: skip

    def __init__(self, lib, name):
        self.kernel, self.block = (
            getattr(emulated_lib := lib, name),
            ctypes.c_uint.in_dll(emulated_lib, "blockIdx"),
        )

    def __call__(self, grid, block, args):
        self.kernel.argtypes = [self._CTYPES[type(a)] for a in args]
        values = [int(a) or None if isinstance(a, np.uint64) else a.item() for a in args]
        for n in range(grid[0] * block[0]):  # the kernel returns early for n >= N
            self.block.value = n
            self.kernel(*values)


def _fake_cupy(lib, compiled):
    class RawModule:
        def __init__(self, code, options):
            assert "--fmad=false" in options
            compiled.append(code)

        def get_function(self, name):
            return _EmulatedFunction(lib, name)

    context = contextlib.nullcontext
    cuda_ns = types.SimpleNamespace(Device=lambda index: context(), ExternalStream=lambda ptr: context())
    return types.SimpleNamespace(RawModule=RawModule, cuda=cuda_ns)


@pytest.mark.parametrize("lean", [False, True], ids=["exact", "lean"])
@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
def test_cupy_glue_launches_the_kernels_with_the_right_arguments(emulated, monkeypatch, dtype, lean):
    """neuro.kernels.cuda end to end, with CuPy replaced by the emulated kernels and CPU tensors."""
    compiled = []
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(emulated, compiled))
    monkeypatch.setattr(cuda, "_MODULES", {})
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device: types.SimpleNamespace(cuda_stream=0))
    p = F.ParametricLIFParameters(w=torch.tensor(0.0, requires_grad=True), v_reset=-0.125)
    mode = KIND_PLIF | MODE_DECAY | MODE_LEAN * lean
    g = torch.Generator().manual_seed(5)
    x = (torch.randn(5, 40, generator=g) + 0.6).to(dtype)
    v0, grad_s = torch.zeros(40, dtype=dtype), torch.randn(5, 40, generator=g).to(dtype)
    k = torch.tensor([0.5], dtype=torch.float64)
    saved = torch.empty(x.shape, dtype=torch.bfloat16 if lean else dtype)
    spikes, v_last, saved = cuda.lif_forward(x, v0, k, 1.0, 1.0, -0.125, mode, ATan().c_derivative, saved)
    grad_x, grad_v0, grad_k = cuda.lif_backward(grad_s, None, saved, v0, x, k, 1.0, 1.0, -0.125, mode,
                                                ATan().c_derivative)  # fmt: skip
    assert len(compiled) == 1  # one NVRTC module per surrogate and device

    ref_spikes, ref_state = run_steps(F.plif_step, x.unsqueeze(1), F.LIFState(v0.unsqueeze(0)), p)
    assert torch.equal(spikes, ref_spikes.squeeze(1)) and torch.equal(v_last, ref_state.v.squeeze(0))
    xc, wc = x.clone().requires_grad_(), p.w
    out, _ = run_multi_step(F.plif_step, xc, F.LIFState(v0), p, "cpu", "lean" if lean else "exact")
    want_x, want_w = torch.autograd.grad((out * grad_s).sum(), (xc, wc))
    tol = {torch.float32: 1e-5, torch.float16: 1e-3, torch.bfloat16: 1e-2}[dtype]
    torch.testing.assert_close(grad_x.float(), want_x.float(), rtol=tol, atol=tol)
    # dL/dw = sum_n dL/dk_n * k (1 - k) with k = 1/2
    torch.testing.assert_close(grad_k.sum() * 0.25, want_w.float(), rtol=max(tol, 1e-4), atol=1e-4)


gpu = pytest.mark.skipif(
    not (torch.cuda.is_available() and cuda.available()), reason="needs a CUDA device and CuPy (cupy-cuda12x)"
)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
@pytest.mark.parametrize("name,p,kind", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_cupy_backend_matches_torch_on_the_gpu(name, p, kind, dtype):
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(8, 4, 300, generator=g) + 0.6).to(dtype).cuda()
    if isinstance(p, F.ParametricLIFParameters):
        p = F.ParametricLIFParameters(
            w=p.w.cuda().requires_grad_(), v_reset=p.v_reset, decay_input=p.decay_input
        )
    results = {}
    for backend in ("torch", "cupy"):
        xc = x.clone().requires_grad_()
        spikes, state = run_multi_step(STEPS[type(p)], xc, None, p, backend)
        (grad,) = torch.autograd.grad((spikes * torch.linspace(-1, 1, spikes.numel(), device="cuda").reshape(
            spikes.shape).to(dtype)).sum() + state.v.float().sum(), xc)  # fmt: skip
        results[backend] = (spikes, state.v, grad)
    assert torch.equal(results["cupy"][0], results["torch"][0])
    assert torch.equal(results["cupy"][1], results["torch"][1])
    tol = {torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 5e-2}[dtype]
    torch.testing.assert_close(results["cupy"][2].float(), results["torch"][2].float(), rtol=tol, atol=tol)


@pytest.mark.gpu
@gpu
def test_auto_uses_cupy_for_cuda_tensors():
    from neuro.kernels import resolve_backend

    assert resolve_backend("auto", F.LIFParameters(), torch.zeros(2, 2, device="cuda")) == "cupy"
