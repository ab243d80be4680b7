"""MoLE, sparse language experts: bottleneck adapters behind a top-k router, with a load-balancing loss.

Each token goes through only ``top_k`` of the adapters, so the cost per token is that of ``top_k``
dense adapters plus the router, however many experts there are (as in MoME's MoLE and the Switch
Transformer). With one expert MoLE *is* the dense adapter.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

import neuro

from ..config import MoLEConfig

__all__ = ["Adapter", "MoLEOutput", "MoLE", "balance_loss"]


class Adapter(nn.Module):
    """A bottleneck adapter ``up(GELU(down(x)))``; ``up`` starts at zero, so the adapter starts as a no-op."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.down = neuro.Linear(dim, hidden)
        self.act = nn.GELU()
        self.up = neuro.Linear(hidden, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.act(self.down(x)))


class MoLEOutput(NamedTuple):
    """MoLE's result.

    ``x``: the tokens with the adapters' output added ``[..., D]``; ``balance_loss``: the
    load-balancing loss (scalar, ``1`` when balanced); ``gates``: the weight each token gives each
    expert ``[..., E]`` (zero outside its top ``k``, and for masked tokens); ``load``: the fraction
    of routed tokens each expert received ``[E]`` (detached).
    """

    x: torch.Tensor
    balance_loss: torch.Tensor
    gates: torch.Tensor
    load: torch.Tensor


def balance_loss(probs: torch.Tensor, load: torch.Tensor) -> torch.Tensor:
    """The Switch Transformer's load-balancing loss ``E * sum_e f_e P_e``.

    ``probs [M, E]``: router probabilities of ``M`` tokens; ``load [E]``: ``f_e``, the fraction of
    the token-to-expert assignments that went to expert ``e`` (no gradient flows through it).
    ``P_e`` is the mean probability of ``e``. The loss is ``1`` when both are uniform, up to ``E``
    when one expert takes everything, and its gradient moves probability away from the experts
    that receive more than their share. Zero when there are no tokens.
    """
    if probs.shape[0] == 0:
        return probs.sum() * 0
    return probs.shape[-1] * (load.detach() * probs.mean(dim=0)).sum()


class MoLE(nn.Module):
    """``y = x + sum_{e in top-k(x)} g_e(x) A_e(x)`` over ``[..., dim]`` tokens, with a linear router.

    ``p = softmax(W_r x)``; with ``top_k = 1`` the gate is the chosen expert's probability ``p_e``
    (the Switch Transformer, so the router learns from the task loss); with ``top_k > 1`` the
    ``k`` largest probabilities are renormalised to sum to one. Tokens where ``mask`` is false
    (padding) pass unchanged and count in no statistic. With one expert there is no router: the
    gate is ``1`` and MoLE costs exactly the dense adapter.
    """

    def __init__(self, dim: int, cfg: MoLEConfig):
        super().__init__()
        self.cfg = cfg
        self.router = neuro.Linear(dim, cfg.experts) if cfg.experts > 1 else None  # one expert: always it
        self.experts = nn.ModuleList(Adapter(dim, cfg.hidden) for _ in range(cfg.experts))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> MoLEOutput:
        D, E, k = x.shape[-1], self.cfg.experts, self.cfg.top_k
        flat = x.reshape(-1, D)
        keep = None if mask is None else mask.reshape(-1)
        rows = flat if keep is None else flat[keep]
        probs = rows.new_ones(rows.shape[0], 1) if self.router is None else self.router(rows).softmax(dim=-1)
        top, index = probs.topk(k, dim=-1)
        gate = top if k == 1 else top / top.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(rows)
        for e, expert in enumerate(self.experts):
            token, slot = (index == e).nonzero(as_tuple=True)
            if token.numel():
                out = out.index_add(0, token, gate[token, slot, None] * expert(rows[token]))
        gates = torch.zeros_like(probs).scatter(-1, index, gate)
        load = torch.bincount(index.flatten(), minlength=E).to(probs.dtype) / max(index.numel(), 1)
        if keep is not None:
            out = torch.zeros_like(flat).index_put((keep,), out)
            gates = torch.zeros(flat.shape[0], E, dtype=gates.dtype, device=gates.device).index_put(
                (keep,), gates
            )
        return MoLEOutput(
            x=x + out.view_as(x),
            balance_loss=balance_loss(probs, load),
            gates=gates.view(*x.shape[:-1], E),
            load=load.detach(),
        )
