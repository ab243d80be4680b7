"""MoVE, a mixture of vision experts: their tokens adapted, modulated and mixed per sample by a router.

As in MoME (Shen et al., 2024), several vision encoders see the same image and an instruction-aware
router decides, per sample, how much each one contributes. Here the router reads the task and the
text (the question, statement or caption) of each sample.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

import neuro

from ..config import MoVEConfig

__all__ = ["MoVEOutput", "MoVE", "route"]


class MoVEOutput(NamedTuple):
    """The mixed tokens ``[B, grid * grid, dim]``, the mixing weights ``[B, E]`` and the router logits."""

    tokens: torch.Tensor
    weights: torch.Tensor
    logits: torch.Tensor


def route(logits: torch.Tensor, top_k: int | None = None) -> torch.Tensor:
    """Mixing weights from router logits ``[B, E]``: the softmax, or its ``top_k`` largest renormalised.

    The weights of each row sum to one; with ``top_k`` the others are exactly zero.
    """
    weights = logits.softmax(dim=-1)
    if top_k is None or top_k >= weights.shape[-1]:
        return weights
    top, index = weights.topk(top_k, dim=-1)
    return torch.zeros_like(weights).scatter(-1, index, top / top.sum(dim=-1, keepdim=True))


def _to_grid(tokens: torch.Tensor, grid: int, name: str) -> torch.Tensor:
    """``[B, N, C]`` tokens of a square ``n x n`` map average-pooled to ``[B, grid * grid, C]``."""
    B, N, C = tokens.shape
    side = math.isqrt(N)
    if side * side != N:
        raise ValueError(f"expert {name!r} gives {N} tokens, not a square map; MoVE mixes square maps")
    if side == grid:
        return tokens
    fmap = tokens.transpose(1, 2).reshape(B, C, side, side)
    return F.adaptive_avg_pool2d(fmap, grid).flatten(2).transpose(1, 2)


class MoVE(nn.Module):
    """Mix the token maps of several vision experts, per sample, by the task and the text.

    For expert ``i`` with tokens ``x_i [B, N_i, C_i]``:

    1. *Adapt*: average-pool the map to ``grid x grid`` and project it to the common width,
       ``a_i = LayerNorm(W_i x_i)`` ``[B, G, D]``.
    2. *Condition*: ``c = GELU(W_c [task embedding; LayerNorm(text)])`` ``[B, H]``.
    3. *Modulate* (``modulate``): ``m_i = a_i * (1 + gamma_i(c)) + beta_i(c)`` (FiLM; ``gamma``
       and ``beta`` start at zero, so ``m_i = a_i`` at initialisation).
    4. *Route*: ``w = route(W_r c)`` ``[B, E]`` (softmax, or its top ``k`` renormalised).
    5. *Mix*: ``z = sum_i w_i m_i``.

    With one expert ``w = 1`` exactly, so the output is that expert's modulated tokens, as
    :meth:`expert_tokens` gives them. ``widths`` maps each expert of ``cfg.experts`` to its token
    width ``C_i``; ``text_dim`` is the width of the pooled text features; ``num_tasks`` the number
    of task ids the router knows.
    """

    def __init__(self, cfg: MoVEConfig, widths: dict[str, int], text_dim: int, num_tasks: int = 1):
        super().__init__()
        missing = [name for name in cfg.experts if name not in widths]
        if missing:
            raise ValueError(f"MoVE has no token width for expert(s) {missing}")
        if num_tasks < 1:
            raise ValueError(f"MoVE needs at least one task, got num_tasks={num_tasks}")
        self.cfg = cfg
        self.experts = cfg.experts
        D, H, E = cfg.dim, cfg.task_dim, len(cfg.experts)
        self.adapters = nn.ModuleDict(
            {name: nn.Sequential(neuro.Linear(widths[name], D), nn.LayerNorm(D)) for name in cfg.experts}
        )
        self.task_embedding = nn.Embedding(num_tasks, H)
        self.text_norm = nn.LayerNorm(text_dim)
        self.condition = nn.Sequential(neuro.Linear(H + text_dim, H), nn.GELU())
        self.router = neuro.Linear(H, E)
        if cfg.modulate:
            self.film = neuro.Linear(H, E * 2 * D)
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)
        else:
            self.film = None

    def conditioning(self, task: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The router's view ``c [B, H]`` of the task ids ``[B]`` and pooled text ``[B, text_dim]``."""
        if task.dim() != 1 or text.dim() != 2 or task.shape[0] != text.shape[0]:
            raise ValueError(
                f"MoVE needs task ids [B] and text features [B, H], got {tuple(task.shape)} and "
                f"{tuple(text.shape)}"
            )
        return self.condition(torch.cat([self.task_embedding(task), self.text_norm(text)], dim=-1))

    def expert_tokens(self, name: str, tokens: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Expert ``name``'s tokens ``[B, N, C]`` adapted to ``[B, grid * grid, dim]``, modulated by ``c``."""
        a = self.adapters[name](_to_grid(tokens, self.cfg.grid, name))
        if self.film is None:
            return a
        i, D = self.experts.index(name), self.cfg.dim
        gamma, beta = self.film(c).view(-1, len(self.experts), 2, D)[:, i].unbind(1)
        return a * (1 + gamma.unsqueeze(1)) + beta.unsqueeze(1)

    def forward(self, tokens: dict[str, torch.Tensor], task: torch.Tensor, text: torch.Tensor) -> MoVEOutput:
        missing = [name for name in self.experts if name not in tokens]
        if missing:
            raise ValueError(f"MoVE is missing the tokens of expert(s) {missing}")
        c = self.conditioning(task, text)
        logits = self.router(c)
        weights = route(logits, self.cfg.top_k if self.cfg.routing == "top_k" else None)
        mixed = sum(
            weights[:, i, None, None] * self.expert_tokens(name, tokens[name], c)
            for i, name in enumerate(self.experts)
        )
        return MoVEOutput(tokens=mixed, weights=weights, logits=logits)
