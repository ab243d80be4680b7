"""The abstract (spiking) encoder: spike encoding, spiking blocks made of ``neuro`` modules, readout.

All multi-step tensors are ``[T, B, N, D]`` (time, batch, tokens, channels). The blocks keep a
residual stream ``U`` of membrane-like values and add each sub-block's output to it, as in the
Spike-driven Transformer / MS-ResNet ("membrane shortcut"): every sub-block starts with a spiking
neuron, so its weights only ever see binary spikes.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

import neuro
from neuro import LIF, ParametricLIF, SpikingNeuron

from ..config import AbstractConfig

__all__ = [
    "AbstractOutput",
    "AbstractEncoder",
    "SpikingBlock",
    "SpikingMLP",
    "SpikingSelfAttention",
    "SpikePoolMixer",
    "linear_norm",
    "masked_token_mean",
    "rename_legacy_keys",
    "pool_onto_grid",
    "repeat_onto_grid",
    "tokenwise",
]


class AbstractOutput(NamedTuple):
    """The spiking encoder's result.

    ``spikes``: output spike latents ``[T, B, N, D]``; ``steps``: per-step readout ``[T, B, D]``
    (its last step is ``readout``); ``readout``: the embedding ``[B, D]``; ``firing_rate``: spikes
    per neuron per step over every spiking layer, total spikes over total neuron-steps (as
    :meth:`neuro.Monitor.firing_rate` counts them; a detached scalar).
    """

    spikes: torch.Tensor
    steps: torch.Tensor
    readout: torch.Tensor
    firing_rate: torch.Tensor


def masked_token_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over the token axis (``-2``) of ``[..., B, N, D]``, only tokens where ``mask`` is true."""
    if mask is None:
        return x.mean(dim=-2)
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(dim=-2) / m.sum(dim=-2).clamp(min=1)


def _square_maps(tokens: torch.Tensor, n: int, finer: bool) -> tuple[torch.Tensor, int]:
    """Tokens ``[B, N, D]`` as a map ``[B, D, s, s]`` and the side of the ``n``-token map they go onto."""
    side, target = math.isqrt(tokens.shape[1]), math.isqrt(n)
    if side * side != tokens.shape[1] or target * target != n or (target < side if finer else target > side):
        raise ValueError(
            f"cannot {'repeat' if finer else 'pool'} {tokens.shape[1]} tokens onto a grid of {n}: both must "
            f"be square maps, the grid at least as {'fine' if finer else 'coarse'} (use square images)"
        )
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, side, side), target


def repeat_onto_grid(tokens: torch.Tensor, n: int) -> torch.Tensor:
    """Tokens ``[B, N, D]`` of a square ``sqrt(N)``-side map repeated onto a square map of ``n`` tokens
    (nearest neighbour): ``[B, n, D]``."""
    x, target = _square_maps(tokens, n, finer=True)
    return F.interpolate(x, size=(target, target), mode="nearest").flatten(2).transpose(1, 2)


def pool_onto_grid(tokens: torch.Tensor, n: int) -> torch.Tensor:
    """Tokens ``[B, N, D]`` of a square map averaged onto a coarser square map of ``n`` tokens
    (adaptive average pooling): ``[B, n, D]``; e.g. spike rates on a level grid onto the backbone's tokens."""
    x, target = _square_maps(tokens, n, finer=False)
    return F.adaptive_avg_pool2d(x, target).flatten(2).transpose(1, 2)


def tokenwise(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``layer`` (over ``[T, M, D]``) on tokens ``[T, B, N, D]``, tokens folded into the batch axis."""
    y = layer(x.flatten(1, 2))
    return y.view(*x.shape[:3], y.shape[-1])


def linear_norm(d_in: int, d_out: int) -> neuro.TimeDistributed:
    """``Linear`` (no bias) then ``BatchNorm1d`` over ``[T, M, d_in]`` (NIR export folds the norm in)."""
    layers = OrderedDict(linear=neuro.Linear(d_in, d_out, bias=False), norm=nn.BatchNorm1d(d_out))
    return neuro.TimeDistributed(nn.Sequential(layers))


def _neuron(cfg: AbstractConfig, v_threshold: float | None = None) -> SpikingNeuron:
    kind = ParametricLIF if cfg.neuron == "plif" else LIF
    return kind(
        tau=cfg.tau,
        v_threshold=cfg.v_threshold if v_threshold is None else v_threshold,
        detach_reset=cfg.detach_reset,
    )


class SpikingMLP(nn.Sequential):
    """Channel MLP on spikes, each token alone: ``LIF -> linear_norm(D, hD) -> LIF -> linear_norm(hD, D)``.

    Input and output ``[T, M, D]`` (``M`` tokens of any samples); only ``neuro`` modules, so it
    exports to NIR as it is.
    """

    def __init__(self, cfg: AbstractConfig):
        hidden = max(1, round(cfg.dim * cfg.mlp_ratio))
        super().__init__(
            OrderedDict(
                neuron_in=_neuron(cfg),
                fc1=linear_norm(cfg.dim, hidden),
                neuron_hidden=_neuron(cfg),
                fc2=linear_norm(hidden, cfg.dim),
            )
        )


class SpikingSelfAttention(nn.Module):
    """Spikformer's spiking self-attention (SSA): no softmax, binary Q, K, V.

    ``S = LIF(U)``; ``Q, K, V = LIF(BN(W_{q,k,v} S))`` split into heads of width ``d``;
    ``A = Q (K^T V) / sqrt(d)`` (equal to ``(Q K^T) V / sqrt(d)``, computed in linear time in the
    tokens); output ``BN(W_o LIF_{0.5}(BN(A)))`` with an attention neuron of threshold 0.5. The
    ``BN`` on ``A`` (not in Spikformer) keeps the attention neuron firing for any token count and
    spike rate. Masked (padding) tokens are removed from ``K`` and ``V``.
    """

    def __init__(self, cfg: AbstractConfig):
        super().__init__()
        self.heads = cfg.heads
        self.scale = (cfg.dim // cfg.heads) ** -0.5
        self.neuron_in = _neuron(cfg)
        self.q, self.k, self.v = (linear_norm(cfg.dim, cfg.dim) for _ in range(3))
        self.neuron_q, self.neuron_k, self.neuron_v = _neuron(cfg), _neuron(cfg), _neuron(cfg)
        self.attn_norm = nn.BatchNorm1d(cfg.dim)
        self.neuron_attn = _neuron(cfg, v_threshold=0.5)
        self.out = linear_norm(cfg.dim, cfg.dim)

    def forward(self, u: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        T, B, N, D = u.shape
        s = self.neuron_in(u)

        def heads(x):
            return x.view(T, B, N, self.heads, D // self.heads).transpose(2, 3)  # [T, B, h, N, d]

        q = heads(self.neuron_q(tokenwise(self.q, s)))
        k = heads(self.neuron_k(tokenwise(self.k, s)))
        v = heads(self.neuron_v(tokenwise(self.v, s)))
        if mask is not None:
            keep = mask.to(u.dtype).view(1, B, 1, N, 1)
            k, v = k * keep, v * keep
        a = (q @ (k.transpose(-2, -1) @ v)) * self.scale
        a = self.attn_norm(a.transpose(2, 3).reshape(T * B * N, D)).view(T, B, N, D)
        return tokenwise(self.out, self.neuron_attn(a))


class SpikePoolMixer(nn.Module):
    """Token mixer without attention: ``BN(W mean_tokens(LIF(U)))`` added to each token (MetaFormer)."""

    def __init__(self, cfg: AbstractConfig):
        super().__init__()
        self.neuron_in = _neuron(cfg)
        self.proj = linear_norm(cfg.dim, cfg.dim)

    def forward(self, u: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        s = self.neuron_in(u)
        return self.proj(masked_token_mean(s, mask)).unsqueeze(2)


class SpikingBlock(nn.Module):
    """``U <- U + mixer(U)`` (transformer blocks only), then ``U <- U + MLP(U)``, on ``[T, B, N, D]``."""

    def __init__(self, cfg: AbstractConfig):
        super().__init__()
        if cfg.block == "transformer":
            self.mixer = SpikingSelfAttention(cfg) if cfg.attention else SpikePoolMixer(cfg)
        else:
            self.mixer = None
        self.mlp = SpikingMLP(cfg)

    def forward(self, u: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.mixer is not None:
            u = u + self.mixer(u, mask)
        return u + tokenwise(self.mlp, u)


def rename_legacy_keys(state_dict: dict, prefix: str = "") -> dict:
    """Rename, in place, the state-dict keys of a spiking encoder saved by ashnet 0.1 to today's names.

    In 0.1 each ``Linear`` + ``BatchNorm1d`` pair was a module of its own (``X.linear.*``,
    ``X.norm.*``); it is now a :class:`neuro.TimeDistributed` (``X.layer.linear.*``,
    ``X.layer.norm.*``). Only keys under ``prefix`` (the encoder's place in a larger model, such
    as ``"abstract."``) change; keys already in today's form are left alone. Returns ``state_dict``.
    """

    def renamed(key: str) -> str:
        parts = key[len(prefix) :].split(".")
        legacy = len(parts) >= 3 and parts[-2] in ("linear", "norm") and parts[-3] != "layer"
        if key.startswith(prefix) and legacy:
            return prefix + ".".join(parts[:-2] + ["layer"] + parts[-2:])
        return key

    items = list(state_dict.items())  # rebuilt in the same order
    state_dict.clear()
    state_dict.update((renamed(k), v) for k, v in items)
    return state_dict


class AbstractEncoder(nn.Module):
    """Spiking encoder of token sequences ``[B, N, d_in]`` (image tokens, or text tokens through STUA).

    1. Project and normalise: ``X = LayerNorm(W_in tokens)`` ``[B, N, D]`` (the LayerNorm's scale
       starts at ``input_gain``). With a stage ``grid`` ``[B, N_grid, sum C_k]`` (the backbone's
       earlier levels, ``cfg.stages``, whose widths are ``stage_dims``) each level ``k`` has its own
       projection ``W_k``, the final tokens' projection is repeated onto the grid, and the levels,
       earliest first, either sum into one current, ``X = LayerNorm(sum_k W_k x_k)``
       (``stage_timing: together``), or each drive one contiguous window of the ``T`` steps,
       ``X_t = LayerNorm(W_k(t) x_k(t))`` (``cascade``: a hierarchy in time). Without a grid
       (captions through STUA) only the final tokens' projection is used.
    2. Encode over ``T`` steps: ``direct`` feeds ``X`` as an analog current (the first LIF layer
       spikes); ``poisson`` draws Bernoulli spikes ``S`` with probability ``p = sigmoid(X)`` and
       feeds ``linear_norm(S)`` on (binary input alone could never lift a LIF with ``decay_input``
       to threshold 1); a straight-through gradient (``S + p - p.detach()``) lets the projection learn.
    3. ``depth`` :class:`SpikingBlock` s, then an output LIF layer: spike latents ``[T, B, N, D]``.
    4. Readout of the token-mean spikes ``r_t``: ``rate`` gives the firing rate so far,
       ``e_t = (1/t) sum_{s<=t} r_s``; ``membrane`` gives the potential of a non-spiking leaky
       integrator, ``m_t = m_{t-1} + (r_t - m_{t-1}) / tau`` (``m_0 = 0``). The embedding is the last step.

    The blocks are ``neuro`` neurons, :class:`neuro.TimeDistributed` layers and norms; a
    :class:`neuro.Monitor` counts their spikes during each pass (``firing_rate`` of the output).
    The neuron states are cleared before and after every forward pass (so no autograd graph is
    kept alive between calls and the module can be deep-copied). State dicts of ashnet 0.1 load
    (see :func:`rename_legacy_keys`).
    """

    def __init__(self, cfg: AbstractConfig, d_in: int, stage_dims: tuple[int, ...] = ()):
        super().__init__()
        if len(stage_dims) != len(cfg.stages):
            raise ValueError(
                f"stage_dims {list(stage_dims)} must give the width of each of stages {list(cfg.stages)}"
            )
        self.cfg = cfg
        self.input = neuro.Linear(d_in, cfg.dim)
        self.stage_inputs = nn.ModuleList(neuro.Linear(c, cfg.dim) for c in stage_dims)
        self.input_norm = nn.LayerNorm(cfg.dim)
        nn.init.constant_(self.input_norm.weight, cfg.input_gain)
        self.spike_input = linear_norm(cfg.dim, cfg.dim) if cfg.encoding == "poisson" else None
        self.blocks = nn.ModuleList(SpikingBlock(cfg) for _ in range(cfg.depth))
        self.neuron_out = _neuron(cfg)
        self.register_load_state_dict_pre_hook(_rename_legacy_keys_hook)

    def levels(self, tokens: torch.Tensor, grid: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The input projections ``[B, N, D]``, earliest level first (the final tokens last; alone
        without a grid). With a grid, ``N`` is its token count and the final tokens are repeated onto it."""
        final = self.input(tokens)
        if grid is None or not self.stage_inputs:
            return [final]
        parts = grid.split([layer.in_features for layer in self.stage_inputs], dim=-1)
        return [layer(x) for layer, x in zip(self.stage_inputs, parts, strict=True)] + [
            repeat_onto_grid(final, grid.shape[1])
        ]

    def encode(
        self, tokens: torch.Tensor, mask: torch.Tensor | None = None, grid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Tokens ``[B, N, d_in]`` (and the stage grid) to the first block input ``[T, B, N, D]``
        (steps 1-2); masked tokens get no input."""
        levels, T = self.levels(tokens, grid), self.cfg.time_steps
        keep = 1.0 if mask is None else mask.to(levels[0].dtype).unsqueeze(-1)
        if self.cfg.stage_timing == "cascade" and len(levels) > 1:  # one window of steps per level
            windows = [len(w) for w in torch.arange(T).tensor_split(len(levels))]
        else:
            levels, windows = [levels[0] if len(levels) == 1 else torch.stack(levels).sum(0)], [T]
        currents = [self.input_norm(v) * keep for v in levels]
        if self.cfg.encoding == "direct":
            return torch.cat([neuro.encoders.direct(x, n) for x, n in zip(currents, windows, strict=True)])
        probs = [torch.sigmoid(x) * keep for x in currents]
        spikes = [
            neuro.encoders.poisson(p.detach(), n) + (p - p.detach())
            for p, n in zip(probs, windows, strict=True)
        ]
        return tokenwise(self.spike_input, torch.cat(spikes))

    def readout(self, spikes: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-step readout ``[T, B, D]`` of the token-mean of output spikes ``[T, B, N, D]`` (step 4)."""
        rates = masked_token_mean(spikes, mask)
        if self.cfg.readout == "rate":
            steps = torch.arange(1, rates.shape[0] + 1, device=rates.device, dtype=rates.dtype)
            return rates.cumsum(0) / steps.view(-1, 1, 1)
        m, out = torch.zeros_like(rates[0]), []
        for r in rates:
            m = m + (r - m) / self.cfg.tau
            out.append(m)
        return torch.stack(out)

    def _spike_counter(self) -> contextlib.AbstractContextManager:
        """A counting :class:`neuro.Monitor` of every neuron here (none in an ANN twin: nothing to count)."""
        if not any(isinstance(m, SpikingNeuron) for m in self.modules()):
            return contextlib.nullcontext()
        return neuro.Monitor(self, record_spikes=False)

    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor | None = None, grid: torch.Tensor | None = None
    ) -> AbstractOutput:
        """Spike latents and readout of ``tokens`` ``[B, N, d_in]``, or of the stage ``grid`` with the
        final tokens on it; ``mask`` ``[B, N]`` (``[B, N_grid]`` with a grid) marks real tokens."""
        if tokens.dim() != 3 or tokens.shape[-1] != self.input.in_features:
            raise ValueError(
                f"abstract encoder expects tokens [B, N, {self.input.in_features}], got {tuple(tokens.shape)}"
            )
        width = sum(layer.in_features for layer in self.stage_inputs)
        if grid is not None and (
            grid.dim() != 3 or grid.shape[0] != tokens.shape[0] or grid.shape[-1] != width
        ):
            raise ValueError(
                f"stage grid must be [B, N_grid, {width}] for this encoder, got {tuple(grid.shape)}"
            )
        n = tokens.shape[:2] if grid is None or not width else grid.shape[:2]
        if mask is not None and mask.shape != n:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match the spiking tokens {tuple(n)}")
        neuro.reset(self)
        with self._spike_counter() as counter:
            u = self.encode(tokens, mask, grid)
            for block in self.blocks:
                u = block(u, mask)
            spikes = self.neuron_out(u)
        neuro.reset(self)
        steps = self.readout(spikes, mask)
        rate = counter.firing_rate() if counter is not None else spikes.new_tensor(float("nan"))
        return AbstractOutput(spikes=spikes, steps=steps, readout=steps[-1], firing_rate=rate)


def _rename_legacy_keys_hook(module, state_dict, prefix, *args) -> None:
    rename_legacy_keys(state_dict, prefix)
