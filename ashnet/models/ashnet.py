"""ASH-Net: the concrete (ANN) and abstract (SNN) image encoders, their fusion, the text encoder and STUA."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .abstract import AbstractEncoder
from .concrete import ConcreteEncoder, ConcreteOutput
from .fusion import Fusion
from .text import TextEncoder, TextFeatures

__all__ = ["ImageEmbedding", "ASHNet", "build_model"]


class ImageEmbedding(NamedTuple):
    """An image (or STUA text) embedding and its spiking trace.

    ``embedding``: ``[B, E]``, L2-normalised. ``step_embeddings``: ``[T, B, E]``, the per-step
    abstract readout projected and L2-normalised (``None`` without the SNN branch).
    ``firing_rate``: mean spikes per neuron per step of the spiking encoder (scalar tensor, or
    ``None``). ``spikes``: output spike latents ``[T, B, N, D]`` (or ``None``).
    """

    embedding: torch.Tensor
    step_embeddings: torch.Tensor | None
    firing_rate: torch.Tensor | None
    spikes: torch.Tensor | None


class ASHNet(nn.Module):
    """Artificial-Spiking Hierarchical Network: a hybrid image encoder aligned with a text encoder.

    Image path: ``ConcreteEncoder`` tokens ``[B, N, C]`` -> ``AbstractEncoder`` spikes -> readout
    ``[B, D]``; the concrete pooled vector ``[B, C]`` and the abstract readout are projected to the
    shared space (``E = embed_dim``), fused (:class:`~ashnet.models.fusion.Fusion`) and
    L2-normalised. With ``abstract.enabled: false`` the image embedding is the normalised concrete
    projection alone: an ANN-only CLIP-style dual encoder.

    Text path: ``TextEncoder`` mean-pooled features ``[B, H]`` -> linear projection -> L2-normalised.

    STUA (spiking-to-text uni-alignment): a linear adapter ``H -> C`` feeds text token features to
    the same abstract encoder and abstract projection as images, so captions alone train the
    spiking encoder (see :func:`ashnet.losses.stua_loss`).

    ``logit_scale`` is the log of the inverse softmax temperature, initialised to ``log(1/0.07)``
    as in CLIP; the losses use ``min(exp(logit_scale), 100)``.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        E = cfg.embed_dim
        self.concrete = ConcreteEncoder(cfg.concrete)
        self.text = TextEncoder(cfg.text)
        self.concrete_proj = nn.Linear(self.concrete.dim, E)
        self.text_proj = nn.Linear(self.text.dim, E)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        if cfg.abstract.enabled:
            self.abstract = AbstractEncoder(cfg.abstract, d_in=self.concrete.dim)
            self.abstract_proj = nn.Linear(cfg.abstract.dim, E)
            self.fusion = Fusion(cfg.fusion, E)
            self.stua_adapter = nn.Linear(self.text.dim, self.concrete.dim)
        else:
            self.abstract = self.abstract_proj = self.fusion = self.stua_adapter = None

    @property
    def has_snn(self) -> bool:
        """Whether the spiking (abstract) branch exists."""
        return self.abstract is not None

    @property
    def frozen_concrete(self) -> bool:
        """The image backbone is frozen, so its :class:`ConcreteOutput` can be cached."""
        return self.concrete.frozen

    @property
    def frozen_text(self) -> bool:
        """The text model is frozen, so its :class:`TextFeatures` can be cached."""
        return self.text.frozen

    def encode_concrete(self, images: torch.Tensor) -> ConcreteOutput:
        """Backbone tokens ``[B, N, C]`` and pooled ``[B, C]`` of images ``[B, 3, H, W]`` in ``[0, 1]``."""
        return self.concrete(images)

    def _abstract_embedding(self, tokens, mask=None) -> tuple[torch.Tensor, ImageEmbedding]:
        out = self.abstract(tokens, mask)
        steps = self.abstract_proj(out.steps)
        return steps[-1], ImageEmbedding(
            embedding=F.normalize(steps[-1], dim=-1),
            step_embeddings=F.normalize(steps, dim=-1),
            firing_rate=out.firing_rate,
            spikes=out.spikes,
        )

    def embed_image(self, concrete: ConcreteOutput) -> ImageEmbedding:
        """The fused, L2-normalised image embedding ``[B, E]`` and the spiking trace."""
        c = self.concrete_proj(concrete.pooled)
        if not self.has_snn:
            return ImageEmbedding(F.normalize(c, dim=-1), None, None, None)
        a, trace = self._abstract_embedding(concrete.tokens)
        return trace._replace(embedding=F.normalize(self.fusion(c, a), dim=-1))

    def encode_image(self, images: torch.Tensor) -> ImageEmbedding:
        return self.embed_image(self.encode_concrete(images))

    def encode_text_features(self, captions: list[str]) -> TextFeatures:
        """Token features, mask and mean-pooled features of captions (ValueError on an empty caption)."""
        return self.text(captions)

    def embed_text(self, features: TextFeatures) -> torch.Tensor:
        """The L2-normalised text embedding ``[B, E]``."""
        return F.normalize(self.text_proj(features.pooled), dim=-1)

    def encode_text(self, captions: list[str]) -> torch.Tensor:
        return self.embed_text(self.encode_text_features(captions))

    def embed_stua(self, features: TextFeatures) -> ImageEmbedding:
        """The spiking encoder's embedding of text tokens (through the STUA adapter), L2-normalised."""
        if not self.has_snn:
            raise ValueError("STUA needs the spiking branch; this model has abstract.enabled: false")
        _, trace = self._abstract_embedding(self.stua_adapter(features.tokens), features.mask)
        return trace


def build_model(cfg: ModelConfig | None = None) -> ASHNet:
    """Build an :class:`ASHNet` from its config (the defaults when ``None``)."""
    if cfg is None:
        cfg = ModelConfig()
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"build_model needs a ModelConfig, got {type(cfg).__name__}")
    return ASHNet(cfg)
