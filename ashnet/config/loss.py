"""The ``loss`` sections: each training objective on or off, its weight and its options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .schema import Section, at_least, non_negative, positive, setting

__all__ = ["ITCObjective", "SpatioTemporalObjective", "STUAObjective", "LossConfig"]


@dataclass
class ITCObjective(Section, path="loss.itc"):
    """Image-text contrast. ``hard_negative_beta``: ``beta >= 0`` of :func:`ashnet.losses.itc_loss`
    (0: plain InfoNCE).

    ``per_head``: weight ``w`` of an extra ITC loss on each image head alone (the concrete and the
    abstract embedding before fusion): ``L = L_fused + w (L_concrete + L_abstract) / 2``, so each
    branch must match captions by itself and the fusion gets two useful inputs (0: off).
    """

    enabled: bool = True
    weight: float = setting(1.0, non_negative)
    hard_negative_beta: float = setting(0.0, non_negative)
    per_head: float = setting(0.0, non_negative)


@dataclass
class SpatioTemporalObjective(Section, path="loss.st"):
    """Spatio-temporal contrast of the spiking image encoder (see :func:`ashnet.losses.spatiotemporal_loss`).

    ``mode``: ``"windows"`` (disjoint time windows of one pass are views) or ``"encodings"`` (two
    passes with independent Poisson spike encodings are views; needs
    ``model.abstract.encoding: poisson``). ``windows``: number of contiguous, non-overlapping time
    windows in ``windows`` mode (<= time steps). ``temperature``: the fixed softmax temperature of
    this loss, its own (the learnt ITC temperature is not shared: matching views of one image is a
    different task from matching images to captions).
    """

    enabled: bool = True
    weight: float = setting(0.5, non_negative)
    mode: Literal["windows", "encodings"] = "windows"
    windows: int = setting(2, at_least(2))
    temperature: float = setting(0.1, positive)


@dataclass
class STUAObjective(Section, path="loss.stua"):
    """STUA: align the spiking encoder's text embedding with the text embedding.

    See :func:`ashnet.losses.stua_loss`.
    """

    enabled: bool = True
    weight: float = setting(0.5, non_negative)


@dataclass
class LossConfig(Section, path="loss"):
    """The objectives, each on or off and weighted: ``total = sum_k weight_k L_k`` over enabled ``k``."""

    itc: ITCObjective = setting(ITCObjective)
    st: SpatioTemporalObjective = setting(SpatioTemporalObjective)
    stua: STUAObjective = setting(STUAObjective)
