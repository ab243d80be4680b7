r"""One NIR node per ``neuro`` neuron or torch layer, and back: the dt mapping lives here.

NIR describes neurons as ODEs in continuous time (seconds); ``neuro`` neurons are discrete maps
with time constants in steps. Each mapping below is chosen so that a simulator integrating NIR's
ODE with forward Euler at step ``dt`` (``v <- v + dt * dv/dt``, the synaptic current first, then
the membrane with the new current) performs the same update as the ``neuro`` neuron. ``tau`` is in
steps in ``neuro`` and in seconds in NIR.

**IF** (``H = V + X``). NIR: :math:`\dot v = R I`, so Euler gives :math:`V + dt\,R\,X`:
``r = 1/dt``, ``v_threshold``, ``v_reset``.

**LIF**, ``decay_input=True`` (``H = V + (V_reset - V + X) / tau``). NIR:
:math:`\tau_{nir} \dot v = (v_{leak} - v) + R I`, Euler gives
:math:`V + (dt/\tau_{nir})(v_{leak} - V + R X)`: ``tau = tau * dt``, ``r = 1``,
``v_leak = v_reset``.

**LIF**, ``decay_input=False`` (``H = V + (V_reset - V) / tau + X``): the same with ``r = tau``
(steps), so that :math:`(dt/\tau_{nir}) R X = X`.

**ParametricLIF**: exported as a LIF with its *current* ``tau = 1 / sigmoid(w)`` (NIR has no
learnable leak); it is imported back as a plain LIF.

**CubaLIF** (see :mod:`neuro.functional.cuba_lif`, already NIR's equations with time in steps):
``tau_syn = tau_syn * dt``, ``tau_mem = tau_mem * dt``; ``r``, ``w_in`` and ``v_leak`` unchanged.

**ALIF** has no NIR node (NIR 1.0 has no adaptive threshold) and is refused.

**Reset.** NIR 1.0 neurons reset *to* ``v_reset`` (hard reset) and have no field for a reset by
subtraction, so a soft-reset neuron (``v_reset=None``) is refused with a ``ValueError``; it is
never silently exported as a hard reset.

**Threshold.** ``neuro`` spikes where ``H >= v_threshold``; NIR's text says ``v > v_threshold``.
The two differ only when the potential lands exactly on the threshold.

``detach_reset`` and the surrogate gradient only shape training and have no NIR field; imported
neurons use the defaults. Imported neurons run in single-step mode (see :mod:`neuro.export.nir`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import nir
import numpy as np
import torch
from torch import nn

from ..layers import Linear
from ..neurons import ALIF, IF, LIF, CubaLIF, ParametricLIF, SpikingNeuron

__all__ = [
    "neuron_to_node",
    "node_to_neuron",
    "layer_to_node",
    "node_to_layer",
    "fold_batch_norm",
    "EXPORTABLE_LAYERS",
]


def _hard_reset(neuron: SpikingNeuron) -> float:
    p = neuron.parameters_tuple()
    if p.v_reset is None:
        raise ValueError(
            f"{type(neuron).__name__} uses a soft reset (v_reset=None), but NIR {nir.version} only has "
            "a hard reset to v_reset; exporting it would change its behaviour. Use a hard reset "
            "(v_reset=0.0) to export this model"
        )
    return float(p.v_reset)


def _full(shape, value) -> np.ndarray:
    return np.full(tuple(shape), value, dtype=np.float64)


def neuron_to_node(neuron: SpikingNeuron, shape, dt: float) -> nir.NIRNode:
    """The NIR node for ``neuron`` over a layer of ``shape`` neurons (one sample, one step)."""
    if isinstance(neuron, ALIF):
        raise ValueError(
            f"ALIF cannot be exported: NIR {nir.version} has no neuron with an adaptive threshold "
            "(its neurons are IF, LIF, CubaLIF, I, LI, CubaLI)"
        )
    v_reset = _hard_reset(neuron)
    p = neuron.parameters_tuple()
    threshold = _full(shape, p.v_threshold)
    if isinstance(neuron, IF):
        return nir.IF(r=_full(shape, 1.0 / dt), v_threshold=threshold, v_reset=_full(shape, v_reset))
    if isinstance(neuron, (LIF, ParametricLIF)):
        tau = neuron.tau if isinstance(neuron, ParametricLIF) else p.tau
        return nir.LIF(
            tau=_full(shape, tau * dt),
            r=_full(shape, 1.0 if p.decay_input else tau),
            v_leak=_full(shape, v_reset),
            v_threshold=threshold,
            v_reset=_full(shape, v_reset),
        )
    if isinstance(neuron, CubaLIF):
        return nir.CubaLIF(
            tau_syn=_full(shape, p.tau_syn * dt),
            tau_mem=_full(shape, p.tau_mem * dt),
            r=_full(shape, p.r),
            v_leak=_full(shape, p.v_leak),
            v_threshold=threshold,
            v_reset=_full(shape, v_reset),
            w_in=_full(shape, p.w_in),
        )
    raise ValueError(f"no NIR mapping for neuron type {type(neuron).__name__}")


def _uniform(node_name: str, node: nir.NIRNode, field: str) -> float:
    values = np.unique(np.asarray(getattr(node, field), dtype=np.float64))
    if values.size != 1:
        raise ValueError(
            f"NIR node {node_name!r} ({type(node).__name__}) has {values.size} different values of "
            f"{field}; neuro neurons share one value per layer"
        )
    return float(values[0])


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def node_to_neuron(name: str, node: nir.NIRNode, dt: float) -> SpikingNeuron:
    """The single-step ``neuro`` neuron for an IF, LIF or CubaLIF node (inverse of :func:`neuron_to_node`)."""

    def get(field):
        return _uniform(name, node, field)

    fire = dict(v_threshold=get("v_threshold"), v_reset=get("v_reset"), step_mode="s")
    if isinstance(node, nir.IF):
        if not _close(get("r") * dt, 1.0):
            raise ValueError(
                f"NIR IF node {name!r} has r={get('r')}, but a neuro IF adds its input unscaled, "
                f"which needs r = 1/dt = {1.0 / dt} at dt={dt}"
            )
        return IF(**fire)
    if isinstance(node, nir.LIF):
        tau = get("tau") / dt
        r, v_leak = get("r"), get("v_leak")
        if not _close(v_leak, fire["v_reset"]):
            raise ValueError(
                f"NIR LIF node {name!r} leaks to v_leak={v_leak} but resets to {fire['v_reset']}; "
                "a neuro LIF leaks to its reset potential"
            )
        if _close(r, 1.0):
            decay_input = True
        elif _close(r, tau):
            decay_input = False
        else:
            raise ValueError(
                f"NIR LIF node {name!r} has r={r}; a neuro LIF needs r=1 (decay_input=True) or "
                f"r=tau/dt={tau} (decay_input=False) at dt={dt}"
            )
        return LIF(tau=tau, decay_input=decay_input, **fire)
    if isinstance(node, nir.CubaLIF):
        neuron = CubaLIF(tau=get("tau_mem") / dt, tau_syn=get("tau_syn") / dt, v_leak=get("v_leak"), **fire)
        neuron.params = replace(neuron.params, r=get("r"), w_in=get("w_in"))
        return neuron
    raise ValueError(f"NIR node {name!r} of type {type(node).__name__} is not a neuron neuro can import")


# --- stateless layers ---------------------------------------------------------------------------


def fold_batch_norm(layer: nn.Module, norm: nn.Module) -> nn.Module:
    """A copy of ``layer`` (Linear or Conv) computing ``norm(layer(x))`` with the norm's running statistics.

    NIR has no normalisation node; at inference a BatchNorm is an affine map per channel, which
    the weights and bias of the layer before it absorb.
    """
    if not isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        raise ValueError(
            f"only a BatchNorm after Linear or Conv1d/Conv2d can be folded, not after {type(layer).__name__}"
        )
    if not norm.track_running_stats or norm.running_var is None:
        raise ValueError(
            f"{type(norm).__name__} without running statistics cannot be folded into {type(layer).__name__}"
        )
    out = layer.weight.shape[0]
    if norm.num_features != out:
        raise ValueError(
            f"{type(norm).__name__}({norm.num_features}) does not follow a layer of {out} outputs"
        )
    with torch.no_grad():
        scale = torch.rsqrt(norm.running_var + norm.eps)
        shift = -norm.running_mean * scale
        if norm.affine:
            scale, shift = scale * norm.weight, shift * norm.weight + norm.bias
        folded = copy.deepcopy(layer)
        folded.weight.mul_(scale.view(-1, *[1] * (layer.weight.dim() - 1)))
        bias = layer.bias if layer.bias is not None else torch.zeros(out)
        folded.bias = nn.Parameter(bias * scale + shift)
    return folded


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _conv_to_node(conv, in_shape) -> nir.NIRNode:
    bias = _numpy(conv.bias) if conv.bias is not None else np.zeros(conv.out_channels, np.float32)
    if conv.padding_mode != "zeros":
        raise ValueError(
            f"{type(conv).__name__} with padding_mode={conv.padding_mode!r}: NIR pads with zeros"
        )
    common = dict(weight=_numpy(conv.weight), dilation=conv.dilation, groups=conv.groups, bias=bias)
    if isinstance(conv, nn.Conv1d):
        return nir.Conv1d(
            input_shape=int(in_shape[-1]),
            stride=conv.stride[0],
            padding=conv.padding if isinstance(conv.padding, str) else conv.padding[0],
            **{**common, "dilation": conv.dilation[0]},
        )
    return nir.Conv2d(input_shape=tuple(in_shape[-2:]), stride=conv.stride, padding=conv.padding, **common)


def _pool_to_node(pool) -> nir.NIRNode:
    def pair(v):
        return np.array(v if isinstance(v, (tuple, list)) else (v, v))

    if isinstance(pool, nn.AvgPool2d):
        if pool.ceil_mode or (not pool.count_include_pad and np.any(pair(pool.padding))):
            raise ValueError("AvgPool2d with ceil_mode or count_include_pad=False has no NIR node")
        if pool.divisor_override is not None:
            raise ValueError("AvgPool2d with divisor_override has no NIR node")
        return nir.AvgPool2d(
            kernel_size=pair(pool.kernel_size), stride=pair(pool.stride), padding=pair(pool.padding)
        )
    if pool.norm_type != 1 or pool.ceil_mode:
        raise ValueError(
            f"only LPPool2d(norm_type=1) (a sum pool) has a NIR node, got norm_type={pool.norm_type}"
        )
    return nir.SumPool2d(
        kernel_size=pair(pool.kernel_size), stride=pair(pool.stride or pool.kernel_size), padding=pair(0)
    )


def _flatten_to_node(flatten: nn.Flatten, in_shape) -> nir.Flatten:
    # NIR shapes leave out the batch axis: torch dim d (d >= 1) is NIR dim d - 1.
    if flatten.start_dim == 0:
        raise ValueError("Flatten(start_dim=0) folds the batch axis, which NIR shapes leave out")
    start = flatten.start_dim - 1 if flatten.start_dim > 0 else flatten.start_dim
    end = flatten.end_dim - 1 if flatten.end_dim > 0 else flatten.end_dim
    return nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=start, end_dim=end)


def layer_to_node(layer: nn.Module, in_shape) -> nir.NIRNode:
    """The NIR node for a stateless layer whose per-sample input shape is ``in_shape``."""
    if isinstance(layer, nn.Linear):
        if layer.bias is None:
            return nir.Linear(weight=_numpy(layer.weight))
        return nir.Affine(weight=_numpy(layer.weight), bias=_numpy(layer.bias))
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        return _conv_to_node(layer, in_shape)
    if isinstance(layer, (nn.AvgPool2d, nn.LPPool2d)):
        return _pool_to_node(layer)
    if isinstance(layer, nn.Flatten):
        return _flatten_to_node(layer, in_shape)
    raise ValueError(f"no NIR mapping for layer type {type(layer).__name__}")


EXPORTABLE_LAYERS = (nn.Linear, Linear, nn.Conv1d, nn.Conv2d, nn.AvgPool2d, nn.LPPool2d, nn.Flatten)


def _value(v):
    a = np.asarray(v)
    return a.item() if a.ndim == 0 else tuple(int(i) for i in a.tolist())


def _tensor(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def node_to_layer(name: str, node: nir.NIRNode) -> nn.Module:
    """The torch layer for a stateless NIR node (inverse of :func:`layer_to_node`)."""
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = np.asarray(node.weight)
        if weight.ndim != 2:
            raise ValueError(f"NIR node {name!r}: weight must be 2-D [out, in], got shape {weight.shape}")
        bias = isinstance(node, nir.Affine)
        layer = Linear(weight.shape[1], weight.shape[0], bias=bias)
        layer.weight.data = _tensor(weight)
        if bias:
            layer.bias.data = _tensor(node.bias)
        return layer
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        weight = np.asarray(node.weight)
        cls = nn.Conv1d if isinstance(node, nir.Conv1d) else nn.Conv2d
        padding = node.padding if isinstance(node.padding, str) else _value(node.padding)
        layer = cls(
            weight.shape[1] * int(node.groups),
            weight.shape[0],
            weight.shape[2:],
            stride=_value(node.stride),
            padding=padding,
            dilation=_value(node.dilation),
            groups=int(node.groups),
        )
        layer.weight.data = _tensor(weight)
        layer.bias.data = _tensor(node.bias)
        return layer
    if isinstance(node, nir.AvgPool2d):
        return nn.AvgPool2d(_value(node.kernel_size), _value(node.stride), _value(node.padding))
    if isinstance(node, nir.SumPool2d):
        if np.any(np.asarray(node.padding)):
            raise ValueError(f"NIR SumPool2d node {name!r} has padding, which torch's sum pool lacks")
        return nn.LPPool2d(1, _value(node.kernel_size), _value(node.stride))
    if isinstance(node, nir.Flatten):
        start = node.start_dim + 1 if node.start_dim >= 0 else node.start_dim
        end = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim
        return nn.Flatten(start, end)
    raise ValueError(f"NIR node {name!r} of type {type(node).__name__} is not a layer neuro can import")
