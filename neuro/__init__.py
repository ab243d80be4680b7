"""neuro: a spiking-neuron core. Neurons, surrogate gradients, encoders, kernels, monitors.

Multi-step tensors are ``[T, B, ...]``. ``neuro`` knows nothing about vision or language.
"""

from . import encoders, functional, surrogate
from .layers import Linear, Residual, SpikingConv2d, SpikingLinear, TimeDistributed
from .monitor import Monitor
from .neurons import ALIF, IF, LIF, CubaLIF, ParametricLIF, SpikingNeuron, reset

__all__ = [
    "ALIF",
    "IF",
    "LIF",
    "CubaLIF",
    "ParametricLIF",
    "SpikingNeuron",
    "reset",
    "Monitor",
    "Linear",
    "TimeDistributed",
    "Residual",
    "SpikingLinear",
    "SpikingConv2d",
    "encoders",
    "functional",
    "surrogate",
]
__version__ = "0.1.0"
