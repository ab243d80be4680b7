"""The vision experts MoVE mixes (frozen backbones by name, the spiking encoder on one), and their mix."""

from __future__ import annotations

import torch
from torch import nn

from ..config import AbstractConfig, ConcreteConfig, MoVEConfig
from .abstract import AbstractEncoder
from .concrete import ConcreteEncoder, ConcreteOutput
from .move import MoVE, MoVEOutput

__all__ = ["SPIKING", "VisionExperts", "MixedVision"]

SPIKING = "spiking"  # the expert name of the spiking (abstract) encoder


class VisionExperts(nn.Module):
    """Run the experts of ``cfg.experts`` on the same images and give their tokens by name.

    Every name other than ``"spiking"`` is a frozen :class:`ConcreteEncoder` backbone
    (``efficientnet_lite0``, ``efficientnet_lite2``, ``colour_histogram``, ``hog``, ...), so its
    tokens can be computed once and cached (:meth:`backbone_tokens`). ``"spiking"`` is a trained
    :class:`AbstractEncoder` (configured by ``abstract``) reading the tokens of the backbone
    ``cfg.spiking_input``, which is built even when it is not itself an expert; its tokens are
    each token's spike rate over the time steps ``[B, N, abstract.dim]``.
    """

    def __init__(self, cfg: MoVEConfig, abstract: AbstractConfig):
        super().__init__()
        self.names = cfg.experts
        self.spiking_input = cfg.spiking_input if SPIKING in cfg.experts else None
        needed = [n for n in cfg.experts if n != SPIKING]
        if self.spiking_input is not None and self.spiking_input not in needed:
            needed.append(self.spiking_input)
        self.backbones = nn.ModuleDict(
            {name: ConcreteEncoder(ConcreteConfig(backbone=name, freeze=True)) for name in needed}
        )
        self.widths = {name: self.backbones[name].dim for name in needed}
        if self.spiking_input is not None:
            self.spiking = AbstractEncoder(abstract, d_in=self.widths[self.spiking_input])
            self.widths[SPIKING] = abstract.dim
        else:
            self.spiking = None

    @torch.no_grad()
    def backbone_tokens(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tokens ``[B, N, C]`` of every frozen backbone for images ``[B, 3, H, W]`` in ``[0, 1]``."""
        return {name: encoder(images).tokens for name, encoder in self.backbones.items()}

    def forward_tokens(self, tokens: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every expert's tokens from the (cached) backbone tokens: adds the spiking expert's rates."""
        out = {name: tokens[name] for name in self.names if name != SPIKING}
        if self.spiking is not None:
            out[SPIKING] = self.spiking(tokens[self.spiking_input]).spikes.mean(dim=0)
        return out

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.forward_tokens(self.backbone_tokens(images))


class MixedVision(nn.Module):
    """The image side of a MoME model: the :class:`VisionExperts` mixed by :class:`MoVE` into one token map.

    Its output is a :class:`ConcreteOutput` (the mixed tokens ``[B, grid * grid, dim]`` and their
    mean), so anything that reads a concrete backbone's output reads it; ``dim`` is set to the width
    that reader expects. The router sees the task id and the pooled text of each sample.
    """

    def __init__(self, cfg: MoVEConfig, abstract: AbstractConfig, text_dim: int, num_tasks: int):
        super().__init__()
        self.experts = VisionExperts(cfg, abstract)
        self.move = MoVE(cfg, self.experts.widths, text_dim, num_tasks)

    def forward(
        self, backbone_tokens: dict[str, torch.Tensor], task: torch.Tensor, text: torch.Tensor
    ) -> tuple[ConcreteOutput, MoVEOutput]:
        """Mixed tokens from the (cached) backbone tokens, task ids ``[B]`` and pooled text ``[B, H]``."""
        out = self.move(self.experts.forward_tokens(backbone_tokens), task, text)
        return ConcreteOutput(out.tokens, out.tokens.mean(dim=1)), out
