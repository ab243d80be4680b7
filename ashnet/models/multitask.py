"""A multi-task model: one ASH-Net with a head per task, MoVE on the image side, MoLE on the text (MoME)."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..config.model import ModelConfig
from .ashnet import build_model
from .experts import MixedVision
from .heads import OUTPUTS, TaskModel
from .mole import MoLE
from .text import TextFeatures, mean_pool

__all__ = ["TASK_IDS", "MultiTaskModel"]

TASK_IDS = {task: i for i, task in enumerate(OUTPUTS)}  # the MoVE router's task embedding rows


class MultiTaskModel(nn.Module):
    """An ASH-Net shared by one head per task, optionally with MoVE on the image side and MoLE on the text.

    The heads are those of :class:`~ashnet.models.heads.TaskModel` (one per task, all on the same
    ASH-Net, which is stored once). With MoVE the ASH-Net has no spiking branch of its own: the
    spiking encoder is one of the experts.
    """

    def __init__(self, cfg: ModelConfig, tasks: list[str], classes: dict[str, list[str]], hidden: int = 256):
        super().__init__()
        model_cfg = cfg
        if cfg.move.enabled:
            cfg = dataclasses.replace(cfg, abstract=dataclasses.replace(cfg.abstract, enabled=False))
        self.model = build_model(cfg)
        self.vision = None
        if cfg.move.enabled:
            if cfg.move.dim != self.model.concrete.dim:
                raise ValueError(
                    f"model.move.dim ({cfg.move.dim}) must be the width of model.concrete "
                    f"({cfg.concrete.backbone}: {self.model.concrete.dim}), which the heads read"
                )
            self.vision = MixedVision(cfg.move, model_cfg.abstract, self.model.text.dim, len(TASK_IDS))
        self.mole = MoLE(self.model.text.dim, cfg.mole) if cfg.mole.enabled else None
        self.tasks = list(tasks)
        self.task_models = {
            t: TaskModel(self.model, t, len(classes.get(t, [])), hidden, freeze_encoder=False)
            for t in self.tasks
        }  # a plain dict: their ASH-Net is self.model and their heads are registered below
        self.heads = nn.ModuleDict({t: tm.head for t, tm in self.task_models.items()})

    def prepare(self, task: str, images: list, text: TextFeatures):
        """The heads' inputs: each image slot mixed by MoVE (from its backbone tokens), the text through MoLE.

        Returns the images (:class:`ConcreteOutput` per slot), the text and the routing outputs
        ``{"move": [MoVEOutput per slot], "mole": MoLEOutput}`` of the parts the model has.
        """
        routing: dict = {}
        if self.vision is not None:
            ids = torch.full((len(text.pooled),), TASK_IDS[task], device=text.pooled.device)
            mixed = [self.vision(slot, ids, text.pooled) for slot in images]
            images = [concrete for concrete, _ in mixed]
            routing["move"] = [out for _, out in mixed]
        if self.mole is not None:
            out = self.mole(text.tokens, text.mask)
            # the dual encoder pools the (adapted) last-layer tokens; fusion pools its own output
            pooled = mean_pool(out.x, text.mask) if self.model.fiber is None else text.pooled
            text = TextFeatures(out.x, text.mask, pooled)
            routing["mole"] = out
        return images, text, routing

    def forward(self, task: str, images: list, text: TextFeatures):
        """The head output of ``task`` (as :meth:`TaskModel.forward`) and the routing outputs."""
        images, text, routing = self.prepare(task, images, text)
        return self.task_models[task](images, text), routing
