"""Graphs from ``neuro.export.to_nir`` imported by SpikingJelly 2.0, Norse and snnTorch, spike for spike.

Each case runs the imported module on the same input as the original and compares the output
spikes with ``torch.equal``. Where an importer cannot reproduce a network, the case is a strict
``xfail`` naming the importer's gap (an importer fix turns it into a failure that asks for the
docs to be updated). The findings are written up in ``docs/nir_importers.md``.

Two paths: each importer at its own ``dt`` (the graph exported at that ``dt``), and the defaults
path a user takes without reading the docs: ``to_nir(net, x)`` then each importer with no ``dt``.
"""

import contextlib
import io

import pytest
import torch

from neuro.export import from_nir, to_nir

pytestmark = pytest.mark.filterwarnings("ignore")


def _spikingjelly(graph, dt):
    nir_exchange = pytest.importorskip("spikingjelly.activation_based.nir_exchange")
    return nir_exchange.import_from_nir(graph, dt=dt)


def _norse(graph, dt):
    norse_torch = pytest.importorskip("norse.torch")
    return norse_torch.from_nir(graph, dt=dt, ignore_warnings=True)


def _snntorch(graph, dt):
    import_nir = pytest.importorskip("snntorch.import_nir")
    return import_nir.import_from_nir(graph)  # snnTorch assumes dt = 1e-4 s


# Each importer's own time step (seconds): the one it documents or hard-codes.
IMPORTERS = {"spikingjelly": (_spikingjelly, 1e-4), "norse": (_norse, 1e-3), "snntorch": (_snntorch, 1e-4)}

EQUAL = {
    "spikingjelly": ["lif", "lif_no_decay_input", "lif_v_reset", "if", "cuba_lif_scaled", "residual_lif"],
    "norse": ["lif", "if", "cuba_lif", "cuba_lif_scaled", "residual_lif"],
    "snntorch": ["lif", "lif_no_decay_input", "cuba_lif_scaled", "residual_lif"],
}
EQUAL["spikingjelly"] += ["conv_avg_lif", "conv_sum_if", "conv1d_if"]

# Equal only with batch size 1: the importer's Flatten also folds the batch axis, so the output
# comes back without it.
EQUAL_BATCH_OF_ONE = {"norse": ["conv_sum_if"], "snntorch": ["conv_avg_lif"]}

GAPS = {
    (
        "spikingjelly",
        "cuba_lif",
    ): "CUBALIFNode has no input scaling: needs r = tau_mem/dt and w_in = tau_syn/dt",
    ("norse", "lif_no_decay_input"): "ignores NIR LIF r (assumes r = 1, decay_input=True)",
    ("norse", "lif_v_reset"): "ignores NIR v_reset (always resets to 0)",
    ("norse", "conv_avg_lif"): "has no AvgPool2d mapping",
    ("norse", "conv1d_if"): "has no Conv1d mapping",
    ("norse", "conv_sum_if"): "maps NIR Flatten(start_dim=0) to torch Flatten(0), folding the batch axis",
    ("snntorch", "lif_v_reset"): "refuses v_leak != 0 (no leak or reset potential)",
    ("snntorch", "if"): "refuses r != 1 for IF, and maps IF to a leaky neuron (beta = 0.9)",
    ("snntorch", "cuba_lif"): "needs r = tau_mem/dt for CubaLIF",
    ("snntorch", "conv_avg_lif"): "maps NIR Flatten(start_dim=0) to torch Flatten(0), folding the batch axis",
    ("snntorch", "conv_sum_if"): "refuses IF (r != 1) and has no SumPool2d mapping",
    ("snntorch", "conv1d_if"): "has no Conv1d mapping and refuses IF (r != 1)",
}


def _cases():
    for importer in IMPORTERS:
        for kind in EQUAL[importer]:
            yield pytest.param(importer, kind, 3, id=f"{importer}-{kind}")
        for kind in EQUAL_BATCH_OF_ONE.get(importer, []):
            yield pytest.param(importer, kind, 1, id=f"{importer}-{kind}-batch1")
    for (importer, kind), gap in GAPS.items():
        mark = pytest.mark.xfail(strict=True, reason=f"{importer} {gap}")
        yield pytest.param(importer, kind, 3, marks=mark, id=f"{importer}-{kind}-gap")


def _run_stateful(module, x_seq):
    """Run an imported ``(output, state) = module(x, state)`` graph over the time axis."""
    outputs, state = [], None
    for x in x_seq:
        out, state = module(x) if state is None else module(x, state)
        outputs.append(out)
    return torch.stack(outputs)


@pytest.mark.parametrize("importer, kind, batch", list(_cases()))
def test_imported_graph_reproduces_our_spikes(importer, kind, batch, build_net, reference_spikes):
    load, dt = IMPORTERS[importer]
    net, x = build_net(kind, batch=batch)
    expected = reference_spikes(net, x)
    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch prints its weight rescaling
        imported = load(to_nir(net, x, dt=dt), dt)
    with torch.no_grad():
        spikes = _run_stateful(imported, x)
    if batch == 1:  # the importer dropped the batch axis (see EQUAL_BATCH_OF_ONE)
        assert spikes.shape == expected.shape[:1] + expected.shape[2:]
        spikes = spikes.unsqueeze(1)
    assert torch.equal(spikes, expected)


# The defaults path: to_nir with its default dt (1e-4 s), then each importer called without a dt.
DEFAULT_LOADERS = {
    "spikingjelly": lambda g: pytest.importorskip(SJ).import_from_nir(g),  # dt = 1e-4
    "norse": lambda g: pytest.importorskip("norse.torch").from_nir(g, ignore_warnings=True),  # 1e-3
    "snntorch": lambda g: pytest.importorskip("snntorch.import_nir").import_from_nir(g),  # 1e-4
}
SJ = "spikingjelly.activation_based.nir_exchange"
DEFAULT_GAPS = {"norse": "defaults to dt = 1e-3 s, ten times the 1e-4 s the graph records"}


def _default_cases():
    for kind in ("lif", "cuba_lif_scaled", "conv_sum_if", "residual_lif"):
        yield pytest.param("neuro", kind, id=f"neuro-{kind}-defaults")
    for importer in DEFAULT_LOADERS:
        gap = DEFAULT_GAPS.get(importer)
        xfail = pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"{importer} {gap}")
        marks = [xfail] if gap else []
        for kind in ("lif", "cuba_lif_scaled", "residual_lif"):
            yield pytest.param(importer, kind, marks=marks, id=f"{importer}-{kind}-defaults")


@pytest.mark.parametrize("importer, kind", list(_default_cases()))
def test_export_with_defaults_then_import_with_each_peers_defaults(
    importer, kind, build_net, reference_spikes
):
    net, x = build_net(kind)
    expected = reference_spikes(net, x)
    graph = to_nir(net, x)
    with torch.no_grad():
        if importer == "neuro":
            spikes = from_nir(graph)(x)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                spikes = _run_stateful(DEFAULT_LOADERS[importer](graph), x)
    assert torch.equal(spikes, expected)
