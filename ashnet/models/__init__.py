"""ASH-Net models: concrete (ANN) and abstract (SNN) image encoders, fusion, text encoder, factory."""

from .abstract import AbstractEncoder, AbstractOutput
from .ashnet import ASHNet, ImageEmbedding, build_model
from .concrete import ConcreteEncoder, ConcreteOutput, pretrained_efficientnet_lite
from .config import AbstractConfig, ConcreteConfig, FusionConfig, ModelConfig, TextConfig
from .fusion import Fusion
from .text import TextEncoder, TextFeatures

__all__ = [
    "ASHNet",
    "build_model",
    "ImageEmbedding",
    "ModelConfig",
    "ConcreteConfig",
    "AbstractConfig",
    "FusionConfig",
    "TextConfig",
    "ConcreteEncoder",
    "ConcreteOutput",
    "pretrained_efficientnet_lite",
    "AbstractEncoder",
    "AbstractOutput",
    "Fusion",
    "TextEncoder",
    "TextFeatures",
]
