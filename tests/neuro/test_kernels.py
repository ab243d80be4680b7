"""Fused CPU kernels vs the torch reference: bit-equal spikes, allclose gradients, dispatch, memory modes."""

import ast
import dataclasses
import itertools
import warnings
from pathlib import Path

import pytest
import torch

import neuro
from neuro import functional as F
from neuro import kernels
from neuro import surrogate as S
from neuro.functional import multi_step
from neuro.kernels import cpu
from neuro.kernels.source import (
    KIND_ALIF,
    KIND_CUBA,
    KIND_LIF,
    KIND_PLIF,
    MODE_DECAY,
    MODE_NO_SAVE,
    MODE_SOFT,
)

STEPS = {
    F.IFParameters: F.if_step,
    F.LIFParameters: F.lif_step,
    F.ParametricLIFParameters: F.plif_step,
    F.ALIFParameters: F.alif_step,
    F.CubaLIFParameters: F.cuba_lif_step,
}
STATES = {F.ALIFParameters: F.ALIFState, F.CubaLIFParameters: F.CubaLIFState}


def _params(kind, soft, decay, detach, surrogate=None):
    fire = dict(
        v_threshold=0.9, v_reset=None if soft else -0.1, detach_reset=detach, surrogate=surrogate or S.ATan()
    )
    if kind == "IF":
        return F.IFParameters(**fire)
    if kind == "LIF":
        return F.LIFParameters(tau=3.7, decay_input=decay, **fire)
    if kind == "ALIF":
        return F.ALIFParameters(tau=3.7, tau_adapt=6.3, beta=0.35, decay_input=decay, **fire)
    if kind == "CUBA":
        return F.CubaLIFParameters(tau_syn=2.7, tau_mem=3.3, v_leak=0.15, r=1.7, w_in=1.3, **fire)
    w = torch.tensor(F.plif_weight_for_tau(2.3), requires_grad=True)
    return F.ParametricLIFParameters(w=w, decay_input=decay, **fire)


def _inputs(shape=(7, 3, 21), dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * 1.2 + 0.6).to(dtype)
    v0 = (torch.randn(shape[1:], generator=g) * 0.5).to(dtype)
    return x, v0


def _state(p, v0):
    """A starting state for ``p``'s neuron: ``v0``, and an adaptation or current derived from it."""
    if type(p) in STATES:
        return STATES[type(p)](v0, (v0.abs() * 0.8).to(v0.dtype))
    return F.LIFState(v0)


def _run(p, backend, x, v0, memory="exact", use_spikes=True):
    """Spikes, final state and the gradients of a loss on both, wrt input, the state and (PLIF) w."""
    x = x.clone().requires_grad_()
    state0 = _state(p, v0)
    state0 = type(state0)(*(t.clone().requires_grad_() for t in state0))
    spikes, state = multi_step(STEPS[type(p)], x, state0, p, backend, memory)
    g = torch.Generator().manual_seed(1)
    weight_s = torch.randn(spikes.shape, generator=g).to(spikes.dtype)
    loss = (spikes * weight_s).sum() if use_spikes else 0
    for t in state:
        loss = loss + (t * torch.randn(t.shape, generator=g).to(t.dtype)).sum()
    leaves = [x, *state0] + ([p.w] if isinstance(p, F.ParametricLIFParameters) else [])
    grads = torch.autograd.grad(loss, leaves)
    return spikes.detach(), tuple(t.detach() for t in state), grads


def _assert_close_grads(ref, got, rtol=1e-4, atol=1e-5):
    """Input and state gradients to (rtol, atol); the float32 leak weight's to float32 precision at least."""
    for a, b in zip(ref, got, strict=True):
        tol = (rtol, atol) if a.dim() > 0 else (max(rtol, 1e-4), max(atol, 1e-5))
        torch.testing.assert_close(b.double(), a.double(), rtol=tol[0], atol=tol[1])


def _assert_same_state(ref, got):
    for a, b in zip(ref, got, strict=True):
        assert torch.equal(b, a)


CASES = [
    c
    for c in itertools.product(
        ("IF", "LIF", "PLIF", "ALIF", "CUBA"), (False, True), (False, True), (False, True)
    )
    if not (c[0] in ("IF", "CUBA") and c[2])  # IF and CubaLIF have no decay_input
]


@pytest.mark.parametrize("kind,soft,decay,detach", CASES)
def test_cpu_matches_reference(kind, soft, decay, detach):
    p = _params(kind, soft, decay, detach)
    x, v0 = _inputs()
    ref = _run(p, "torch", x, v0)
    got = _run(p, "cpu", x, v0)
    assert ref[0].sum() > 0 and ref[0].sum() < ref[0].numel()  # some neurons fire, some do not
    assert torch.equal(got[0], ref[0])
    _assert_same_state(ref[1], got[1])
    _assert_close_grads(ref[2], got[2])


@pytest.mark.parametrize(
    "surrogate",
    [
        S.Sigmoid(),
        S.FastSigmoid(),
        S.Triangle(),
        S.Erf(),
        S.PiecewiseQuadratic(),
        S.StraightThrough(alpha=0.5),
    ],
    ids=lambda s: type(s).__name__,
)
def test_every_surrogate_gives_the_reference_gradient(surrogate):
    p = _params("LIF", False, True, False, surrogate)
    x, v0 = _inputs((5, 2, 13))
    ref, got = _run(p, "torch", x, v0), _run(p, "cpu", x, v0)
    assert torch.equal(got[0], ref[0])
    _assert_close_grads(ref[2], got[2])


@pytest.mark.parametrize(
    "dtype,rtol,atol",
    [(torch.float64, 1e-10, 1e-12), (torch.float16, 2e-2, 2e-3), (torch.bfloat16, 5e-2, 2e-2)],
    ids=str,
)
@pytest.mark.parametrize(
    "kind,soft", [("LIF", False), ("PLIF", True), ("IF", False), ("ALIF", True), ("CUBA", False)]
)
def test_other_dtypes_give_bit_equal_spikes(dtype, rtol, atol, kind, soft):
    p = _params(kind, soft, True, False)
    x, v0 = _inputs((6, 4, 50), dtype=dtype)
    ref, got = _run(p, "torch", x, v0), _run(p, "cpu", x, v0)
    assert got[0].dtype == dtype and all(t.dtype == dtype for t in got[1])
    assert torch.equal(got[0], ref[0])
    _assert_same_state(ref[1], got[1])
    # half-precision reference gradients round at every op, the kernel's run in float32; the leak
    # weight's gradient (a sum over all neurons) is only compared in float64, where both are accurate
    n = len(ref[2]) if dtype == torch.float64 else 1 + len(ref[1])
    _assert_close_grads(ref[2][:n], got[2][:n], rtol=rtol, atol=atol)


@pytest.mark.parametrize("kind", ["PLIF", "ALIF", "CUBA"])
def test_gradient_through_final_state_only(kind):
    p = _params(kind, False, True, False)
    x, v0 = _inputs()
    ref = _run(p, "torch", x, v0, use_spikes=False)
    got = _run(p, "cpu", x, v0, use_spikes=False)
    _assert_close_grads(ref[2], got[2])


@pytest.mark.parametrize("kind", ["LIF", "ALIF"])
@pytest.mark.parametrize("memory", ["exact", "lean"])
def test_chunks_with_carried_state_equal_one_run(memory, kind):
    p = _params(kind, False, True, False)
    x, _ = _inputs((9, 2, 17))
    whole = x.clone().requires_grad_()
    spikes, _ = multi_step(STEPS[type(p)], whole, None, p, "cpu", memory)
    spikes.sum().backward()
    chunked = x.clone().requires_grad_()
    state, parts = None, []
    for piece in chunked.split([4, 1, 4]):
        z, state = multi_step(STEPS[type(p)], piece, state, p, "cpu", memory)
        parts.append(z)
    torch.cat(parts).sum().backward()
    assert torch.equal(torch.cat(parts), spikes)
    torch.testing.assert_close(chunked.grad, whole.grad, rtol=1e-6, atol=1e-7)


def _saved_bytes(fn):
    """Bytes autograd keeps for backward while ``fn`` runs (tensors packed by saved_tensors_hooks)."""
    seen = {}

    def pack(t):
        seen[t.data_ptr(), t.dtype] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(seen.values()), out


@pytest.mark.parametrize("kind,soft", [("LIF", False), ("PLIF", True), ("ALIF", True), ("CUBA", False)])
def test_lean_mode_keeps_two_bytes_per_neuron_step_and_close_gradients(kind, soft):
    p = _params(kind, soft, True, False)
    x, v0 = _inputs((8, 4, 64))
    T, N = 8, 4 * 64
    x = x.requires_grad_()
    state0 = _state(p, v0)
    exact_bytes, _ = _saved_bytes(lambda: multi_step(STEPS[type(p)], x, state0, p, "cpu", "exact"))
    lean_bytes, _ = _saved_bytes(lambda: multi_step(STEPS[type(p)], x, state0, p, "cpu", "lean"))
    # per neuron-step: H in float32 vs H - V_th in bf16 (ALIF: and its threshold); PLIF also keeps
    # x, v0 and k for its leak gradient
    extra = T * N * 4 + N * 4 + 4 if kind == "PLIF" else 0
    rows = 2 if kind == "ALIF" else 1
    assert exact_bytes - extra == rows * 4 * T * N
    assert lean_bytes - extra == rows * 2 * T * N
    ref, lean = _run(p, "torch", x.detach(), v0), _run(p, "cpu", x.detach(), v0, memory="lean")
    assert torch.equal(lean[0], ref[0])  # the sign of H - V_th is kept exactly
    for a, b in zip(ref[2], lean[2], strict=True):
        assert float((a - b).norm() / a.norm()) < 0.02


def test_inference_keeps_nothing_for_backward():
    p = _params("LIF", True, True, False)
    x, v0 = _inputs()
    with torch.no_grad():
        got = multi_step(F.lif_step, x, F.LIFState(v0), p, "cpu")
    ref = multi_step(F.lif_step, x, F.LIFState(v0), p, "torch")
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1].v, ref[1].v)
    args = (x.reshape(7, -1), v0.reshape(1, -1), None, [3.7, 0.9, 0.0, 1.0, 0.0, 0.0, 0.0])
    mode = KIND_LIF | MODE_DECAY | MODE_SOFT
    _, _, saved = torch.ops.neuro.lif_forward(*args, mode, S.ATan().c_derivative)
    _, _, nothing = torch.ops.neuro.lif_forward(*args, mode | MODE_NO_SAVE, S.ATan().c_derivative)
    assert saved.shape == (1, *x.reshape(7, -1).shape) and nothing.numel() == 0


@pytest.mark.parametrize("kind,rows", [(KIND_PLIF, 1), (KIND_ALIF, 2), (KIND_CUBA, 2)])
def test_fake_tensors_and_autograd_pass_opcheck(kind, rows):
    x, v0 = _inputs((4, rows, 9))
    k = torch.tensor(0.4, requires_grad=True) if kind == KIND_PLIF else None
    state0 = v0.reshape(rows, 9).abs().requires_grad_()
    scalars = [2.5, 1.0, 0.0, 3.0, 0.3, 1.2, 0.9]
    args = (x[:, 0].requires_grad_(), state0, k, scalars, kind | MODE_DECAY, S.ATan().c_derivative)
    torch.library.opcheck(torch.ops.neuro.lif_forward.default, args)


@pytest.mark.parametrize("neuron", [neuro.ParametricLIF, neuro.ALIF])
def test_torch_compile_fullgraph_matches_eager(neuron):
    torch.manual_seed(0)
    net = torch.nn.Sequential(neuro.TimeDistributed(torch.nn.Linear(5, 8)), neuron(backend="cpu"))
    x = torch.randn(4, 2, 5)
    eager = net(x)
    eager.sum().backward()
    grads = [q.grad.clone() for q in net.parameters()]
    net.zero_grad()
    neuro.reset(net)
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)(x)
    compiled.sum().backward()
    assert torch.equal(compiled, eager)
    for a, q in zip(grads, net.parameters(), strict=True):
        torch.testing.assert_close(q.grad, a)


def test_modules_take_the_backend():
    x, _ = _inputs((6, 2, 11))
    outs = {b: neuro.LIF(tau=2.5, v_reset=None, backend=b)(x) for b in ("torch", "cpu", "auto")}
    assert torch.equal(outs["cpu"], outs["torch"]) and torch.equal(outs["auto"], outs["torch"])


def test_auto_picks_the_fused_kernel_where_one_exists():
    x, _ = _inputs()
    for kind in ("IF", "LIF", "PLIF", "ALIF", "CUBA"):
        assert F.resolve_backend("auto", _params(kind, False, True, False), x) == "cpu"
    assert F.resolve_backend("auto", _params("IF", False, False, False), x.half()) == "torch"
    assert F.resolve_backend("auto", _MyParameters(), x) == "torch"  # no kernel registered for it


@dataclasses.dataclass(frozen=True)
class _NoCSurrogate(S.Surrogate):
    """A user's surrogate with the torch views only (no C expression)."""

    def derivative(self, x):
        return 1.0 / (1.0 + x.abs()) ** 2


@dataclasses.dataclass(frozen=True)
class _MyParameters(F.LIFParameters):
    """A user's parameter class with dynamics of its own: no fused kernel is registered for it."""


def test_auto_falls_back_to_torch_for_a_surrogate_without_a_c_expression():
    p = F.LIFParameters(tau=2.5, surrogate=_NoCSurrogate())
    x, _ = _inputs((5, 2, 9))
    assert F.resolve_backend("auto", p, x) == "torch"
    xs = [x.clone().requires_grad_() for _ in range(2)]
    outs = [F.lif_multi_step(xi, None, p, backend) for xi, backend in zip(xs, ("auto", "torch"), strict=True)]
    for out in outs:
        out[0].sum().backward()
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(xs[0].grad, xs[1].grad)
    assert neuro.LIF(surrogate=_NoCSurrogate())(x).shape == x.shape  # the modules default to auto
    with pytest.raises(ValueError, match="with no C expression"):
        F.lif_multi_step(x, None, p, "cpu")


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda x: multi_step(F.lif_step, x, None, _MyParameters(), "cpu"),
            "no fused kernel for _MyParameters",
        ),
        (lambda x: multi_step(F.lif_step, x, None, F.LIFParameters(), "cupy"), "CUDA tensors"),
        (lambda x: multi_step(F.lif_step, x, None, F.LIFParameters(), "gpu"), "backend must be one of"),
        (lambda x: multi_step(F.lif_step, x, None, F.LIFParameters(), "cpu", "small"), "memory must be"),
        (lambda x: multi_step(F.lif_step, x, None, F.LIFParameters(), "torch", "lean"), "fused backend"),
        (lambda x: multi_step(F.lif_step, x, F.LIFState(x[0, :1]), F.LIFParameters(), "cpu"), "shape"),
        (
            lambda x: multi_step(F.alif_step, x, F.ALIFState(x[0], x[0, :1]), F.ALIFParameters(), "cpu"),
            "shape",
        ),
        (lambda x: multi_step(F.lif_step, x[0, 0], None, F.LIFParameters(), "cpu"), r"\[T, B, \.\.\.\]"),
    ],
)
def test_bad_requests_name_the_problem(call, match):
    x, _ = _inputs((3, 2, 4))
    with pytest.raises(ValueError, match=match):
        call(x)


@pytest.mark.parametrize("cause", ["no C compiler", "cannot build or load"])
def test_unbuildable_kernel_falls_back_to_torch_with_one_warning(monkeypatch, tmp_path, cause):
    if cause == "no C compiler":
        monkeypatch.setenv("NEURO_KERNEL_CACHE", str(tmp_path))
        monkeypatch.setattr(cpu, "_compiler", lambda: None)
    else:  # the cache path is a file, so nothing can be written under it
        (tmp_path / "file").write_text("")
        monkeypatch.setenv("NEURO_KERNEL_CACHE", str(tmp_path / "file"))
    monkeypatch.setattr(kernels, "_warned_no_cpu_kernel", False)
    p = _params("LIF", False, True, False, S.ATan(alpha=2.5))  # a surrogate not built in this session
    x, v0 = _inputs((3, 2, 5))
    with pytest.warns(UserWarning, match=cause):
        got = multi_step(F.lif_step, x, None, p, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        multi_step(F.lif_step, x, None, p, "auto")
    assert torch.equal(got[0], multi_step(F.lif_step, x, None, p, "torch")[0])


def test_library_is_loaded_from_the_disk_cache(monkeypatch):
    expr = S.ATan().c_derivative
    cpu.load_library(expr)  # built by now, in this session or an earlier one
    assert list(cpu.cache_dir().glob("*/lif.so"))
    monkeypatch.delitem(cpu._LIBS, (expr, torch.float32, KIND_LIF))

    def no_build(*args):
        raise AssertionError("rebuilt a cached library")

    monkeypatch.setattr(cpu, "_build", no_build)
    cpu.load_library(expr)


def test_kernels_do_not_import_the_neuron_functions():
    """The layering is surrogate/validation -> kernels -> functional -> neurons, with no circle."""
    for path in Path(kernels.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "functional" not in (node.module or ""), f"{path.name} imports {node.module}"
                assert not any("functional" in a.name for a in node.names), f"{path.name} imports functional"
