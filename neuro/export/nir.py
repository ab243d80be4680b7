"""NIR export and import of ``neuro`` networks: :func:`to_nir`, :func:`from_nir`, :func:`read_nir`.

Graph tracing and wiring are nirtorch's (``nirtorch.torch_to_nir`` and ``nirtorch.nir_to_torch``);
this module only decides what each module becomes (:mod:`neuro.export.nir_nodes`).

NIR graphs describe one time step of one sample, while ``neuro`` networks usually run multi-step
``[T, B, ...]`` tensors through :class:`neuro.TimeDistributed` wrappers. nirtorch's tracer is
``torch.fx`` symbolic tracing, which cannot follow the shape checks and time folding inside those
wrappers, and nirtorch has no notion of a time axis. So :func:`to_nir` traces a *single-step view*
of the network: a copy with every ``TimeDistributed`` replaced by the layer it wraps and every
neuron switched to single-step mode, which computes the same function one step at a time. Shapes
come from one real step of ``sample_input`` through that view. :func:`from_nir` builds a single-step
nirtorch graph module and :class:`NIRNetwork` loops it over time.

Time step: NIR stores continuous-time parameters, so exporter and importer must agree on ``dt``,
the seconds per discrete step. The default, :data:`DEFAULT_DT` = 1e-4 s, is the convention
SpikingJelly (``import_from_nir(dt=1e-4)``) and snnTorch (hard-coded ``dt = 1e-4``) assume, so a
graph exported with our defaults fires the same when they load it with theirs. :func:`to_nir`
records its ``dt`` in the graph's ``metadata["dt"]`` and :func:`from_nir` reads it back.
"""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path

import nir
import nirtorch
import numpy as np
import torch
from torch import nn

from ..layers import TimeDistributed
from ..neurons import ALIF, IF, LIF, CubaLIF, ParametricLIF, SpikingNeuron
from ..validation import check_float_tensor, check_positive, check_step_mode
from .nir_nodes import (
    EXPORTABLE_LAYERS,
    fold_batch_norm,
    layer_to_node,
    neuron_to_node,
    node_to_layer,
    node_to_neuron,
)

__all__ = ["to_nir", "from_nir", "read_nir", "graph_dt", "NIRNetwork", "DEFAULT_DT"]

DEFAULT_DT = 1e-4
"""Seconds per step when none is given: the convention of SpikingJelly's and snnTorch's NIR importers."""

_NEURONS = (IF, LIF, ParametricLIF, CubaLIF, ALIF)
_DROPPED = (nn.Identity, nn.Dropout)  # identities at inference: left out of the graph
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)  # folded into the layer before them
_IMPORTABLE = (nir.IF, nir.LIF, nir.CubaLIF, nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d)
_IMPORTABLE += (nir.AvgPool2d, nir.SumPool2d, nir.Flatten)


def _is_multi_step(module: nn.Module) -> bool:
    modes = {m.step_mode for m in module.modules() if isinstance(m, SpikingNeuron)}
    if len(modes) > 1:
        raise ValueError("the network mixes single-step and multi-step neurons; set one step_mode for all")
    has_time_layers = any(isinstance(m, TimeDistributed) for m in module.modules())
    return modes == {"m"} or (not modes and has_time_layers)


def _fold_norms(layers: list[nn.Module]) -> list[nn.Module]:
    """Fold each BatchNorm into the Linear or Conv right before it (see :func:`fold_batch_norm`)."""
    out: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, _NORMS) and out:
            out[-1] = fold_batch_norm(out[-1], layer)
        else:
            out.append(layer)
    return out


def _single_step_view(module: nn.Module) -> nn.Module:
    """A copy of ``module`` that runs one step ``[B, ...]``: wrappers unwrapped, neurons single-step,
    BatchNorms (inside ``nn.Sequential``) folded into the layer before them."""

    def unwrap(m: nn.Module) -> nn.Module:
        if isinstance(m, TimeDistributed):
            return unwrap(m.layer)
        if isinstance(m, SpikingNeuron):
            m.step_mode = "s"
            m.reset_state()
            return m
        if isinstance(m, nn.Sequential):
            return nn.Sequential(*_fold_norms([unwrap(c) for c in m if not isinstance(c, _DROPPED)]))
        for name, child in list(m.named_children()):
            setattr(m, name, unwrap(child))
        return m

    # The copy leaves out the neurons' current state (it may hold autograd history, which
    # deepcopy refuses) and any hooks (a Monitor on the original must not see the view run).
    memo = {}
    for m in module.modules():
        if isinstance(m, SpikingNeuron):
            memo[id(m.state)] = memo[id(m.v_seq)] = None
    view = copy.deepcopy(module, memo)
    for m in view.modules():
        m._forward_hooks.clear()
        m._forward_pre_hooks.clear()
    view = unwrap(view)
    # nirtorch maps a bare leaf module to a node, not a graph: wrap it so we always get a graph.
    return view if any(True for _ in view.children()) else nn.Sequential(view)


def _check_exportable(view: nn.Module) -> None:
    for name, m in view.named_modules():
        if isinstance(m, _NEURONS + EXPORTABLE_LAYERS):
            continue
        if isinstance(m, SpikingNeuron) or not any(True for _ in m.children()):
            raise ValueError(
                f"cannot export layer {name!r} of type {type(m).__name__} to NIR; supported: "
                + ", ".join(t.__name__ for t in _NEURONS[:-1] + EXPORTABLE_LAYERS)
                + " (Linear without bias is NIR Linear, with bias Affine; LPPool2d(1) is SumPool2d), "
                "inside nn.Sequential or neuro.TimeDistributed"
            )


def _record_shapes(view: nn.Module, x_step: torch.Tensor) -> dict[int, tuple]:
    """Per-sample input and output shapes of every leaf layer, from one real step."""
    shapes: dict[int, tuple] = {}

    def hook(module, inputs, output):
        shapes[id(module)] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))

    leaves = [m for m in view.modules() if isinstance(m, _NEURONS + EXPORTABLE_LAYERS)]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            view(x_step)
    finally:
        for h in handles:
            h.remove()
    return shapes


def to_nir(module: nn.Module, sample_input: torch.Tensor, dt: float = DEFAULT_DT) -> nir.NIRGraph:
    """Export a network of ``neuro`` neurons and stateless layers to a NIR graph.

    Parameters
    ----------
    module : nn.Module
        IF, LIF, ParametricLIF and CubaLIF neurons (hard reset) with Linear, Conv1d, Conv2d,
        AvgPool2d, LPPool2d(norm_type=1) (NIR SumPool2d) and Flatten layers, possibly inside
        ``nn.Sequential``, :class:`neuro.TimeDistributed` and :class:`neuro.Residual` (whose
        shortcut becomes a second edge into the next node; NIR sums a node's inputs), or in any
        module whose forward calls them in order and adds. Inside an ``nn.Sequential``, Identity
        and Dropout are left out and a BatchNorm1d/2d is folded into the Linear or Conv before it
        (with its running statistics, as at inference).
    sample_input : torch.Tensor
        A real input, ``[T, B, ...]`` for a multi-step network or ``[B, ...]`` for a single-step
        one; only its first step is run (on a copy) to learn the layer shapes.
    dt : float
        Seconds per step: NIR time constants are ``tau * dt`` (see :mod:`neuro.export.nir_nodes`).
        Default :data:`DEFAULT_DT` (1e-4 s, what SpikingJelly and snnTorch assume on import).

    Returns
    -------
    nir.NIRGraph
        One time step of one sample, with ``metadata["dt"]``; save it with ``nir.write(path, graph)``.

    Raises
    ------
    ValueError
        For soft-reset neurons, ALIF, or layers NIR cannot represent.
    """
    check_positive(dt, "dt")
    check_float_tensor(sample_input, "sample_input")
    multi_step = _is_multi_step(module)
    if multi_step and sample_input.dim() < 2:
        raise ValueError(
            f"a multi-step network needs sample_input [T, B, ...], got {tuple(sample_input.shape)}"
        )
    view = _single_step_view(module)
    _check_exportable(view)
    for m in view.modules():  # refuse soft reset and ALIF before running anything
        if isinstance(m, SpikingNeuron):
            neuron_to_node(m, (1,), dt)
    shapes = _record_shapes(view, sample_input[0] if multi_step else sample_input)

    def node_for(m):
        if id(m) not in shapes:
            raise ValueError(f"{type(m).__name__} was not reached by sample_input, so its shape is unknown")
        in_shape, out_shape = shapes[id(m)]
        return (
            neuron_to_node(m, out_shape, dt) if isinstance(m, SpikingNeuron) else layer_to_node(m, in_shape)
        )

    module_map = {cls: node_for for cls in _NEURONS + EXPORTABLE_LAYERS}
    try:
        graph = nirtorch.torch_to_nir(view, module_map, default_dict=None, type_check=False)
    except torch.fx.proxy.TraceError as err:
        raise ValueError(
            f"cannot trace {type(module).__name__} into a NIR graph ({err}); its forward must only "
            "call layers in order (nn.Sequential), not branch on tensor values or shapes"
        ) from err
    # Rebuilt with type checking: NIR infers the Output types (nirtorch leaves them empty) and
    # checks that every edge joins matching shapes.
    metadata = {"dt": float(dt), "exporter": "neuro.export"}
    return nir.NIRGraph(nodes=graph.nodes, edges=graph.edges, metadata=metadata, type_check=True)


def read_nir(path: str | Path) -> nir.NIRGraph:
    """Read a ``.nir`` (HDF5) file written by ``nir.write``; a broken file raises ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NIR file not found: {path}")
    try:
        graph = nir.read(path)
    except Exception as err:  # h5py, KeyError, AssertionError...: all mean "not a valid NIR file"
        raise ValueError(f"{path} is not a readable NIR graph ({type(err).__name__}: {err})") from err
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"{path} holds a single {type(graph).__name__} node, not a NIR graph")
    return graph


def _check_graph(graph: nir.NIRGraph) -> None:
    names = set(graph.nodes)
    for a, b in graph.edges:
        missing = [n for n in (a, b) if n not in names]
        if missing:
            raise ValueError(f"NIR graph edge ({a!r}, {b!r}) refers to missing node(s) {missing}")
    for kind in (nir.Input, nir.Output):
        count = sum(isinstance(n, kind) for n in graph.nodes.values())
        if count != 1:
            raise ValueError(f"NIR graph must have exactly one {kind.__name__} node, found {count}")
    for name, node in graph.nodes.items():
        if not isinstance(node, _IMPORTABLE + (nir.Input, nir.Output)):
            raise ValueError(
                f"NIR node {name!r} of type {type(node).__name__} cannot be imported; neuro imports "
                + ", ".join(t.__name__ for t in _IMPORTABLE)
            )


class NIRNetwork(nn.Module):
    """A network imported from NIR: a single-step nirtorch graph module, run over time.

    ``step_mode='m'`` (default) takes ``[T, B, ...]`` and returns the output spikes ``[T, B, ...]``;
    ``'s'`` takes one step ``[B, ...]``. Neuron state persists between calls until
    :func:`neuro.reset` clears it, as for every ``neuro`` network.
    """

    def __init__(self, graph_module: nn.Module, step_mode: str = "m"):
        super().__init__()
        check_step_mode(step_mode)
        self.graph = graph_module
        self.step_mode = step_mode

    def step(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.graph(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_float_tensor(x)
        if self.step_mode == "s":
            return self.step(x)
        if x.dim() < 2:
            raise ValueError(f"NIRNetwork in multi-step mode needs [T, B, ...], got shape {tuple(x.shape)}")
        return torch.stack([self.step(x_t) for x_t in x])


def graph_dt(graph: nir.NIRGraph) -> float | None:
    """The ``dt`` (seconds per step) recorded in ``graph.metadata``, or ``None`` when there is none.

    Raises
    ------
    ValueError
        The recorded ``dt`` is not a positive finite number.
    """
    value = (graph.metadata or {}).get("dt")
    if value is None:
        return None
    if isinstance(value, (np.ndarray, np.generic)) and value.size == 1:  # as HDF5 gives it back
        value = value.item()
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"the NIR graph's metadata dt must be a positive number of seconds, got {value!r}")
    return float(value)


def _resolve_dt(graph: nir.NIRGraph, dt: float | None) -> float:
    """``dt`` if given (warning when the graph records another), else the graph's, else DEFAULT_DT."""
    if dt is None:
        recorded = graph_dt(graph)
        return DEFAULT_DT if recorded is None else recorded
    check_positive(dt, "dt")
    try:
        recorded = graph_dt(graph)
    except ValueError as err:
        warnings.warn(f"{err}; using dt={dt:g} s as given", stacklevel=3)
        return dt
    if recorded is not None and not math.isclose(recorded, dt, rel_tol=1e-9):
        warnings.warn(
            f"from_nir: dt={dt:g} s given, but the graph was written with dt={recorded:g} s; "
            "using the given dt (time constants scale with it, so the network fires differently)",
            stacklevel=3,
        )
    return dt


def from_nir(graph: nir.NIRGraph | str | Path, dt: float | None = None, step_mode: str = "m") -> NIRNetwork:
    """Import a NIR graph (or a ``.nir`` file) as a ``neuro`` network.

    Parameters
    ----------
    graph : nir.NIRGraph or path
        A graph of IF, LIF, CubaLIF, Affine, Linear, Conv1d/2d, AvgPool2d, SumPool2d and Flatten
        nodes with one Input and one Output.
    dt : float, optional
        Seconds per step; neuron time constants become ``tau / dt`` steps. By default the ``dt``
        recorded in the graph's metadata (as :func:`to_nir` writes it), else :data:`DEFAULT_DT`.
        A given ``dt`` wins over the recorded one, with a warning when they differ.
    step_mode : str
        ``'m'`` for ``[T, B, ...]`` inputs (default), ``'s'`` for one step at a time.

    Raises
    ------
    ValueError
        For a broken file or graph, a recorded ``dt`` that is not a positive number (and no ``dt``
        given), node types outside the list above, or neuron parameters a ``neuro`` neuron cannot
        express (see :mod:`neuro.export.nir_nodes`).
    """
    if dt is not None:
        check_positive(dt, "dt")
    if isinstance(graph, (str, Path)):
        graph = read_nir(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir needs a nir.NIRGraph or a path, got {type(graph).__name__}")
    dt = _resolve_dt(graph, dt)
    _check_graph(graph)
    names = {id(node): name for name, node in graph.nodes.items()}

    def neuron(node):
        return node_to_neuron(names[id(node)], node, dt)

    def layer(node):
        return node_to_layer(names[id(node)], node)

    node_map = {t: neuron for t in (nir.IF, nir.LIF, nir.CubaLIF)}
    node_map.update({t: layer for t in _IMPORTABLE if t not in node_map})
    defaults = {nir.Input: lambda _: nn.Identity(), nir.Output: lambda _: nn.Identity()}
    return NIRNetwork(nirtorch.nir_to_torch(graph, node_map, default_map=defaults), step_mode)
