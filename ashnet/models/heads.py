"""Task heads on ASH-Net's dual-encoder or fused embeddings: answer classes, match scores and boxes.

:class:`TaskModel` wraps an :class:`~ashnet.models.ASHNet` and one head. The joint feature of an
image-text pair is ``[i, t, i * t, |i - t|]`` of the image and text embeddings ``i, t`` (``[B, E]``):
those of the dual encoder, or those of fusion in the backbone when ``model.fiber`` is enabled (the
head is the same, so "dual vs fused" compares the backbones alone). NLVR2-style pairs concatenate
the joint features of (left image, statement) and (right image, statement). Grounding scores every
image token against the phrase and regresses a box from the best one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import neuro

from .abstract import pool_onto_grid
from .ashnet import ASHNet
from .concrete import ConcreteOutput
from .text import TextFeatures

__all__ = ["MLPHead", "GroundingHead", "TaskModel", "joint_features", "OUTPUTS"]

# Output size of each task's head (None: the number of answer classes).
OUTPUTS = {"itm": 1, "vqa": None, "ve": 3, "nlvr2": 1, "grounding": 5, "count": None}


def joint_features(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """``[i, t, i * t, |i - t|]``: ``[B, 4E]`` from image and text embeddings ``[B, E]``."""
    return torch.cat([image, text, image * text, (image - text).abs()], dim=-1)


class MLPHead(nn.Module):
    """``Linear(d_in, hidden) -> GELU -> LayerNorm -> Linear(hidden, d_out)``."""

    def __init__(self, d_in: int, hidden: int, d_out: int):
        super().__init__()
        self.net = nn.Sequential(
            neuro.Linear(d_in, hidden), nn.GELU(), nn.LayerNorm(hidden), neuro.Linear(hidden, d_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GroundingHead(nn.Module):
    """Score each image token against a phrase and predict a box from it.

    The ``N`` tokens form a square grid (``g = sqrt(N)``). Token ``n`` gets the feature
    ``u_n = W_c v_n (+ W_s r_n)`` from its backbone vector ``v_n`` (and the firing rate ``r_n`` of
    its spiking token), and an MLP of ``[u_n, W_t t, u_n * W_t t]`` gives a score and four box
    offsets: centre ``c_n + tanh(o_xy) / g`` (``c_n`` the cell centre), size ``sigmoid(o_wh)``.
    Boxes are ``(x0, y0, x1, y1)`` as fractions of the image side.
    """

    def __init__(self, d_image: int, d_spikes: int | None, embed_dim: int, hidden: int):
        super().__init__()
        self.image = neuro.Linear(d_image, hidden)
        self.spikes = neuro.Linear(d_spikes, hidden) if d_spikes is not None else None
        self.text = neuro.Linear(embed_dim, hidden)
        self.out = MLPHead(3 * hidden, hidden, 5)

    def forward(self, tokens: torch.Tensor, rates: torch.Tensor | None, text: torch.Tensor):
        """Scores ``[B, N]`` and boxes ``[B, N, 4]`` from tokens, spike rates and text embeddings."""
        B, N, _ = tokens.shape
        g = math.isqrt(N)
        if g * g != N:
            raise ValueError(f"grounding needs a square grid of image tokens, got {N}")
        u = self.image(tokens)
        if self.spikes is not None and rates is not None:
            u = u + self.spikes(rates)
        t = self.text(text).unsqueeze(1).expand_as(u)
        o = self.out(torch.cat([u, t, u * t], dim=-1))
        cells = (torch.arange(N, device=tokens.device) + 0.0).view(N, 1)
        centre = torch.cat([cells % g, torch.div(cells, g, rounding_mode="floor")], dim=-1).add(0.5) / g
        xy = centre + torch.tanh(o[..., 1:3]) / g
        wh = torch.sigmoid(o[..., 3:5])
        boxes = torch.cat([xy - wh / 2, xy + wh / 2], dim=-1).clamp(0, 1)
        return o[..., 0], boxes


class TaskModel(nn.Module):
    """An ASH-Net with the head of one task.

    Parameters
    ----------
    model
        The ASH-Net; with ``model.fiber`` the fused path is used, else the dual encoder.
    task
        ``itm``, ``vqa``, ``ve``, ``nlvr2``, ``grounding`` or ``count``.
    n_classes
        Answer classes (``vqa``, ``count``).
    hidden
        Width of the head.
    freeze_encoder
        Train only the head and fusion in the backbone; the rest of the ASH-Net stays in eval mode.
    blind
        The question-only baseline: the image embedding and tokens are zeros, nothing is fused.
    """

    def __init__(
        self,
        model: ASHNet,
        task: str,
        n_classes: int = 0,
        hidden: int = 256,
        freeze_encoder: bool = True,
        blind: bool = False,
    ):
        super().__init__()
        if task not in OUTPUTS:
            raise ValueError(f"unknown task {task!r}; choose one of {', '.join(OUTPUTS)}")
        self.model, self.task, self.freeze_encoder, self.blind = model, task, freeze_encoder, blind
        E = model.cfg.embed_dim
        if task == "grounding":
            d_spikes = model.cfg.abstract.dim if model.has_snn else None
            self.head = GroundingHead(model.concrete.dim, d_spikes, E, hidden)
        else:
            n_out = OUTPUTS[task] or n_classes
            if n_out < 1:
                raise ValueError(f"task {task} needs at least one answer class")
            self.head = MLPHead((8 if task == "nlvr2" else 4) * E, hidden, n_out)
        if freeze_encoder:
            model.requires_grad_(False)
            if model.fiber is not None:
                model.fiber.requires_grad_(True)

    @property
    def fused(self) -> bool:
        return self.model.fiber is not None and not self.blind

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_encoder:
            self.model.eval()
            if self.model.fiber is not None:
                self.model.fiber.train(mode)
        return self

    def embed(self, concrete: ConcreteOutput, text: TextFeatures):
        """Image and text embeddings ``[B, E]``, image tokens ``[B, N, C]`` and spike rates ``[B, N, D]``
        (averaged onto the image tokens when the spiking branch reads a finer level grid)."""
        if self.blind:
            B, N, C = concrete.tokens.shape
            text_embedding = self.model.embed_text(text)
            return torch.zeros_like(text_embedding), text_embedding, concrete.tokens.new_zeros(B, N, C), None
        if self.fused:
            out = self.model.embed_fused(concrete, text)
            image, text_embedding, tokens = out.image, out.text, out.image_tokens
        else:
            image, text_embedding = self.model.embed_image(concrete), self.model.embed_text(text)
            tokens = concrete.tokens
        rates = image.spikes.mean(0) if image.spikes is not None else None
        if rates is not None and rates.shape[1] != tokens.shape[1]:  # spikes on a finer level grid
            rates = pool_onto_grid(rates, tokens.shape[1])
        return image.embedding, text_embedding, tokens, rates

    def forward(self, images: list[ConcreteOutput], text: TextFeatures):
        """The head's output for one image (two for ``nlvr2``) per text.

        ``itm``, ``nlvr2``: a logit ``[B]``; ``vqa``, ``ve``, ``count``: class logits ``[B, K]``;
        ``grounding``: token scores ``[B, N]`` and boxes ``[B, N, 4]``.
        """
        if self.task == "nlvr2":
            joint = [joint_features(*self.embed(image, text)[:2]) for image in images]
            return self.head(torch.cat(joint, dim=-1)).squeeze(-1)
        image, text_embedding, tokens, rates = self.embed(images[0], text)
        if self.task == "grounding":
            return self.head(tokens, rates, text_embedding)
        out = self.head(joint_features(image, text_embedding))
        return out.squeeze(-1) if self.task == "itm" else out
