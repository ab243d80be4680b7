"""The abstract (spiking) encoder: spike encoding, spiking MLP/transformer blocks, rate or membrane readout.

All multi-step tensors are ``[T, B, N, D]`` (time, batch, tokens, channels). The blocks keep a
residual stream ``U`` of membrane-like values and add each sub-block's output to it, as in the
Spike-driven Transformer / MS-ResNet ("membrane shortcut"): every sub-block starts with a spiking
neuron, so its weights only ever see binary spikes.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

import neuro
from neuro import LIF, ParametricLIF, SpikingNeuron

from .config import AbstractConfig

__all__ = ["AbstractOutput", "AbstractEncoder", "masked_token_mean"]


class AbstractOutput(NamedTuple):
    """The spiking encoder's result.

    ``spikes``: output spike latents ``[T, B, N, D]``; ``steps``: per-step readout ``[T, B, D]``
    (its last step is ``readout``); ``readout``: the embedding ``[B, D]``; ``firing_rate``: mean
    spikes per neuron per step over every spiking layer (a detached scalar).
    """

    spikes: torch.Tensor
    steps: torch.Tensor
    readout: torch.Tensor
    firing_rate: torch.Tensor


class _SpikeStats:
    """Counts spikes and neuron-steps of every spiking layer during one forward pass."""

    def __init__(self):
        self.spikes = 0.0
        self.count = 0

    def fire(self, neuron: SpikingNeuron, x: torch.Tensor) -> torch.Tensor:
        s = neuron(x)
        self.spikes = self.spikes + s.detach().sum()
        self.count += s.numel()
        return s

    def rate(self) -> torch.Tensor:
        return self.spikes / self.count


def masked_token_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over the token axis (``-2``) of ``[..., B, N, D]``, only tokens where ``mask`` is true."""
    if mask is None:
        return x.mean(dim=-2)
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(dim=-2) / m.sum(dim=-2).clamp(min=1)


def _neuron(cfg: AbstractConfig, v_threshold: float | None = None) -> SpikingNeuron:
    kind = ParametricLIF if cfg.neuron == "plif" else LIF
    return kind(
        tau=cfg.tau,
        v_threshold=cfg.v_threshold if v_threshold is None else v_threshold,
        detach_reset=cfg.detach_reset,
    )


class LinearNorm(nn.Module):
    """``Linear`` then ``BatchNorm1d`` over the last axis of ``[..., in]`` (foldable at inference)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=False)
        self.norm = nn.BatchNorm1d(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        return self.norm(y.flatten(0, -2)).view_as(y)


class SpikingMLP(nn.Module):
    """Channel MLP on spikes: ``LIF -> LinearNorm(D, hD) -> LIF -> LinearNorm(hD, D)``."""

    def __init__(self, cfg: AbstractConfig):
        super().__init__()
        hidden = max(1, round(cfg.dim * cfg.mlp_ratio))
        self.neuron_in, self.fc1 = _neuron(cfg), LinearNorm(cfg.dim, hidden)
        self.neuron_hidden, self.fc2 = _neuron(cfg), LinearNorm(hidden, cfg.dim)

    def forward(self, u, mask, stats: _SpikeStats):
        s = stats.fire(self.neuron_in, u)
        return self.fc2(stats.fire(self.neuron_hidden, self.fc1(s)))


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
        self.q, self.k, self.v = (LinearNorm(cfg.dim, cfg.dim) for _ in range(3))
        self.neuron_q, self.neuron_k, self.neuron_v = _neuron(cfg), _neuron(cfg), _neuron(cfg)
        self.attn_norm = nn.BatchNorm1d(cfg.dim)
        self.neuron_attn = _neuron(cfg, v_threshold=0.5)
        self.out = LinearNorm(cfg.dim, cfg.dim)

    def forward(self, u, mask, stats: _SpikeStats):
        T, B, N, D = u.shape
        s = stats.fire(self.neuron_in, u)

        def heads(x):
            return x.view(T, B, N, self.heads, D // self.heads).transpose(2, 3)  # [T, B, h, N, d]

        q = heads(stats.fire(self.neuron_q, self.q(s)))
        k = heads(stats.fire(self.neuron_k, self.k(s)))
        v = heads(stats.fire(self.neuron_v, self.v(s)))
        if mask is not None:
            keep = mask.to(u.dtype).view(1, B, 1, N, 1)
            k, v = k * keep, v * keep
        a = (q @ (k.transpose(-2, -1) @ v)) * self.scale
        a = self.attn_norm(a.transpose(2, 3).reshape(T * B * N, D)).view(T, B, N, D)
        return self.out(stats.fire(self.neuron_attn, a))


class SpikePoolMixer(nn.Module):
    """Token mixer without attention: ``BN(W mean_tokens(LIF(U)))`` added to each token (MetaFormer)."""

    def __init__(self, cfg: AbstractConfig):
        super().__init__()
        self.neuron_in = _neuron(cfg)
        self.proj = LinearNorm(cfg.dim, cfg.dim)

    def forward(self, u, mask, stats: _SpikeStats):
        s = stats.fire(self.neuron_in, u)
        return self.proj(masked_token_mean(s, mask)).unsqueeze(2)


class SpikingBlock(nn.Module):
    """``U <- U + mixer(U)`` (transformer blocks only), then ``U <- U + MLP(U)``."""

    def __init__(self, cfg: AbstractConfig):
        super().__init__()
        if cfg.block == "transformer":
            self.mixer = SpikingSelfAttention(cfg) if cfg.attention else SpikePoolMixer(cfg)
        else:
            self.mixer = None
        self.mlp = SpikingMLP(cfg)

    def forward(self, u, mask, stats: _SpikeStats):
        if self.mixer is not None:
            u = u + self.mixer(u, mask, stats)
        return u + self.mlp(u, mask, stats)


class AbstractEncoder(nn.Module):
    """Spiking encoder of token sequences ``[B, N, d_in]`` (image tokens, or text tokens through STUA).

    1. Project and normalise: ``X = LayerNorm(W_in tokens)`` ``[B, N, D]``.
    2. Encode over ``T`` steps: ``direct`` repeats ``X`` as an analog current (the first LIF layer
       spikes); ``poisson`` draws Bernoulli spikes ``S`` with probability ``p = sigmoid(X)`` and
       feeds ``LinearNorm(S)`` on (binary input alone could never lift a LIF with ``decay_input``
       to threshold 1); a straight-through gradient (``S + p - p.detach()``) lets the projection learn.
    3. ``depth`` :class:`SpikingBlock` s, then an output LIF layer: spike latents ``[T, B, N, D]``.
    4. Readout of the token-mean spikes ``r_t``: ``rate`` gives the firing rate so far,
       ``e_t = (1/t) sum_{s<=t} r_s``; ``membrane`` gives the potential of a non-spiking leaky
       integrator, ``m_t = m_{t-1} + (r_t - m_{t-1}) / tau`` (``m_0 = 0``). The embedding is the last step.

    The neuron states are cleared before and after every forward pass (so no autograd graph is
    kept alive between calls and the module can be deep-copied).
    """

    def __init__(self, cfg: AbstractConfig, d_in: int):
        super().__init__()
        self.cfg = cfg
        self.input = nn.Linear(d_in, cfg.dim)
        self.input_norm = nn.LayerNorm(cfg.dim)
        self.spike_input = LinearNorm(cfg.dim, cfg.dim) if cfg.encoding == "poisson" else None
        self.blocks = nn.ModuleList(SpikingBlock(cfg) for _ in range(cfg.depth))
        self.neuron_out = _neuron(cfg)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Projected tokens ``[B, N, D]`` to the first block input ``[T, B, N, D]``; masked tokens silent."""
        T = self.cfg.time_steps
        keep = 1.0 if mask is None else mask.to(x.dtype).unsqueeze(-1)
        if self.cfg.encoding == "direct":
            return neuro.encoders.direct(x * keep, T)
        p = torch.sigmoid(x) * keep
        return self.spike_input(neuro.encoders.poisson(p.detach(), T) + (p - p.detach()))

    def readout(self, rates: torch.Tensor) -> torch.Tensor:
        """Per-step readout ``[T, B, D]`` of the token-mean spikes ``rates [T, B, D]``."""
        if self.cfg.readout == "rate":
            steps = torch.arange(1, rates.shape[0] + 1, device=rates.device, dtype=rates.dtype)
            return rates.cumsum(0) / steps.view(-1, 1, 1)
        m, out = torch.zeros_like(rates[0]), []
        for r in rates:
            m = m + (r - m) / self.cfg.tau
            out.append(m)
        return torch.stack(out)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> AbstractOutput:
        if tokens.dim() != 3 or tokens.shape[-1] != self.input.in_features:
            raise ValueError(
                f"abstract encoder expects tokens [B, N, {self.input.in_features}], got {tuple(tokens.shape)}"
            )
        if mask is not None and mask.shape != tokens.shape[:2]:
            raise ValueError(
                f"mask shape {tuple(mask.shape)} does not match tokens {tuple(tokens.shape[:2])}"
            )
        neuro.reset(self)
        stats = _SpikeStats()
        u = self.encode(self.input_norm(self.input(tokens)), mask)
        for block in self.blocks:
            u = block(u, mask, stats)
        spikes = stats.fire(self.neuron_out, u)
        neuro.reset(self)
        steps = self.readout(masked_token_mean(spikes, mask))
        return AbstractOutput(spikes=spikes, steps=steps, readout=steps[-1], firing_rate=stats.rate())
