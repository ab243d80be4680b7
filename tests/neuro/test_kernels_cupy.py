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
from neuro.functional import multi_step
from neuro.functional.common import FUSED, run_steps
from neuro.kernels import cuda
from neuro.kernels.source import (
    KIND_ALIF,
    KIND_CUBA,
    KIND_IF,
    KIND_LIF,
    KIND_PLIF,
    MODE_DECAY,
    MODE_DETACH,
    MODE_LEAN,
    MODE_SOFT,
    SAVED_ROWS,
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
    (
        "ALIF-hard",
        F.ALIFParameters(tau=2.0, tau_adapt=4.0, beta=0.25, v_reset=-0.125),
        KIND_ALIF | MODE_DECAY,
    ),
    ("ALIF-soft", F.ALIFParameters(tau=2.0, tau_adapt=8.0, beta=0.5, v_reset=None), KIND_ALIF | MODE_DECAY),
    (
        "CubaLIF-hard",
        F.CubaLIFParameters(tau_syn=2.0, tau_mem=4.0, v_leak=0.125, r=1.5, w_in=2.0, v_reset=-0.125),
        KIND_CUBA,
    ),
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


N_SCALARS = 7  # tau, v_threshold, v_reset, tau2, c1, c2, c3


def _launch(lib, name, N, *args):
    kernel = getattr(lib, name)
    block = ctypes.c_uint.in_dll(lib, "blockIdx")
    scalars = [ctypes.c_longlong, ctypes.c_longlong, ctypes.c_void_p] + [ctypes.c_double] * N_SCALARS
    n_ptrs = len(args) - len(scalars) - 1
    kernel.argtypes = [ctypes.c_void_p] * n_ptrs + scalars + [ctypes.c_int]
    for n in range(N):
        block.value = n
        kernel(*args)


def _ptr(t):
    return None if t is None else t.data_ptr()


def _emulated_run(lib, p, mode, x, state0, grad_s):
    """Forward and backward of the emulated CUDA kernels on x [T, N] and state0 [S, N]."""
    T, N = x.shape
    sfx = DTYPES[x.dtype]
    spec = FUSED[type(p)].spec(p)
    k = None if spec.k is None else spec.k.double().reshape(1)
    vr = 0.0 if p.v_reset is None else p.v_reset
    scalars = (T, N, _ptr(k), spec.tau, p.v_threshold, vr, spec.tau2, spec.c1, spec.c2, spec.c3, mode)
    spikes, state_last = torch.empty_like(x), torch.empty_like(state0)
    rows = SAVED_ROWS[mode & 7]
    saved = torch.empty((rows, *x.shape), dtype=torch.bfloat16 if mode & MODE_LEAN else x.dtype)
    _launch(lib, "neuro_lif_fwd" + sfx, N, *map(_ptr, (x, state0, spikes, state_last, saved)), *scalars)
    grad_x, grad_state0, grad_k = torch.empty_like(x), torch.empty_like(state0), torch.empty(N)
    ptrs = (grad_s, None, saved, state0, x, grad_x, grad_state0, grad_k)
    _launch(lib, "neuro_lif_bwd" + sfx, N, *map(_ptr, ptrs), *scalars)
    return spikes, state_last, grad_x, grad_state0


def _mode(p, kind):
    return kind | MODE_SOFT * (p.v_reset is None) | MODE_DETACH * p.detach_reset


STEPS = {
    F.IFParameters: F.if_step,
    F.LIFParameters: F.lif_step,
    F.ParametricLIFParameters: F.plif_step,
    F.ALIFParameters: F.alif_step,
    F.CubaLIFParameters: F.cuba_lif_step,
}


@pytest.mark.parametrize("lean", [False, True], ids=["exact", "lean"])
@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
@pytest.mark.parametrize("name,p,kind", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_emulated_cuda_kernels_match_the_reference(emulated, name, p, kind, dtype, lean):
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(6, 2, 15, generator=g) + 0.6).to(dtype)
    state = FUSED[type(p)].initial_state(x[0], p)
    if len(state) == 2:  # a non-zero adaptation or current, exactly representable in every dtype
        state = type(state)(state.v, torch.full_like(x[0], 0.25))
    grad_s = torch.randn(x.shape, generator=g).to(dtype)
    ref_spikes, ref_state = run_steps(STEPS[type(p)], x, state, p)
    mode = _mode(p, kind) | MODE_LEAN * lean
    state0 = torch.stack([t.reshape(30) for t in state])
    spikes, state_last, grad_x, _ = _emulated_run(emulated, p, mode, x.reshape(6, 30), state0, grad_s)
    assert torch.equal(spikes.reshape(x.shape), ref_spikes)
    for i, want in enumerate(ref_state):
        assert torch.equal(state_last[i].reshape(want.shape), want)
    # gradients: the fused CPU kernel computes them in float32 with the same formulas
    xc = x.clone().requires_grad_()
    out, _ = multi_step(STEPS[type(p)], xc, state, p, "cpu", "lean" if lean else "exact")
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
    saved = torch.empty((1, *x.shape), dtype=torch.bfloat16 if lean else dtype)
    scalars = [1.0, 1.0, -0.125, 1.0, 0.0, 0.0, 0.0]
    spikes, v_last, saved = cuda.lif_forward(x, v0[None], k, scalars, mode, ATan().c_derivative, saved)
    grad_x, grad_v0, grad_k = cuda.lif_backward(grad_s, None, saved, v0[None], x, k, scalars, mode,
                                                ATan().c_derivative)  # fmt: skip
    assert len(compiled) == 1  # one NVRTC module per surrogate and device

    ref_spikes, ref_state = run_steps(F.plif_step, x.unsqueeze(1), F.LIFState(v0.unsqueeze(0)), p)
    assert torch.equal(spikes, ref_spikes.squeeze(1)) and torch.equal(v_last[0], ref_state.v.squeeze(0))
    xc, wc = x.clone().requires_grad_(), p.w
    out, _ = multi_step(F.plif_step, xc, F.LIFState(v0), p, "cpu", "lean" if lean else "exact")
    want_x, want_w = torch.autograd.grad((out * grad_s).sum(), (xc, wc))
    tol = {torch.float32: 1e-5, torch.float16: 1e-3, torch.bfloat16: 1e-2}[dtype]
    torch.testing.assert_close(grad_x.float(), want_x.float(), rtol=tol, atol=tol)
    # dL/dw = sum_n dL/dk_n * k (1 - k) with k = 1/2
    torch.testing.assert_close(grad_k.sum() * 0.25, want_w.float(), rtol=max(tol, 1e-4), atol=1e-4)


gpu = pytest.mark.skipif(
    not (torch.cuda.is_available() and cuda.available()), reason="needs a CUDA device and CuPy (cupy-cuda13x)"
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
        spikes, state = multi_step(STEPS[type(p)], xc, None, p, backend)
        (grad,) = torch.autograd.grad((spikes * torch.linspace(-1, 1, spikes.numel(), device="cuda").reshape(
            spikes.shape).to(dtype)).sum() + sum(t.float().sum() for t in state), xc)  # fmt: skip
        results[backend] = (spikes, state, grad)
    assert torch.equal(results["cupy"][0], results["torch"][0])
    for got, want in zip(results["cupy"][1], results["torch"][1], strict=True):
        assert torch.equal(got, want)
    tol = {torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 5e-2}[dtype]
    torch.testing.assert_close(results["cupy"][2].float(), results["torch"][2].float(), rtol=tol, atol=tol)


@pytest.mark.gpu
@gpu
def test_auto_uses_cupy_for_cuda_tensors():
    assert F.resolve_backend("auto", F.LIFParameters(), torch.zeros(2, 2, device="cuda")) == "cupy"
