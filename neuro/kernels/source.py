"""Kernel source text: one surrogate baked into lif_core.h plus the CPU loops or the CUDA kernels.

The same per-element math (``lif_core.h``) is compiled by gcc for the CPU and by NVRTC for CUDA,
so the CPU tests exercise the logic the GPU runs. Only the surrogate is compiled in; the neuron
kind, reset, ``decay_input``, ``detach_reset`` and memory mode are runtime ``mode`` bits, and the
neuron's constants are the :data:`SCALARS` passed with each call.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent

# The neuron kind is the low three bits of ``mode``; the flags sit above it.
KIND_IF, KIND_LIF, KIND_PLIF, KIND_ALIF, KIND_CUBA = 0, 1, 2, 3, 4
KIND_MASK = 7
MODE_DECAY, MODE_SOFT, MODE_DETACH, MODE_LEAN = 8, 16, 32, 64
# nothing will run backward (no grad needed): the forward writes no saved tensor
MODE_NO_SAVE = 128
# State tensors per neuron (V; V and A for ALIF; V and I for CubaLIF) and saved rows per
# neuron-step (H; H and the threshold for ALIF).
STATE_ROWS = {KIND_IF: 1, KIND_LIF: 1, KIND_PLIF: 1, KIND_ALIF: 2, KIND_CUBA: 2}
SAVED_ROWS = {KIND_IF: 1, KIND_LIF: 1, KIND_PLIF: 1, KIND_ALIF: 2, KIND_CUBA: 1}
# The constants every kernel call takes, in order; a kind ignores those it does not use.
# tau: LIF/ALIF tau, CubaLIF tau_mem; tau2: ALIF tau_adapt, CubaLIF tau_syn;
# c1: ALIF beta, CubaLIF v_leak; c2, c3: CubaLIF r and w_in.
SCALARS = ("tau", "v_threshold", "v_reset", "tau2", "c1", "c2", "c3")

# Neurons per CPU tile, at most: each thread walks time over one contiguous tile of its share of
# the neurons, so every row of a tile is a long sequential stream for the prefetcher.
CPU_TILE = 1 << 16
# Fewer neuron-steps than this run on one thread (as torch does below its grain size): waking a
# team costs more than it saves, and on a busy machine one late thread stalls the rest.
CPU_PARALLEL_MIN = 1 << 16

_COMMON = f"""
#define KIND_IF {KIND_IF}
#define KIND_LIF {KIND_LIF}
#define KIND_PLIF {KIND_PLIF}
#define KIND_ALIF {KIND_ALIF}
#define KIND_CUBA {KIND_CUBA}
#define KIND_MASK {KIND_MASK}
#define MODE_DECAY {MODE_DECAY}
#define MODE_SOFT {MODE_SOFT}
#define MODE_DETACH {MODE_DETACH}
#define MODE_LEAN {MODE_LEAN}
#define MODE_NO_SAVE {MODE_NO_SAVE}
"""

_CPU_PRELUDE = """
#include <math.h>
#include <stdint.h>
#include <string.h>
#define DEVICE static inline __attribute__((always_inline))
#define DIV(a, c) ((a) / p->c) /* torch's CPU kernels divide by a Python scalar */
#define SCALAR_ADD(c) RND(c) /* torch's CPU add/sub round a scalar to the input dtype; mul/div do not */
#define SCALAR_MUL(c) (c)
#define TILE {tile}
#define PARALLEL_MIN {parallel_min}

static inline uint16_t bf16_from_float(float f)
{{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}}

static inline float float_from_bf16(uint16_t b)
{{
    const uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}}
"""

# CUDA intrinsics: what an emulation on the CPU must replace (see tests/neuro/test_kernels_cupy.py).
CUDA_INTRINSICS = """
#define DEVICE __device__ __forceinline__

DEVICE unsigned short f16_from_float(float f)
{
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

DEVICE float float_from_f16(unsigned short h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
"""

_CUDA_SHARED = """
#define DIV(a, c) ((a) * p->inv_##c) /* torch's CUDA kernels multiply by the scalar's reciprocal */
#define SCALAR_ADD(c) RND(c) /* torch's CUDA kernels read scalars cast to the input dtype */
#define SCALAR_MUL(c) RND(c)
#define REAL float
#define SIGMOID(v) (1.0f / (1.0f + expf(-(v))))

DEVICE unsigned short bf16_from_float(float f)
{
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

DEVICE float float_from_bf16(unsigned short b) { return __uint_as_float(((unsigned int)b) << 16); }
"""

# Storage types of the CUDA kernels: (suffix, STORAGE, LOAD(v), STORE(v), RND(a)).
CUDA_STORAGE = {
    "f32": ("float", "(v)", "(v)", "(a)"),
    "f16": ("unsigned short", "float_from_f16(v)", "f16_from_float(v)", "float_from_f16(f16_from_float(a))"),
    "bf16": (
        "unsigned short",
        "float_from_bf16(v)",
        "bf16_from_float(v)",
        "float_from_bf16(bf16_from_float(a))",
    ),
}


def _read(name: str) -> str:
    return (HERE / name).read_text()


def double_expression(expr: str) -> str:
    """The float C expression ``expr`` rewritten for doubles (``expf`` -> ``exp``, ``2.0f`` -> ``2.0``)."""
    expr = re.sub(r"\b(exp|fabs|fmax)f\(", r"\1(", expr)
    return re.sub(r"(?<=[0-9.])f\b", "", expr)


# CPU variants: compute type, name suffix, and the rounding that mimics torch's per-operation
# rounding for half-precision inputs (the kernel then reads and writes float32 copies).
CPU_VARIANTS = {
    "f32": ("float", "(a)"),
    "f64": ("double", "(a)"),
    "f16": ("float", "((float)(_Float16)(a))"),
    "bf16": ("float", "float_from_bf16(bf16_from_float(a))"),
}


def cpu_source(c_derivative: str, variant: str, kind: int) -> str:
    """C source of the CPU kernels ``neuro_lif_fwd_<variant>``/``neuro_lif_bwd_<variant>`` for one kind.

    ``variant`` is a key of :data:`CPU_VARIANTS`. Each (surrogate, variant, kind) is its own
    library, so a float32 LIF model never waits for the other builds.
    """
    real, rnd = CPU_VARIANTS[variant]
    if real == "float":
        sigmoid, sg = "(1.0f / (1.0f + expf(-(v))))", c_derivative
    else:
        sigmoid, sg = "(1.0 / (1.0 + exp(-(v))))", double_expression(c_derivative)
    defines = (
        f"#define REAL {real}\n#define SFX _{variant}\n#define RND(a) {rnd}\n"
        f"#define SIGMOID(v) {sigmoid}\n#define SG(x) ({sg})\n#define KIND_ONLY {kind}\n"
    )
    return "\n".join(
        [
            _COMMON,
            _CPU_PRELUDE.format(tile=CPU_TILE, parallel_min=CPU_PARALLEL_MIN),
            defines,
            _read("lif_core.h"),
            _read("lif_cpu.c"),
        ]
    )


def cuda_kernels(c_derivative: str) -> str:
    """The CUDA kernels for float32, float16 and bfloat16 storage (compute in float), without intrinsics."""
    core, kernels = _read("lif_core.h"), _read("lif_cuda.cu")
    parts = [_COMMON, _CUDA_SHARED, f"#define SG(x) ({c_derivative})\n"]
    for sfx, (storage, load, store, rnd) in CUDA_STORAGE.items():
        parts.append(
            f"#define SFX _{sfx}\n#define STORAGE {storage}\n#define LOAD(v) {load}\n"
            f"#define STORE(v) {store}\n#define RND(a) {rnd}\n"
        )
        parts += [core, kernels, "#undef SFX\n#undef STORAGE\n#undef LOAD\n#undef STORE\n#undef RND\n"]
    return "\n".join(parts)


def cuda_source(c_derivative: str) -> str:
    """CUDA source for NVRTC: the intrinsics, then :func:`cuda_kernels`."""
    return CUDA_INTRINSICS + cuda_kernels(c_derivative)
