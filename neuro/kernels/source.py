"""Kernel source text: one surrogate baked into lif_core.h plus the CPU loops or the CUDA kernels.

The same per-element math (``lif_core.h``) is compiled by gcc for the CPU and by NVRTC for CUDA,
so the CPU tests exercise the logic the GPU runs. Only the surrogate is compiled in; the neuron
kind, reset, ``decay_input``, ``detach_reset`` and memory mode are runtime ``mode`` bits.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent

KIND_IF, KIND_LIF, KIND_PLIF = 0, 1, 2
MODE_DECAY, MODE_SOFT, MODE_DETACH, MODE_LEAN = 4, 8, 16, 32

# Neurons per CPU block: the SIMD loop runs over a block, the time loop around it.
CPU_BLOCK = 256

_COMMON = f"""
#define KIND_IF {KIND_IF}
#define KIND_LIF {KIND_LIF}
#define KIND_PLIF {KIND_PLIF}
#define MODE_DECAY {MODE_DECAY}
#define MODE_SOFT {MODE_SOFT}
#define MODE_DETACH {MODE_DETACH}
#define MODE_LEAN {MODE_LEAN}
"""

_CPU_PRELUDE = """
#include <math.h>
#include <stdint.h>
#include <string.h>
#define DEVICE static inline __attribute__((always_inline))
#define DIV_TAU(a) ((a) / p->tau)
#define RND(a) (a)
#define BLOCK {block}

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

_CUDA_PRELUDE = """
#define DEVICE __device__ __forceinline__
#define DIV_TAU(a) ((a) * p->inv_tau)
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


def cpu_source(c_derivative: str, real: str) -> str:
    """C source of the CPU kernels for ``real`` (``"float"`` or ``"double"``) and one surrogate derivative.

    The functions are ``neuro_lif_fwd_f32``/``neuro_lif_bwd_f32`` (or ``_f64``); each compute type is
    its own library, so a float32 model never waits for the double build.
    """
    if real == "float":
        sfx, sigmoid, sg = "_f32", "(1.0f / (1.0f + expf(-(v))))", c_derivative
    else:
        sfx, sigmoid, sg = "_f64", "(1.0 / (1.0 + exp(-(v))))", double_expression(c_derivative)
    defines = f"#define REAL {real}\n#define SFX {sfx}\n#define SIGMOID(v) {sigmoid}\n#define SG(x) ({sg})\n"
    return "\n".join(
        [_COMMON, _CPU_PRELUDE.format(block=CPU_BLOCK), defines, _read("lif_core.h"), _read("lif_cpu.c")]
    )


def cuda_source(c_derivative: str) -> str:
    """CUDA source of the kernels for float32, float16 and bfloat16 storage (compute in float)."""
    core, kernels = _read("lif_core.h"), _read("lif_cuda.cu")
    parts = [_COMMON, _CUDA_PRELUDE, f"#define SG(x) ({c_derivative})\n"]
    for sfx, (storage, load, store, rnd) in CUDA_STORAGE.items():
        parts.append(
            f"#define SFX _{sfx}\n#define STORAGE {storage}\n#define LOAD(v) {load}\n"
            f"#define STORE(v) {store}\n#define RND(a) {rnd}\n"
        )
        parts += [core, kernels, "#undef SFX\n#undef STORAGE\n#undef LOAD\n#undef STORE\n#undef RND\n"]
    return "\n".join(parts)
