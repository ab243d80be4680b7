"""Fusion of the concrete (ANN) and abstract (SNN) image embeddings into one embedding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import neuro

from ..config import FusionConfig

__all__ = ["Fusion"]


class Fusion(nn.Module):
    """Combine the concrete embedding ``c`` and the abstract embedding ``a`` (both ``[B, E]``).

    Both are projected to the shared space first and L2-normalised, ``c <- c/|c|``, ``a <- a/|a|``,
    so neither dominates by scale; the caller normalises the result again.

    * ``gate``: ``g = sigmoid(W [c; a] + b)`` (one gate per dimension, ``W`` is ``E x 2E``),
      ``z = g * c + (1 - g) * a``. ``b`` starts at ``logit(ratio_init)`` and ``W`` at zero, so
      training starts from the ``ratio`` fusion with ``lambda = ratio_init``.
    * ``ratio``: ``z = lambda c + (1 - lambda) a`` with one learnable ``lambda = sigmoid(rho)`` in
      ``(0, 1)``, ``rho`` initialised to ``logit(ratio_init)``.
    """

    def __init__(self, cfg: FusionConfig, embed_dim: int):
        super().__init__()
        self.mode = cfg.mode
        logit = math.log(cfg.ratio_init / (1 - cfg.ratio_init))
        if self.mode == "gate":
            self.gate = neuro.Linear(2 * embed_dim, embed_dim)
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, logit)
        else:
            self.rho = nn.Parameter(torch.tensor(logit))

    def weight(self, c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The weight of the concrete embedding: ``g [B, E]`` (gate) or ``lambda`` (a scalar)."""
        if self.mode == "gate":
            return torch.sigmoid(self.gate(torch.cat([c, a], dim=-1)))
        return torch.sigmoid(self.rho)

    def forward(self, c: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        c, a = F.normalize(c, dim=-1), F.normalize(a, dim=-1)
        w = self.weight(c, a)
        return w * c + (1 - w) * a
