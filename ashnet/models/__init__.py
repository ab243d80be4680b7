"""ASH-Net models: ANN and SNN image encoders, fusion, text encoder, factory, vision and language experts."""

from ..config import (
    AbstractConfig,
    ConcreteConfig,
    FusionConfig,
    ModelConfig,
    MoLEConfig,
    MoVEConfig,
    TextConfig,
)
from .abstract import AbstractEncoder, AbstractOutput
from .ashnet import ASHNet, ImageEmbedding, analog_twin_of, build_model
from .concrete import ConcreteEncoder, ConcreteOutput, pretrained_efficientnet_lite
from .fusion import Fusion
from .mole import MoLE, MoLEOutput
from .move import MoVE, MoVEOutput
from .text import E5TextEncoder, TextEncoder, TextFeatures, build_text_encoder

__all__ = [
    "ASHNet",
    "build_model",
    "analog_twin_of",
    "ImageEmbedding",
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
