"""Fusion in the backbone (FIBER): gated cross-attention inside the top text layers and on the image tokens.

FIBER (Dou et al., "Coarse-to-Fine Vision-Language Pre-training with Fusion in the Backbone",
NeurIPS 2022) inserts cross-attention into the upper layers of both encoders instead of stacking a
fusion transformer on top. Here, for each of the top K layers of the text encoder:

1. the layer's own self-attention: ``a = SelfAttn(h)``;
2. a gated cross-attention to image tokens: ``a <- a + tanh(g_t) CrossAttn(LN(a), image)``, where
   the image tokens are the backbone's (*concrete*), the spiking encoder's output spikes
   (*spikes*: every position and time step is a key/value token, so the key and value projections
   see binary input, i.e. accumulates) or both;
3. the layer's own feed-forward block: ``h = FFN(a)``;
4. on the image side, the backbone tokens attend to the text:
   ``v <- v + tanh(g_i) CrossAttn(LN(v), h)``, then ``v <- v + tanh(g_m) MLP(LN(v))``.

Every gate ``g`` starts at zero, so before training the fused path returns exactly the dual
encoder's features (``x + 0 * y == x``); the text and image backbones keep their weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import neuro

from ..config import FiberConfig

__all__ = ["GatedCrossAttention", "GatedMLP", "FiberFusion", "text_layer_mask"]


class GatedCrossAttention(nn.Module):
    """``x + tanh(gate) * W_o Attn(W_q LN(x), W_k s, W_v s)`` over the tokens of one or more sources.

    Each source ``s`` (``[B, M_s, d_s]`` with an optional key mask ``[B, M_s]``) has its own key and
    value projections; their tokens are concatenated. ``gate`` is a scalar that starts at zero.
    """

    def __init__(self, d_query: int, d_sources: list[int], dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(d_query)
        self.q = neuro.Linear(d_query, dim)
        self.k = nn.ModuleList(neuro.Linear(d, dim) for d in d_sources)
        self.v = nn.ModuleList(neuro.Linear(d, dim) for d in d_sources)
        self.out = neuro.Linear(dim, d_query)
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(
        self, x: torch.Tensor, sources: list[tuple[torch.Tensor, torch.Tensor | None]]
    ) -> torch.Tensor:
        B, N, _ = x.shape

        def heads(t):
            return t.view(B, t.shape[1], self.heads, -1).transpose(1, 2)  # [B, h, M, d]

        q = heads(self.q(self.norm(x)))
        k = heads(torch.cat([proj(s) for proj, (s, _) in zip(self.k, sources, strict=True)], dim=1))
        v = heads(torch.cat([proj(s) for proj, (s, _) in zip(self.v, sources, strict=True)], dim=1))
        mask = None
        if any(m is not None for _, m in sources):
            keep = [m if m is not None else s.new_ones(s.shape[:2], dtype=torch.bool) for s, m in sources]
            mask = torch.cat(keep, dim=1).view(B, 1, 1, -1)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return x + torch.tanh(self.gate) * self.out(attended.transpose(1, 2).reshape(B, N, -1))


class GatedMLP(nn.Module):
    """``x + tanh(gate) * MLP(LN(x))`` with a GELU MLP of width ``hidden``; ``gate`` starts at zero."""

    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.LayerNorm(d), neuro.Linear(d, hidden), nn.GELU(), neuro.Linear(hidden, d))
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.tanh(self.gate) * self.mlp(x)


def text_layer_mask(text_model: nn.Module, hidden: torch.Tensor, mask: torch.Tensor):
    """The attention mask a transformers encoder layer expects, built as the model itself builds it."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:  # transformers 4.x
        return text_model.get_extended_attention_mask(mask.long(), tuple(mask.shape))
    return create_bidirectional_mask(
        config=text_model.config, inputs_embeds=hidden, attention_mask=mask.long()
    )


class FiberFusion(nn.Module):
    """The cross-attention modules of fusion in the backbone (see the module docstring).

    Parameters
    ----------
    cfg
        ``model.fiber``.
    d_text, d_image
        Widths of the text hidden states and of the backbone's image tokens.
    d_spikes
        Width of the spiking encoder's tokens (``None`` without the spiking branch).
    """

    def __init__(self, cfg: FiberConfig, d_text: int, d_image: int, d_spikes: int | None):
        super().__init__()
        self.keys = cfg.keys
        self.n_layers = cfg.layers
        if cfg.keys != "concrete" and d_spikes is None:
            raise ValueError(f"model.fiber.keys: {cfg.keys} needs the spiking branch")
        d_sources = {"concrete": [d_image], "spikes": [d_spikes], "both": [d_image, d_spikes]}[cfg.keys]
        self.text_cross = nn.ModuleList(
            GatedCrossAttention(d_text, d_sources, cfg.dim, cfg.heads) for _ in range(cfg.layers)
        )
        if cfg.image_side:
            self.image_cross = nn.ModuleList(
                GatedCrossAttention(d_image, [d_text], cfg.dim, cfg.heads) for _ in range(cfg.layers)
            )
            self.image_mlp = nn.ModuleList(GatedMLP(d_image, cfg.dim) for _ in range(cfg.layers))
        else:
            self.image_cross = self.image_mlp = None

    def forward(
        self,
        text_model: nn.Module,
        layers: nn.ModuleList,
        hidden: torch.Tensor,
        mask: torch.Tensor,
        image: torch.Tensor,
        spikes: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the top text ``layers`` on ``hidden [B, L, H]`` (the states below them) with fusion.

        ``image``: backbone tokens ``[B, N, C]``; ``spikes``: ``[T, B, N', D]`` or ``None``.
        Returns the last text hidden states ``[B, L, H]`` and the image tokens ``[B, N, C]``.
        """
        if len(layers) != self.n_layers:
            raise ValueError(f"fusion was built for {self.n_layers} text layers, got {len(layers)}")
        layer_mask = text_layer_mask(text_model, hidden, mask)
        spike_tokens = None
        if spikes is not None and self.keys != "concrete":
            T, B, N, D = spikes.shape
            spike_tokens = spikes.permute(1, 0, 2, 3).reshape(B, T * N, D)
        for i, layer in enumerate(layers):
            a = layer.attention(hidden, layer_mask)[0]
            sources = {
                "concrete": [(image, None)],
                "spikes": [(spike_tokens, None)],
                "both": [(image, None), (spike_tokens, None)],
            }[self.keys]
            a = self.text_cross[i](a, sources)
            hidden = layer.feed_forward_chunk(a)
            if self.image_cross is not None:
                image = self.image_mlp[i](self.image_cross[i](image, [(hidden, mask)]))
        return hidden, image
