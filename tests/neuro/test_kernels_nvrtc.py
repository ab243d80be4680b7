"""The CUDA kernels compiled by the real NVRTC (the ``nvidia-cuda-nvrtc`` wheel through ``cuda-bindings``).

No GPU is needed: NVRTC compiles :func:`neuro.kernels.source.cuda_source` to PTX for sm_80 (A100)
and sm_90 (H100) with the options the CuPy path uses, so a compile error in ``lif_core.h`` or
``lif_cuda.cu`` fails here, in ``make test``, before any GPU sees it.
"""

import re
import sys

import pytest

from neuro import surrogate as S
from neuro.kernels.cuda import DTYPES, NVRTC_OPTIONS
from neuro.kernels.source import cuda_source

if not sys.platform.startswith("linux"):
    pytest.skip("the nvidia-cuda-nvrtc wheel exists for Linux only", allow_module_level=True)

from cuda.bindings import nvrtc  # noqa: E402  (setup.cfg's test extra installs it on Linux)

ARCHS = ("compute_80", "compute_90")
SURROGATES = [
    S.ATan(),
    S.Sigmoid(),
    S.FastSigmoid(),
    S.Triangle(),
    S.Erf(),
    S.PiecewiseQuadratic(),
    S.StraightThrough(),
]


def _check(result):
    err, *values = result
    assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS, nvrtc.nvrtcGetErrorString(err)[1].decode()
    return values[0] if len(values) == 1 else values


def compile_ptx(source: str, arch: str) -> tuple[str, str]:
    """PTX and the compiler's log for ``source`` on ``arch``; raises with the log if NVRTC fails.

    NVRTC writes the log and the PTX into the buffers it is given: they must be ``bytearray``s.
    Into ``b" " * n``, an immutable ``bytes``, it wrote the interpreter's shared one-byte ``b" "``
    when the log was empty (n = 1), which turned every ``b" "`` of the process into ``b"\\x00"``
    and broke, for one, ``torch.load`` of legacy-format files in later tests.
    """
    prog = _check(nvrtc.nvrtcCreateProgram(source.encode(), b"neuro_lif.cu", 0, [], []))
    try:
        options = [f"--gpu-architecture={arch}".encode(), *(o.encode() for o in NVRTC_OPTIONS)]
        (err,) = nvrtc.nvrtcCompileProgram(prog, len(options), options)
        log = bytearray(_check(nvrtc.nvrtcGetProgramLogSize(prog)))
        _check((nvrtc.nvrtcGetProgramLog(prog, log)[0], None))
        log = log.decode(errors="replace").rstrip("\x00 \n")
        assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS, f"NVRTC failed for {arch}:\n{log}"
        ptx = bytearray(_check(nvrtc.nvrtcGetPTXSize(prog)))
        _check((nvrtc.nvrtcGetPTX(prog, ptx)[0], None))
        return ptx.decode().rstrip("\x00"), log
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


def test_nvrtc_is_the_real_compiler():
    major, minor = _check(nvrtc.nvrtcVersion())
    assert major >= 12, f"NVRTC {major}.{minor}"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
def test_cuda_source_compiles_to_ptx_without_warnings(surrogate, arch):
    ptx, log = compile_ptx(cuda_source(surrogate.c_derivative), arch)
    assert not log, log  # warnings too: they usually mean a narrowing or an unused path
    target = arch.replace("compute_", "sm_")
    assert re.search(rf"^\.target {target}\b", ptx, re.M), ptx[:400]
    entries = set(re.findall(r"\.entry (\w+)\(", ptx))
    want = {f"neuro_lif_{d}{sfx}" for d in ("fwd", "bwd") for sfx in DTYPES.values()}
    assert entries == want
    space = b" "  # the interpreter's shared one-byte object (b" "[0] would be folded at compile time)
    assert space[0] == 0x20  # the empty log went into a buffer of ours, not into the shared b" "


def test_a_compile_error_is_reported_with_the_line():
    source = cuda_source(S.ATan().c_derivative).replace("return gh;", "return gh", 1)
    with pytest.raises(AssertionError, match=r"neuro_lif\.cu\(\d+\): error"):
        compile_ptx(source, ARCHS[0])
