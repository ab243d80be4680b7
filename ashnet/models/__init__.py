"""ASH-Net models: ANN and SNN image encoders, fusion, text encoder, FIBER, heads, factory, experts."""

from ..config import (
    AbstractConfig,
    ConcreteConfig,
    FiberConfig,
    FusionConfig,
    ModelConfig,
    MoLEConfig,
    MoVEConfig,
    TextConfig,
)
from .abstract import AbstractEncoder, AbstractOutput
from .ashnet import ASHNet, FusedEmbedding, ImageEmbedding, analog_twin_of, build_model
from .concrete import ConcreteEncoder, ConcreteOutput, pretrained_efficientnet_lite
from .fiber import FiberFusion
from .fusion import Fusion
from .mole import MoLE, MoLEOutput
from .move import MoVE, MoVEOutput
from .text import E5TextEncoder, TextEncoder, TextFeatures, build_text_encoder

__all__ = [
    "ASHNet",
    "build_model",
    "analog_twin_of",
    "ImageEmbedding",
    "FusedEmbedding",
    "FiberFusion",
    "FusedEmbedding",
    "FiberConfig",
    "FiberFusion",
    "ModelConfig",
    "ConcreteConfig",
    "AbstractConfig",
    "FusionConfig",
    "TextConfig",
    "MoVEConfig",
    "MoLEConfig",
    "MoVE",
    "MoVEOutput",
    "MoLE",
    "MoLEOutput",
    "ConcreteEncoder",
    "ConcreteOutput",
    "pretrained_efficientnet_lite",
    "AbstractEncoder",
    "AbstractOutput",
    "Fusion",
    "TextEncoder",
    "E5TextEncoder",
    "build_text_encoder",
    "TextFeatures",
]
