"""neuro::linear (oneDNN products) against F.linear: values, gradients, dispatch, determinism, opcheck."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import neuro
from neuro.kernels import linear as L

needs_onednn = pytest.mark.skipif(not L.onednn_available(), reason="this torch has no oneDNN linear")


@pytest.fixture
def op_calls(monkeypatch):
    """Counts the calls of the custom op made by neuro.kernels.linear.linear."""
    calls = []
    real = L._linear_op

    def counted(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(L, "_linear_op", counted)
    return calls


def _pair(d_in, d_out, bias, seed=0):
    torch.manual_seed(seed)
    ref = nn.Linear(d_in, d_out, bias=bias)
    ours = neuro.Linear(d_in, d_out, bias=bias)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


@needs_onednn
@pytest.mark.parametrize(
    "shape,d_out,bias,transposed",
    [
        ((512, 128), 256, False, False),  # grad_w: the gradient is the wider operand
        ((512, 256), 64, True, False),  # grad_w: the input is the wider operand
        ((4, 300, 96), 160, True, False),  # [T, M, K] input, as TimeDistributed passes it
        ((96, 512), 128, True, True),  # a non-contiguous (transposed) input
    ],
)
def test_values_and_every_gradient_match_f_linear(op_calls, shape, d_out, bias, transposed):
    ref, ours = _pair(shape[0] if transposed else shape[-1], d_out, bias)
    torch.manual_seed(1)
    x = torch.randn(*shape)
    x = x.t() if transposed else x
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ref, y = ref(x_ref), ours(x_ours)
    assert op_calls, "a product this size must go through the custom op"
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(y)
    y_ref.backward(g)
    y.backward(g)
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-5, atol=1e-4)
    assert ours.weight.grad.is_contiguous()
    if bias:
        torch.testing.assert_close(ours.bias.grad, ref.bias.grad, rtol=1e-5, atol=1e-4)


@needs_onednn
def test_an_expanded_gradient_and_frozen_parts(op_calls):
    # y.sum().backward() hands the op an expanded (stride-0) gradient, which oneDNN would read slowly
    ref, ours = _pair(128, 256, True)
    x = torch.randn(400, 128)
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref(x_ref).sum().backward()
    ours(x_ours).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-5, atol=1e-4)
    # a frozen layer still passes the input's gradient; a constant input still trains the layer
    ours.zero_grad()
    ours.requires_grad_(False)
    x_ours.grad = None
    ours(x_ours).sum().backward()
    assert ours.weight.grad is None
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-5, atol=1e-5)
    ours.requires_grad_(True)
    ours(x).sum().backward()
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-5, atol=1e-4)


@needs_onednn
def test_the_same_call_gives_bit_equal_results():
    _, ours = _pair(256, 128, True)
    x = torch.randn(2, 700, 256, requires_grad=True)
    results = []
    for _ in range(2):
        ours.zero_grad()
        x.grad = None
        y = ours(x)
        y.backward(torch.ones_like(y) * 0.5)
        results.append((y.detach(), x.grad.clone(), ours.weight.grad.clone(), ours.bias.grad.clone()))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "case",
    ["small product", "float64", "single vector", "autocast", "torch without oneDNN"],
)
def test_what_the_op_does_not_take_goes_to_f_linear_bit_equal(op_calls, monkeypatch, case):
    ref, ours = _pair(64, 32, True)
    x = torch.randn(16, 64) if case == "small product" else torch.randn(4096, 64)
    if case == "torch without oneDNN":
        monkeypatch.setattr(L, "_ONEDNN", False)
    if case == "float64":
        ref, ours, x = ref.double(), ours.double(), x.double()
    if case == "single vector":
        ref, ours = _pair(4096, 1024, True)
        x = torch.randn(4096)
    if case == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, y_ref = ours(x), ref(x)
        assert y.dtype == torch.bfloat16
    else:
        y, y_ref = ours(x), ref(x)
    assert op_calls == []
    assert torch.equal(y, y_ref)


@needs_onednn
@pytest.mark.parametrize("bias", [True, False])
def test_fake_tensors_and_autograd_pass_opcheck(bias):
    torch.manual_seed(0)
    x = torch.randn(3, 40, 24, requires_grad=True)
    w = torch.randn(16, 24, requires_grad=True)
    b = torch.randn(16, requires_grad=True) if bias else None
    torch.library.opcheck(torch.ops.neuro.linear.default, (x, w, b))


def test_neuro_linear_is_an_nn_linear_with_the_same_state():
    ref, ours = _pair(6, 4, True)
    assert isinstance(ours, nn.Linear)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(5, 6)
    torch.testing.assert_close(ours(x), F.linear(x, ref.weight, ref.bias))


def test_exported_programs_hold_aten_linear_for_any_batch():
    layer = neuro.Linear(256, 512)
    batch = torch.export.Dim("batch", min=1)
    x = torch.randn(64, 256)
    program = torch.export.export(layer.eval(), (x,), dynamic_shapes=({0: batch},))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "aten.linear.default" in targets and not any("neuro" in t for t in targets)
    small, large = torch.randn(2, 256), torch.randn(300, 256)
    for inputs in (small, large):
        torch.testing.assert_close(program.module()(inputs), layer(inputs), rtol=1e-5, atol=1e-5)


def test_torch_func_transforms_work_as_with_nn_linear(op_calls):
    ref, ours = _pair(256, 512, True)
    x = torch.randn(8, 64, 256)
    torch.testing.assert_close(torch.func.vmap(ours)(x), torch.func.vmap(ref)(x))

    def loss(layer):
        return lambda w: torch.func.functional_call(layer, {"weight": w, "bias": layer.bias}, (x[0],)).sum()

    torch.testing.assert_close(
        torch.func.grad(loss(ours))(ours.weight), torch.func.grad(loss(ref))(ref.weight)
    )
    assert op_calls == []
