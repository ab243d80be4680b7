"""Energy estimates from a real forward pass: MACs of dense layers, synaptic operations of spiking ones.

A dense (ANN) layer multiplies and accumulates every input with every weight: one MAC each. A
layer fed with spikes only has to *add* the weights that a spike reaches: one synaptic operation
(SOP, an accumulate) per spike per target, ``SOPs = incoming spikes x fan-out``, counted from the
spikes that actually occurred. Energy is ``MACs * E_MAC + SOPs * E_AC``.

:class:`EnergyMeter` counts at the level of torch's operators (``mm``, ``addmm``, ``bmm``,
``convolution``, scaled dot-product attention), so it also sees matrix products that are not
modules, such as spiking self-attention's ``Q (K^T V)`` or a transformer's attention scores; forward
hooks on every module name the layer each operation belongs to. An operand counts as spikes when
all its values are 0 or 1 (the outputs of every ``neuro`` neuron and spike encoder).

Not counted (state them next to any number this module gives):

* memory traffic: reading weights and activations, often the larger cost on real hardware;
* neuron state updates (a few operations per neuron per step), bias additions, normalisation,
  activations, pooling and other elementwise work;
* an all-zero operand counts as spikes, and so costs nothing.

The default costs are 45 nm, 32-bit floating point, from M. Horowitz, "Computing's energy problem
(and what we can do about it)", IEEE ISSCC 2014: a multiply 3.7 pJ plus an add 0.9 pJ make a MAC
4.6 pJ; an accumulate is an add, 0.9 pJ.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from .validation import check_positive

__all__ = ["EnergyCosts", "HOROWITZ_45NM", "LayerEnergy", "EnergyReport", "EnergyMeter", "CAVEATS"]

CAVEATS = (
    "Memory traffic (weights, activations, neuron state) is not counted, nor neuron updates, "
    "bias additions, normalisation, activations or pooling: only multiply-accumulates of dense "
    "operands and accumulates triggered by spikes."
)


@dataclass(frozen=True)
class EnergyCosts:
    """Energy per operation in picojoules: ``mac_pj`` per multiply-accumulate, ``ac_pj`` per accumulate."""

    mac_pj: float = 4.6
    ac_pj: float = 0.9
    source: str = (
        "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014; "
        "45 nm, 32-bit float: MAC = mult 3.7 pJ + add 0.9 pJ, AC = add 0.9 pJ"
    )

    def __post_init__(self):
        check_positive(self.mac_pj, "mac_pj")
        check_positive(self.ac_pj, "ac_pj")

    def energy_pj(self, op_kind: str, ops: float) -> float:
        return ops * (self.mac_pj if op_kind == "MAC" else self.ac_pj)


HOROWITZ_45NM = EnergyCosts()


@dataclass(frozen=True)
class LayerEnergy:
    """One row of the report: the layer, its type, and its operations and energy per sample."""

    name: str
    type: str
    op_kind: str  # "MAC" (dense input) or "SOP" (spike input: accumulates)
    ops: float
    energy_pj: float


@dataclass(frozen=True)
class EnergyReport:
    """Per-layer operations and energy per sample, with totals and the costs used."""

    layers: tuple[LayerEnergy, ...]
    n_samples: int
    costs: EnergyCosts = HOROWITZ_45NM

    @property
    def macs(self) -> float:
        return sum(r.ops for r in self.layers if r.op_kind == "MAC")

    @property
    def sops(self) -> float:
        return sum(r.ops for r in self.layers if r.op_kind == "SOP")

    @property
    def energy_pj(self) -> float:
        return sum(r.energy_pj for r in self.layers)

    def grouped(self, depth: int = 1) -> EnergyReport:
        """Rows summed over layers sharing the first ``depth`` parts of their dotted names."""
        sums: dict[tuple[str, str], list[float]] = {}
        types: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r in self.layers:
            key = (".".join(r.name.split(".")[:depth]) or "(model)", r.op_kind)
            ops, energy = sums.get(key, (0.0, 0.0))
            sums[key] = [ops + r.ops, energy + r.energy_pj]
            types[key].add(r.type)
        rows = tuple(
            LayerEnergy(name, "/".join(sorted(types[(name, kind)])), kind, ops, energy)
            for (name, kind), (ops, energy) in sums.items()
        )
        return replace(self, layers=rows)

    def table(self) -> str:
        """A plain-text table: one row per layer, then the totals and the caveat."""
        head = f"{'layer':<40} {'type':<18} {'op':<4} {'ops/sample':>12} {'energy/sample':>14}"
        lines = [head, "-" * len(head)]
        for r in self.layers:
            lines.append(
                f"{r.name[-40:]:<40} {r.type[:18]:<18} {r.op_kind:<4} {_si(r.ops):>12} "
                f"{_si(r.energy_pj * 1e-12, 'J'):>14}"
            )
        lines.append("-" * len(head))
        lines.append(
            f"total: {_si(self.macs)} MAC + {_si(self.sops)} SOP = "
            f"{_si(self.energy_pj * 1e-12, 'J')} per sample ({self.n_samples} samples)"
        )
        lines.append(f"costs: {self.costs.mac_pj} pJ/MAC, {self.costs.ac_pj} pJ/AC ({self.costs.source})")
        lines.append(f"caveat: {CAVEATS}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "n_samples": self.n_samples,
            "layers": [asdict(r) for r in self.layers],
            "macs_per_sample": self.macs,
            "sops_per_sample": self.sops,
            "energy_pj_per_sample": self.energy_pj,
            "costs": asdict(self.costs),
            "caveat": CAVEATS,
        }


def _si(value: float, unit: str = "") -> str:
    """``1.23 M``-style numbers (``p``, ``n``, ``u``, ``m`` for small energies)."""
    if value == 0:
        return f"0 {unit}".strip()
    exponent = min(max(int(math.floor(math.log10(abs(value)) / 3)), -4), 4)
    prefix = {-4: "p", -3: "n", -2: "u", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T"}[exponent]
    return f"{value / 1000.0**exponent:.3g} {prefix}{unit}".strip()


def _is_spikes(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


def _matmul_ops(a: torch.Tensor, b: torch.Tensor) -> tuple[str, float]:
    """``a [..., M, K] @ b [..., K, N]``: dense MACs, or spikes x fan-out when an operand is binary."""
    if _is_spikes(a):
        return "SOP", float(torch.count_nonzero(a)) * b.shape[-1]
    if _is_spikes(b):
        return "SOP", float(torch.count_nonzero(b)) * a.shape[-2]
    return "MAC", float(a.numel()) * b.shape[-1]


def _conv_ops(
    x, weight, bias, stride, padding, dilation, transposed, output_padding, groups, out
) -> tuple[str, float]:
    # weight[0] holds the weights one output reads (C_in/groups x kernel), or, transposed, the
    # weights one input reaches (C_out/groups x kernel).
    per_element = weight[0].numel()
    if not _is_spikes(x):
        return "MAC", float((x if transposed else out).numel() * per_element)
    if transposed:
        return "SOP", float(torch.count_nonzero(x)) * per_element
    # Exact fan-out, borders included: how many weights each output adds, given where the spikes are.
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[weight.dim() - 2]
    reached = conv(
        (x != 0).to(weight.dtype), torch.ones_like(weight), None, stride, padding, dilation, groups
    )
    return "SOP", float(reached.sum())


def _attention_ops(q, k, v) -> tuple[str, float]:
    # Scores q k^T and the weighted sum of v: two products of [..., L, d] by [..., d, S].
    return "MAC", 2.0 * q.numel() * k.shape[-2]


_aten = torch.ops.aten
_COUNTERS = {
    _aten.mm.default: lambda args, out: _matmul_ops(args[0], args[1]),
    _aten.bmm.default: lambda args, out: _matmul_ops(args[0], args[1]),
    _aten.addmm.default: lambda args, out: _matmul_ops(args[1], args[2]),
    _aten.baddbmm.default: lambda args, out: _matmul_ops(args[1], args[2]),
    _aten.convolution.default: lambda args, out: _conv_ops(*args[:9], out),
}
for _name in ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention"):
    _op = getattr(_aten, _name, None)
    if _op is not None:
        _COUNTERS[_op.default] = lambda args, out: _attention_ops(*args[:3])
for _name in ("_scaled_dot_product_flash_attention", "_scaled_dot_product_cudnn_attention"):
    _op = getattr(_aten, _name, None)
    if _op is not None:
        _COUNTERS[_op.default] = lambda args, out: _attention_ops(*args[:3])


class _OpCounter(TorchDispatchMode):
    def __init__(self, meter: EnergyMeter):
        super().__init__()
        self.meter = meter

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        counter = _COUNTERS.get(func)
        if counter is not None:
            self.meter._add(*counter(args, out))
        return out


class EnergyMeter:
    """Count the operations of every layer of ``model`` while it runs; a context manager.

    Run real data through the model inside the ``with`` block (as many batches as you like),
    then call :meth:`report` with the number of samples seen::

        with EnergyMeter(model) as meter, torch.no_grad():
            for x in batches:
                model(x)
        print(meter.report(n_samples).table())

    Parameters
    ----------
    model : nn.Module
        The network; operations are attributed to its innermost running submodule.
    costs : EnergyCosts
        Picojoules per MAC and per accumulate (default: 45 nm, Horowitz 2014).
    """

    def __init__(self, model: nn.Module, costs: EnergyCosts = HOROWITZ_45NM):
        if not isinstance(model, nn.Module):
            raise TypeError(f"EnergyMeter needs an nn.Module, got {type(model).__name__}")
        if not isinstance(costs, EnergyCosts):
            raise TypeError(f"costs must be an EnergyCosts, got {type(costs).__name__}")
        self.model = model
        self.costs = costs
        self.counts: dict[tuple[str, str, str], float] = defaultdict(float)
        self._stack: list[tuple[str, str]] = []
        self._handles = []
        self._mode = _OpCounter(self)

    def _add(self, op_kind: str, ops: float) -> None:
        name, kind = self._stack[-1] if self._stack else ("(model)", type(self.model).__name__)
        self.counts[(name, kind, op_kind)] += ops

    def _enter_module(self, name):
        def pre(module, args):
            self._stack.append((name or "(model)", type(module).__name__))

        def post(module, args, output):
            self._stack.pop()

        return pre, post

    def __enter__(self) -> EnergyMeter:
        for name, module in self.model.named_modules():
            pre, post = self._enter_module(name)
            self._handles.append(module.register_forward_pre_hook(pre))
            self._handles.append(module.register_forward_hook(post))
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._stack.clear()

    def report(self, n_samples: int) -> EnergyReport:
        """Operations and energy per sample, over everything run inside the ``with`` block."""
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int (the samples run), got {n_samples!r}")
        rows = tuple(
            LayerEnergy(name, kind, op_kind, ops / n_samples, self.costs.energy_pj(op_kind, ops / n_samples))
            for (name, kind, op_kind), ops in self.counts.items()
        )
        return EnergyReport(rows, n_samples, self.costs)
