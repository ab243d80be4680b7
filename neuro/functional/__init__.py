"""Pure neuron functions: ``*_step(x, state, params)`` and ``*_multi_step(x_seq, state, params)``."""

from .alif import ALIFParameters, ALIFState, alif_multi_step, alif_step
from .common import FireParameters, LIFState, fire_and_reset, multi_step, resolve_backend
from .cuba_lif import CubaLIFParameters, CubaLIFState, cuba_lif_multi_step, cuba_lif_step
from .lif import (
    IFParameters,
    LIFParameters,
    ParametricLIFParameters,
    if_multi_step,
    if_step,
    lif_multi_step,
    lif_step,
    plif_multi_step,
    plif_step,
    plif_weight_for_tau,
)

__all__ = [
    "ALIFParameters",
    "ALIFState",
    "CubaLIFParameters",
    "CubaLIFState",
    "FireParameters",
    "IFParameters",
    "LIFParameters",
    "LIFState",
    "ParametricLIFParameters",
    "alif_multi_step",
    "alif_step",
    "cuba_lif_multi_step",
    "cuba_lif_step",
    "fire_and_reset",
    "if_multi_step",
    "if_step",
    "lif_multi_step",
    "lif_step",
    "multi_step",
    "plif_multi_step",
    "plif_step",
    "plif_weight_for_tau",
    "resolve_backend",
]
