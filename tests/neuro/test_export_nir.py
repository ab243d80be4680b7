"""NIR export and import: round trips give bit-equal spikes; what NIR cannot hold is refused clearly."""

import warnings

import nir
import numpy as np
import pytest
import torch
from torch import nn

import neuro
from neuro.export import DEFAULT_DT, from_nir, graph_dt, read_nir, to_nir

TD = neuro.TimeDistributed


ROUND_TRIP_KINDS = ["lif", "lif_no_decay_input", "lif_v_reset", "if", "cuba_lif", "cuba_lif_scaled"]
ROUND_TRIP_KINDS += ["conv_avg_lif", "conv_sum_if", "conv1d_if", "residual_lif"]


@pytest.mark.parametrize("kind", ROUND_TRIP_KINDS)
def test_round_trip_through_a_nir_file_gives_bit_equal_spikes(kind, tmp_path, build_net, reference_spikes):
    net, x = build_net(kind)
    expected = reference_spikes(net, x)
    path = tmp_path / "net.nir"
    nir.write(path, to_nir(net, x, dt=1e-3))
    imported = from_nir(path, dt=1e-3)
    with torch.no_grad():
        assert torch.equal(imported(x), expected)


@pytest.mark.parametrize("kind", ["lif", "cuba_lif_scaled", "conv_sum_if"])
def test_from_nir_reads_the_dt_the_graph_was_written_with(kind, tmp_path, build_net, reference_spikes):
    net, x = build_net(kind)
    expected = reference_spikes(net, x)
    assert graph_dt(to_nir(net, x)) == DEFAULT_DT == 1e-4
    path = tmp_path / "net.nir"
    nir.write(path, to_nir(net, x, dt=5e-4))
    assert graph_dt(read_nir(path)) == 5e-4  # kept through the HDF5 file
    with torch.no_grad():
        assert torch.equal(from_nir(path)(x), expected)  # no dt given: the recorded one


def test_an_explicit_dt_wins_over_the_recorded_one_with_a_warning(build_net, reference_spikes):
    net, x = build_net("lif")
    expected = reference_spikes(net, x)
    graph = to_nir(net, x, dt=5e-4)
    with pytest.warns(UserWarning, match=r"dt=0.00025 s given, but the graph was written with dt=0.0005 s"):
        imported = from_nir(graph, dt=2.5e-4)  # time constants of 4 steps instead of 2
    with torch.no_grad():
        assert not torch.equal(imported(x), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_nir(graph, dt=5e-4)  # the same dt: no warning


def test_a_graph_without_a_recorded_dt_uses_the_default(build_net, reference_spikes):
    net, x = build_net("lif")
    expected = reference_spikes(net, x)
    graph = to_nir(net, x)
    bare = nir.NIRGraph(nodes=graph.nodes, edges=graph.edges)  # as other exporters may write it
    assert graph_dt(bare) is None
    with torch.no_grad():
        assert torch.equal(from_nir(bare)(x), expected)


@pytest.mark.parametrize("bad", [0.0, -1e-4, float("nan"), float("inf"), "1e-4", True, [1e-4, 2e-4]])
def test_a_recorded_dt_that_is_not_a_positive_number_is_a_one_line_error(bad, tmp_path, build_net):
    net, x = build_net("lif")
    graph = to_nir(net, x)
    graph.metadata["dt"] = bad
    with pytest.raises(ValueError, match="metadata dt must be a positive number of seconds") as err:
        from_nir(graph)
    assert "\n" not in str(err.value)
    with pytest.warns(UserWarning, match="metadata dt must be a positive number"):
        from_nir(graph, dt=1e-4)  # an explicit dt still loads it


def test_nan_dt_read_back_from_a_file_is_refused(tmp_path, build_net):
    net, x = build_net("lif")
    graph = to_nir(net, x)
    graph.metadata["dt"] = float("nan")
    path = tmp_path / "bad.nir"
    nir.write(path, graph)
    with pytest.raises(ValueError, match="metadata dt must be a positive number"):
        from_nir(path)


def test_graph_maps_each_layer_to_its_nir_node_with_the_dt_mapping():
    net = nn.Sequential(
        TD(nn.Conv2d(2, 4, 3, padding=1), nn.AvgPool2d(2)),
        neuro.LIF(tau=4.0, decay_input=False, v_reset=-0.5),
        TD(nn.Flatten(), nn.Linear(64, 5, bias=False)),
        neuro.IF(v_threshold=0.5),
    )
    graph = to_nir(net, torch.rand(3, 2, 2, 8, 8), dt=1e-4)
    kinds = [type(graph.nodes[b]).__name__ for _, b in sorted(graph.edges, key=lambda e: _depth(graph, e[1]))]
    assert kinds == ["Conv2d", "AvgPool2d", "LIF", "Flatten", "Linear", "IF", "Output"]
    lif = next(n for n in graph.nodes.values() if isinstance(n, nir.LIF))
    assert lif.tau.shape == (4, 4, 4)
    np.testing.assert_allclose(lif.tau, 4e-4)
    np.testing.assert_allclose(lif.r, 4.0)  # decay_input=False: r = tau in steps
    np.testing.assert_allclose(lif.v_leak, -0.5)
    np.testing.assert_allclose(lif.v_reset, -0.5)
    if_node = next(n for n in graph.nodes.values() if isinstance(n, nir.IF))
    np.testing.assert_allclose(if_node.r, 1e4)  # r = 1 / dt
    np.testing.assert_allclose(if_node.v_threshold, 0.5)
    flatten = next(n for n in graph.nodes.values() if isinstance(n, nir.Flatten))
    assert flatten.start_dim == 0  # NIR shapes leave out the batch axis


def _depth(graph, name):
    depth = 0
    while True:
        parents = [a for a, b in graph.edges if b == name]
        if not parents:
            return depth
        name, depth = parents[0], depth + 1


def test_parametric_lif_is_exported_with_its_current_tau():
    plif = neuro.ParametricLIF(tau=2.0)
    with torch.no_grad():
        plif.w.fill_(0.3)  # as if trained: tau = 1 / sigmoid(0.3)
    net = nn.Sequential(TD(nn.Linear(3, 2)), plif)
    graph = to_nir(net, torch.rand(4, 1, 3), dt=1e-3)
    lif = next(n for n in graph.nodes.values() if isinstance(n, nir.LIF))
    np.testing.assert_allclose(lif.tau, 1e-3 / torch.sigmoid(torch.tensor(0.3)).item())


def test_single_step_network_and_a_bare_neuron_export():
    net = nn.Sequential(nn.Linear(4, 3), neuro.LIF(step_mode="s"))
    graph = to_nir(net, torch.rand(2, 4))
    assert [type(n).__name__ for n in graph.nodes.values()].count("LIF") == 1
    bare = to_nir(neuro.IF(), torch.rand(5, 2, 3))
    assert {type(n).__name__ for n in bare.nodes.values()} == {"Input", "IF", "Output"}


def test_export_leaves_the_network_state_and_monitors_alone(build_net):
    net, x = build_net("lif")
    with neuro.Monitor(net) as monitor:
        net(x)
        state = net[1].state.v.clone()
        to_nir(net, x)
        assert all(len(s) == 1 for s in monitor.spikes.values())
    assert torch.equal(net[1].state.v, state)


@pytest.mark.parametrize(
    "neuron, message",
    [
        (neuro.LIF(v_reset=None), "soft reset"),
        (neuro.IF(v_reset=None), "soft reset"),
        (neuro.ALIF(), "adaptive threshold"),
    ],
)
def test_neurons_nir_cannot_express_are_refused(neuron, message):
    net = nn.Sequential(TD(nn.Linear(3, 2)), neuron)
    with pytest.raises(ValueError, match=message):
        to_nir(net, torch.rand(4, 1, 3))


@pytest.mark.parametrize(
    "layers, message",
    [
        ([nn.Linear(3, 2), nn.ReLU()], "ReLU"),
        ([nn.Linear(3, 2), nn.BatchNorm1d(2, track_running_stats=False)], "without running statistics"),
        ([nn.Identity(), nn.LPPool2d(2, 2)], "norm_type"),
    ],
)
def test_layers_nir_cannot_express_are_refused(layers, message):
    shape = (4, 1, 2, 4, 4) if isinstance(layers[1], nn.LPPool2d) else (4, 1, 3)
    net = nn.Sequential(TD(*layers), neuro.LIF())
    with pytest.raises(ValueError, match=message):
        to_nir(net, torch.rand(shape))
    with pytest.raises(ValueError, match="type BatchNorm1d"):  # nothing to fold it into
        to_nir(nn.Sequential(TD(nn.BatchNorm1d(3)), neuro.LIF()), torch.rand(4, 1, 3))


def test_batch_norms_are_folded_into_the_layer_before_them(reference_spikes):
    torch.manual_seed(0)
    block = neuro.SpikingConv2d(2, 3, neuron=neuro.LIF(tau=2.0))  # Conv2d (no bias) + BatchNorm2d + LIF
    norm = block[0].layer[1]
    with torch.no_grad():
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.uniform_(0.5, 4.0)
        norm.bias.uniform_(-0.5, 0.5)
    block.eval()
    x = torch.rand(4, 2, 2, 6, 6)
    with torch.no_grad():
        folded = from_nir(to_nir(block, x))
        (conv,) = [m for m in folded.modules() if isinstance(m, nn.Conv2d)]
        torch.testing.assert_close(conv(x[0]), block[0](x[:1])[0], rtol=1e-5, atol=1e-6)
        expected = reference_spikes(block, x)
        assert (folded(x) == expected).float().mean() > 0.99  # folding rounds differently at the threshold


def test_garbage_and_missing_files_are_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.nir"
    garbage.write_bytes(b"\x00\x01 not an hdf5 file" * 10)
    with pytest.raises(ValueError, match="garbage.nir is not a readable NIR graph"):
        from_nir(garbage)
    with pytest.raises(FileNotFoundError, match="missing.nir"):
        read_nir(tmp_path / "missing.nir")


def test_graphs_with_missing_or_unknown_nodes_are_refused():
    lif = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    nodes = {"input": nir.Input(np.array([2])), "lif": lif, "output": nir.Output(np.array([2]))}
    dangling = nir.NIRGraph(
        nodes, [("input", "lif"), ("lif", "ghost"), ("ghost", "output")], type_check=False
    )
    with pytest.raises(ValueError, match="missing node"):
        from_nir(dangling)
    no_output = nir.NIRGraph(
        {k: v for k, v in nodes.items() if k != "output"}, [("input", "lif")], type_check=False
    )
    with pytest.raises(ValueError, match="exactly one Output"):
        from_nir(no_output)
    li = nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2))
    with pytest.raises(ValueError, match="'li' of type LI cannot be imported"):
        from_nir(nir.NIRGraph.from_list(li))


def test_neuron_parameters_a_neuro_neuron_cannot_hold_are_refused():
    def lif(**over):
        fields = dict(tau=np.full(2, 2e-3), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
        return nir.NIRGraph.from_list(nir.LIF(**{**fields, **over}))

    with pytest.raises(ValueError, match="2 different values of v_threshold"):
        from_nir(lif(v_threshold=np.array([1.0, 2.0])))
    with pytest.raises(ValueError, match="r=0.5"):
        from_nir(lif(r=np.full(2, 0.5)))
    with pytest.raises(ValueError, match="leaks to v_leak=0.3"):
        from_nir(lif(v_leak=np.full(2, 0.3)))
    with pytest.raises(ValueError, match="r = 1/dt"):
        from_nir(nir.NIRGraph.from_list(nir.IF(r=np.ones(2), v_threshold=np.ones(2))), dt=1e-3)


class _Branching(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = TD(nn.Linear(3, 2))
        self.lif = neuro.LIF()

    def forward(self, x):
        return self.lif(self.fc(x)) if x.sum() > 0 else x


def test_a_forward_that_cannot_be_traced_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot trace _Branching"):
        to_nir(_Branching(), torch.rand(4, 1, 3))
