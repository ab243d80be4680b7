"""Layer helpers: TimeDistributed folds T into B; SpikingLinear and SpikingConv2d shapes and behaviour."""

import torch
from torch import nn

import neuro


def test_time_distributed_equals_a_loop_over_time():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.rand(4, 5, 2, 8, 8)
    y = neuro.TimeDistributed(conv)(x)
    assert y.shape == (4, 5, 3, 8, 8)
    torch.testing.assert_close(y, torch.stack([conv(x_t) for x_t in x]))


def test_time_distributed_chains_several_layers_and_changes_shape():
    torch.manual_seed(0)
    layers = (nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(2 * 4 * 4, 7))
    td = neuro.TimeDistributed(*layers)
    x = torch.rand(3, 2, 1, 8, 8)
    assert td(x).shape == (3, 2, 7)
    assert isinstance(td.layer, nn.Sequential) and len(td.layer) == 3


def test_spiking_linear_outputs_binary_spikes_per_step():
    torch.manual_seed(0)
    block = neuro.SpikingLinear(10, 6)
    x = torch.rand(4, 3, 10) * 3
    z = block(x)
    assert z.shape == (4, 3, 6)
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    assert isinstance(block[1], neuro.LIF)
    # the same as its linear layer followed by its neuron
    assert torch.equal(z, neuro.LIF()(block[0].layer(x)))


def test_spiking_linear_with_norm_and_a_custom_neuron():
    block = neuro.SpikingLinear(5, 4, neuron=neuro.IF(v_threshold=0.5), bias=False, norm=True)
    assert isinstance(block[0].layer[1], nn.BatchNorm1d) and block[0].layer[0].bias is None
    assert isinstance(block[1], neuro.IF)
    assert block(torch.rand(3, 2, 5)).shape == (3, 2, 4)


def test_spiking_conv2d_shapes_and_gradients():
    torch.manual_seed(0)
    block = neuro.SpikingConv2d(3, 8, kernel_size=3, stride=2, padding=1)
    x = torch.rand(4, 2, 3, 16, 16, requires_grad=True)
    z = block(x)
    assert z.shape == (4, 2, 8, 8, 8)
    assert 0 < z.mean() < 1
    z.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert block[0].layer[0].weight.grad.abs().sum() > 0
    assert block[0].layer[0].bias is None  # BatchNorm supplies the shift


def test_spiking_conv2d_without_norm_keeps_a_bias():
    block = neuro.SpikingConv2d(1, 2, norm=False)
    assert isinstance(block[0].layer, nn.Conv2d) and block[0].layer.bias is not None
    assert block(torch.rand(2, 1, 1, 5, 5)).shape == (2, 1, 2, 5, 5)


def test_blocks_stack_and_reset():
    net = nn.Sequential(
        neuro.SpikingConv2d(1, 4), neuro.TimeDistributed(nn.Flatten()), neuro.SpikingLinear(4 * 6 * 6, 3)
    )
    x = torch.rand(5, 2, 1, 6, 6)
    first = net(x)
    assert first.shape == (5, 2, 3)
    neuro.reset(net)
    assert torch.equal(net(x), first)


def test_residual_adds_its_input_to_the_block_output():
    block = neuro.TimeDistributed(nn.Linear(4, 4))
    x = torch.rand(3, 2, 4)
    assert torch.equal(neuro.Residual(block)(x), x + block(x))
