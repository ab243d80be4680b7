"""The vision prefix: ASH-Net image features through a trained projector, as prefix tokens of the LM."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import neuro

from .prompts import IGNORE, Batch

__all__ = ["Projector", "VisionPrefixLM", "image_features", "feature_dim", "add_lora"]


def feature_dim(encoder, source: str) -> int:
    """Width of the features :func:`image_features` returns for ``source``."""
    if source == "concrete":
        return encoder.concrete.dim
    if source == "abstract":
        return encoder.cfg.abstract.dim
    return encoder.cfg.embed_dim


@torch.no_grad()
def image_features(encoder, images: torch.Tensor, source: str, n_tokens: int) -> torch.Tensor:
    """Frozen ASH-Net features of images ``[B, 3, H, W]``: ``[B, n_tokens, d]``, or ``[B, 1, E]`` (fused)."""
    encoder.eval()
    concrete = encoder.encode_concrete(images)
    if source == "fused":
        return encoder.embed_image(concrete).embedding[:, None]
    if source == "abstract":
        if not encoder.has_snn:
            raise ValueError("prefix source 'abstract' needs an image encoder with the spiking branch")
        spikes = encoder.abstract(concrete.tokens, grid=concrete.grid).spikes
        tokens = spikes.mean(0)  # firing rate per token [B, N, D]
    else:
        tokens = concrete.tokens
    return F.adaptive_avg_pool1d(tokens.transpose(1, 2), n_tokens).transpose(1, 2)


class Projector(nn.Module):
    """An MLP from image features ``[B, M, d]`` to ``n_tokens`` LM embeddings ``[B, n_tokens, H]``.

    With ``M == n_tokens`` each feature token maps to one prefix token; with one feature vector
    (``M == 1``) the last layer emits all ``n_tokens`` at once (as ClipCap's mapping network).
    """

    def __init__(self, d_in: int, hidden: int, n_tokens: int, from_vector: bool):
        super().__init__()
        self.n_tokens = n_tokens
        out = hidden * (n_tokens if from_vector else 1)
        self.net = nn.Sequential(
            nn.LayerNorm(d_in), neuro.Linear(d_in, hidden), nn.GELU(), neuro.Linear(hidden, out)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).reshape(len(features), self.n_tokens, -1)


def add_lora(lm, rank: int, alpha: float = 16.0, targets: tuple[str, ...] = ("q_proj", "v_proj")):
    """Wrap ``lm`` with peft LoRA adapters of ``rank`` on ``targets`` (only the adapters train)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0, bias="none")
    return get_peft_model(lm, config)


class VisionPrefixLM(nn.Module):
    """A causal LM reading prompts whose image slots hold projected image features.

    ``lm``: a transformers causal LM (optionally peft-wrapped); ``projector``: a :class:`Projector`
    (``None`` for text only). Image features are given per batch as ``[n_images, M, d]`` in the order
    the images appear (row by row), see :func:`image_features`.
    """

    def __init__(self, lm, tokenizer, projector: Projector | None = None):
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.projector = projector

    @property
    def base(self):
        """The transformers model under any peft wrapper (``.model`` decoder, ``.lm_head``)."""
        return self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm

    @property
    def context_length(self) -> int:
        return int(self.base.config.max_position_embeddings)

    @property
    def pad_id(self) -> int:
        t = self.tokenizer
        return t.pad_token_id if t.pad_token_id is not None else t.eos_token_id

    @property
    def n_image_tokens(self) -> int:
        return self.projector.n_tokens if self.projector is not None else 0

    def embed(
        self, ids: torch.Tensor, image_mask: torch.Tensor, features: torch.Tensor | None
    ) -> torch.Tensor:
        """Token embeddings ``[B, L, H]`` with the projected images written into the image slots."""
        embeds = self.base.get_input_embeddings()(ids)
        if not bool(image_mask.any()):
            return embeds
        if features is None or self.projector is None:
            raise ValueError("the prompt has image slots but no image features or projector were given")
        prefix = self.projector(features.to(embeds.dtype))
        return embeds.masked_scatter(image_mask[..., None], prefix.reshape(-1, prefix.shape[-1]))

    def hidden(self, batch: Batch, features: torch.Tensor | None = None, **kwargs):
        """The decoder's output (``last_hidden_state`` ``[B, L, H]``, and the cache when asked)."""
        embeds = self.embed(batch.ids, batch.image_mask, features)
        return self.base.model(inputs_embeds=embeds, attention_mask=batch.attention_mask, **kwargs)

    def answer_logits(
        self, batch: Batch, features: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[n, V]`` at the positions that predict a scored label, and those labels ``[n]``."""
        hidden = self.hidden(batch, features).last_hidden_state
        scored = batch.labels[:, 1:] != IGNORE
        return self.base.lm_head(hidden[:, :-1][scored]), batch.labels[:, 1:][scored]

    def loss(self, batch: Batch, features: torch.Tensor | None = None) -> torch.Tensor:
        """Mean next-token cross-entropy over the scored (answer) tokens."""
        logits, targets = self.answer_logits(batch, features)
        return F.cross_entropy(logits.float(), targets)
