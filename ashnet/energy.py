"""Energy per image and per caption of an ASH-Net and its ANN twin, and per image of each vision expert."""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn

import neuro
from neuro.energy import HOROWITZ_45NM, EnergyCosts, EnergyMeter, EnergyReport

from .models import analog_twin_of

__all__ = ["ann_twin", "image_energy", "text_energy", "expert_energy"]


def ann_twin(model) -> nn.Module:
    """The same ASH-Net with its spiking branch made an ANN of the same shape (same weights).

    Every spiking neuron becomes a GELU (:func:`ashnet.models.analog_twin_of`, as in the trained
    ``twin`` config), the encoding is direct and there is one time step: the same layers, run once
    on real values, so every synaptic operation is a MAC (backbone levels summed into one input,
    as :func:`ashnet.demo.twin_of` does).
    """
    if not model.has_snn:
        raise ValueError("this model has no spiking branch to replace (model.abstract.enabled: false)")
    neuro.reset(model)  # the copy should not carry (or fail to copy) the last forward's state
    twin = copy.deepcopy(model)
    encoder = twin.abstract
    encoder.cfg = replace(encoder.cfg, time_steps=1, encoding="direct", stage_timing="together")
    analog_twin_of(encoder)
    return twin.eval()


def _batches(x, batch_size: int):
    return [x[i : i + batch_size] for i in range(0, len(x), batch_size)]


@torch.no_grad()
def image_energy(
    model, images: torch.Tensor, batch_size: int = 16, costs: EnergyCosts = HOROWITZ_45NM
) -> EnergyReport:
    """Operations and energy per image of ``model.encode_image`` (backbone, spiking branch, head)."""
    model.eval()
    with EnergyMeter(model, costs) as meter:
        for batch in _batches(images, batch_size):
            model.encode_image(batch)
    return meter.report(len(images))


@torch.no_grad()
def text_energy(
    model, captions: list[str], batch_size: int = 16, costs: EnergyCosts = HOROWITZ_45NM
) -> EnergyReport:
    """Operations and energy per caption of ``model.encode_text`` (tokenizer excluded)."""
    model.eval()
    with EnergyMeter(model, costs) as meter:
        for batch in _batches(captions, batch_size):
            model.encode_text(batch)
    return meter.report(len(captions))


@torch.no_grad()
def expert_energy(
    experts, images: torch.Tensor, batch_size: int = 16, costs: EnergyCosts = HOROWITZ_45NM
) -> dict[str, EnergyReport]:
    """Operations and energy per image of each expert of a :class:`~ashnet.models.experts.VisionExperts`.

    A backbone expert is counted on the images. The spiking expert is counted on its own: its input
    backbone's tokens are computed outside the count, so add that backbone's figure for the whole
    spiking path. The handcrafted experts do only elementwise work and pooling (HOG in NumPy),
    which the meter does not count, so they report zero.
    """
    from .models.experts import SPIKING

    experts.eval()
    batches = _batches(images, batch_size)
    reports = {}
    for name in experts.names:
        module = experts.spiking if name == SPIKING else experts.backbones[name]
        inputs = batches
        if name == SPIKING:
            inputs = [experts.backbones[experts.spiking_input](b).tokens for b in batches]
        with EnergyMeter(module, costs) as meter:
            for x in inputs:
                module(x)
        reports[name] = meter.report(len(images))
    return reports
