"""ASH-Net: the concrete (ANN) and abstract (SNN) image encoders, their fusion, the text encoder and STUA."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

import neuro

from ..config import ModelConfig
from .abstract import AbstractEncoder, masked_token_mean
from .concrete import ConcreteEncoder, ConcreteOutput
from .fiber import FiberFusion
from .fusion import Fusion
from .text import TextFeatures, build_text_encoder, mean_pool

__all__ = ["ImageEmbedding", "FusedEmbedding", "ASHNet", "build_model", "analog_twin_of"]


def analog_twin_of(encoder: nn.Module) -> nn.Module:
    """Replace every spiking neuron inside ``encoder`` by a GELU, in place; return ``encoder``.

    The layers and their parameters stay; only the nonlinearity becomes analog (the ANN twin).
    """
    for parent in list(encoder.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, neuro.SpikingNeuron):
                setattr(parent, name, nn.GELU())
    return encoder


class ImageEmbedding(NamedTuple):
    """An image (or STUA text) embedding and its spiking trace.

    ``embedding``: ``[B, E]``, L2-normalised. ``step_embeddings``: ``[T, B, E]``, each step's own
    token-mean output spikes through the abstract projection, not normalised and not accumulated
    over time, so disjoint time windows are disjoint views (``None`` without the SNN branch).
    ``firing_rate``: mean spikes per neuron per step of the spiking encoder (scalar tensor, or
    ``None``). ``spikes``: output spike latents ``[T, B, N, D]`` (or ``None``). ``branches``: the
    concrete and abstract embeddings before fusion, each ``[B, E]`` and L2-normalised (``None``
    without the SNN branch), for a contrastive loss on each head.
    """

    embedding: torch.Tensor
    step_embeddings: torch.Tensor | None
    firing_rate: torch.Tensor | None
    spikes: torch.Tensor | None
    branches: tuple[torch.Tensor, torch.Tensor] | None = None


class FusedEmbedding(NamedTuple):
    """The output of fusion in the backbone for image-text pairs.

    ``image``: the :class:`ImageEmbedding` of the text-attended image tokens; ``text``: the
    L2-normalised text embedding ``[B, E]`` of the image-attended text; ``image_tokens``
    ``[B, N, C]`` and ``text_tokens`` ``[B, L, H]``: the fused token states.
    """

    image: ImageEmbedding
    text: torch.Tensor
    image_tokens: torch.Tensor
    text_tokens: torch.Tensor


class ASHNet(nn.Module):
    """Artificial-Spiking Hierarchical Network: a hybrid image encoder aligned with a text encoder.

    Image path: ``ConcreteEncoder`` tokens ``[B, N, C]`` -> ``AbstractEncoder`` spikes -> readout
    ``[B, D]``; the concrete pooled vector ``[B, C]`` and the abstract readout are projected to the
    shared space (``E = embed_dim``), fused (:class:`~ashnet.models.fusion.Fusion`) and
    L2-normalised. With ``abstract.enabled: false`` the image embedding is the normalised concrete
    projection alone: an ANN-only CLIP-style dual encoder.

    Text path: the text encoder's (:func:`~ashnet.models.text.build_text_encoder`) mean-pooled features
    ``[B, H]`` -> linear projection -> L2-normalised.

    STUA (spiking-to-text uni-alignment): a linear adapter ``H -> C`` feeds text token features to
    the same abstract encoder and abstract projection as images, so captions alone train the
    spiking encoder (see :func:`ashnet.losses.stua_loss`).

    ``logit_scale`` is the log of the inverse softmax temperature, initialised to ``log(1/0.07)``
    as in CLIP; the losses use ``min(exp(logit_scale), 100)``.

    Fusion in the backbone (``fiber.enabled``): :meth:`embed_fused` runs the top text layers with
    gated cross-attention to the image (see :class:`~ashnet.models.fiber.FiberFusion`); the dual
    encoder path (:meth:`embed_image`, :meth:`embed_text`) stays as it is, for fast retrieval.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        E = cfg.embed_dim
        self.concrete = ConcreteEncoder(
            cfg.concrete, stages=cfg.abstract.stages if cfg.abstract.enabled else ()
        )
        self.text = build_text_encoder(cfg.text)
        self.concrete_proj = neuro.Linear(self.concrete.dim, E)
        self.text_proj = neuro.Linear(self.text.dim, E)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        if cfg.abstract.enabled:
            self.abstract = AbstractEncoder(cfg.abstract, self.concrete.dim, self.concrete.stage_dims)
            if cfg.abstract.neuron == "gelu":
                analog_twin_of(self.abstract)
            self.abstract_proj = neuro.Linear(cfg.abstract.dim, E)
            self.fusion = Fusion(cfg.fusion, E)
            self.stua_adapter = neuro.Linear(self.text.dim, self.concrete.dim)
        else:
            self.abstract = self.abstract_proj = self.fusion = self.stua_adapter = None
        self.fiber = None
        if cfg.fiber.enabled:
            if not hasattr(self.text, "layers"):
                raise ValueError(
                    "fusion in the backbone (model.fiber) needs a transformers text model; "
                    f"{type(self.text).__name__} gives no per-layer states"
                )
            n_text_layers = len(self.text.layers)
            if cfg.fiber.layers > n_text_layers:
                raise ValueError(
                    f"model.fiber.layers ({cfg.fiber.layers}) exceeds the text model's {n_text_layers} layers"
                )
            d_spikes = cfg.abstract.dim if cfg.abstract.enabled else None
            self.fiber = FiberFusion(cfg.fiber, self.text.dim, self.concrete.dim, d_spikes)

    @property
    def has_snn(self) -> bool:
        """Whether the spiking (abstract) branch exists."""
        return self.abstract is not None

    @property
    def spiking(self) -> bool:
        """Whether the abstract branch spikes (false for the ANN twin, ``abstract.neuron: gelu``)."""
        return self.has_snn and self.cfg.abstract.neuron != "gelu"

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

    def _abstract_embedding(self, tokens, mask=None, grid=None) -> tuple[torch.Tensor, ImageEmbedding]:
        out = self.abstract(tokens, mask, grid)
        a = self.abstract_proj(out.readout)
        return a, ImageEmbedding(
            embedding=F.normalize(a, dim=-1),
            step_embeddings=self.abstract_proj(masked_token_mean(out.spikes, mask)),
            firing_rate=out.firing_rate if self.spiking else None,
            spikes=out.spikes,
        )

    def _token_keep(self, tokens: torch.Tensor) -> torch.Tensor | None:
        """In training with ``abstract.token_dropout`` p: a random mask ``[B, N]`` keeping each token
        with probability 1 - p (at least one per image); else None (every token)."""
        p = self.cfg.abstract.token_dropout
        if not (self.training and p):
            return None
        keep = torch.rand(tokens.shape[:2], device=tokens.device) >= p
        keep[:, 0] |= ~keep.any(dim=1)
        return keep

    def _hard_mix(self, concrete: ConcreteOutput) -> ConcreteOutput:
        """Hard-sample augmentation of the spiking branch's input (training with ``abstract.hard_mix`` h):
        each image's tokens and grid move towards those of its hardest in-batch neighbour (the other
        image with the most similar pooled vector) by a fraction drawn from ``U[0, h)``."""
        h = self.cfg.abstract.hard_mix
        if not (self.training and h) or len(concrete.pooled) < 2:
            return concrete
        v = F.normalize(concrete.pooled, dim=-1)
        neighbour = (v @ v.T).fill_diagonal_(float("-inf")).argmax(dim=1)
        fraction = h * torch.rand(len(v), device=v.device)

        def mix(t):
            return None if t is None else torch.lerp(t, t[neighbour], fraction.view(-1, 1, 1).to(t.dtype))

        return concrete._replace(tokens=mix(concrete.tokens), grid=mix(concrete.grid))

    def abstract_embedding(self, concrete: ConcreteOutput) -> tuple[torch.Tensor, ImageEmbedding] | None:
        """The spiking branch on the backbone tokens (and level grid): its projected readout ``[B, E]``
        and its trace; in training with ``abstract.hard_mix`` on the augmented input.

        ``None`` without the spiking branch. Fusion in the backbone computes it once and hands it to
        :meth:`embed_image` with the text-attended tokens.
        """
        if not self.has_snn:
            return None
        x = self._hard_mix(concrete)
        spiking_tokens = x.tokens if x.grid is None else x.grid
        return self._abstract_embedding(x.tokens, self._token_keep(spiking_tokens), x.grid)

    def embed_image(self, concrete: ConcreteOutput, abstract=None) -> ImageEmbedding:
        """The fused, L2-normalised image embedding ``[B, E]`` and the spiking trace.

        ``abstract``: the :meth:`abstract_embedding` of the same images when already computed.
        """
        c = self.concrete_proj(concrete.pooled)
        if not self.has_snn:
            return ImageEmbedding(F.normalize(c, dim=-1), None, None, None)
        a, trace = abstract if abstract is not None else self.abstract_embedding(concrete)
        return trace._replace(
            embedding=F.normalize(self.fusion(c, a), dim=-1),
            branches=(F.normalize(c, dim=-1), F.normalize(a, dim=-1)),
        )

    def encode_image(self, images: torch.Tensor) -> ImageEmbedding:
        return self.embed_image(self.encode_concrete(images))

    def encode_text_features(self, captions: list[str], layer: int | None = None) -> TextFeatures:
        """Token features, mask and mean-pooled features of captions (ValueError on an empty caption).

        ``layer``: the tokens after that many transformer layers instead of the last (the pooled
        features stay the last layer's).
        """
        return self.text(captions) if layer is None else self.text(captions, layer)

    def embed_text(self, features: TextFeatures) -> torch.Tensor:
        """The L2-normalised text embedding ``[B, E]``."""
        return F.normalize(self.text_proj(features.pooled), dim=-1)

    def encode_text(self, captions: list[str]) -> torch.Tensor:
        return self.embed_text(self.encode_text_features(captions))

    @property
    def fused_text_layer(self) -> int:
        """How many text layers run before the fused ones: the ``layer`` of :meth:`encode_text_features`
        whose tokens :meth:`embed_fused` takes."""
        if self.fiber is None:
            raise ValueError("this model has no fusion in the backbone (model.fiber.enabled: false)")
        return len(self.text.layers) - self.fiber.n_layers

    def embed_fused(self, concrete: ConcreteOutput, text: TextFeatures) -> FusedEmbedding:
        """Fusion in the backbone of image-text pairs (row ``i`` of ``concrete`` with row ``i`` of ``text``).

        ``text.tokens`` must be the hidden states after :attr:`fused_text_layer` layers (from
        ``encode_text_features(captions, model.fused_text_layer)``). The spiking branch runs once
        on the backbone tokens; its spikes are keys and values when ``fiber.keys`` asks for them,
        and its readout joins the fused image tokens' pooled projection as in :meth:`embed_image`.
        """
        layer = self.fused_text_layer
        abstract = self.abstract_embedding(concrete)
        spikes = abstract[1].spikes if abstract is not None else None
        hidden, tokens = self.fiber(
            self.text.model, self.text.layers[layer:], text.tokens, text.mask, concrete.tokens, spikes
        )
        image = self.embed_image(ConcreteOutput(tokens, tokens.mean(dim=1)), abstract)
        text_embedding = F.normalize(self.text_proj(mean_pool(hidden, text.mask)), dim=-1)
        return FusedEmbedding(image, text_embedding, tokens, hidden)

    def encode_fused(self, images: torch.Tensor, captions: list[str]) -> FusedEmbedding:
        """:meth:`embed_fused` of images ``[B, 3, H, W]`` and ``B`` captions."""
        return self.embed_fused(
            self.encode_concrete(images), self.encode_text_features(captions, self.fused_text_layer)
        )

    def embed_stua(self, features: TextFeatures) -> ImageEmbedding:
        """The spiking encoder's embedding of text tokens (through the STUA adapter), L2-normalised.

        The encoder's BatchNorm layers keep separate running statistics for text: they are swapped
        in for this pass and out after it, so captions never shift the statistics images are
        normalised with at evaluation. (In training mode each pass normalises with its own batch
        statistics anyway; the padding tokens of a text batch still count in them.)
        """
        if not self.has_snn:
            raise ValueError("STUA needs the spiking branch; this model has abstract.enabled: false")
        norms = [m for m in self.abstract.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not hasattr(self, "_text_statistics"):
            # Not saved in checkpoints: only STUA passes use them, and in training mode those
            # normalise with batch statistics.
            self._text_statistics = [
                {k: getattr(m, k).clone() for k in _RUNNING if getattr(m, k, None) is not None} for m in norms
            ]
        _swap_statistics(norms, self._text_statistics)
        try:
            _, trace = self._abstract_embedding(self.stua_adapter(features.tokens), features.mask)
        finally:
            _swap_statistics(norms, self._text_statistics)
        return trace


_RUNNING = ("running_mean", "running_var", "num_batches_tracked")


def _swap_statistics(norms: list[nn.Module], stored: list[dict[str, torch.Tensor]]) -> None:
    """Exchange the running statistics of each BatchNorm in ``norms`` with ``stored`` (in place)."""
    for norm, other in zip(norms, stored, strict=True):
        for key, value in other.items():
            current = getattr(norm, key)
            other[key] = current
            setattr(norm, key, value.to(current.device))  # the model may have moved since


def build_model(cfg: ModelConfig | None = None) -> ASHNet:
    """Build an :class:`ASHNet` from its config (the defaults when ``None``)."""
    if cfg is None:
        cfg = ModelConfig()
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"build_model needs a ModelConfig, got {type(cfg).__name__}")
    return ASHNet(cfg)
