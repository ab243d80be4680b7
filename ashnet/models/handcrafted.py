"""Handcrafted image experts without weights: per-cell colour histograms and HOG, as feature maps.

Both give one feature vector per 32 x 32-pixel cell, the stride of the EfficientNet backbones, so
their tokens line up with the CNN's (a 128-pixel image gives a 4 x 4 map) and can be mixed with
them by :class:`ashnet.models.move.MoVE`. They take images in ``[0, 1]`` and have nothing to train.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["CELL", "ColourHistogram", "HOG", "HANDCRAFTED"]

CELL = 32  # pixels per token side, as the stride of EfficientNet's last feature map


def _check_size(images: torch.Tensor, name: str) -> None:
    if min(images.shape[-2:]) < CELL:
        raise ValueError(
            f"the {name} expert needs images of at least {CELL} pixels, got {tuple(images.shape)}"
        )


class ColourHistogram(nn.Module):
    """Joint RGB histogram of each 32-pixel cell: ``levels**3`` bins, the fraction of its pixels in each.

    Each channel is cut into ``levels`` equal intervals of ``[0, 1]``; a pixel falls in the bin of
    its three interval indices. ``[B, 3, H, W]`` becomes ``[B, levels**3, H // 32, W // 32]``
    (counted with ``scatter_add``: no one-hot tensor of every pixel).
    """

    def __init__(self, levels: int = 4):
        super().__init__()
        self.levels = levels
        self.num_features = levels**3

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_size(images, "colour histogram")
        B = images.shape[0]
        h, w = (s // CELL for s in images.shape[-2:])
        q = (images[..., : h * CELL, : w * CELL].clamp(0, 1) * self.levels).long().clamp(max=self.levels - 1)
        colour = (q[:, 0] * self.levels + q[:, 1]) * self.levels + q[:, 2]  # [B, H, W]
        rows = torch.arange(h * CELL, device=images.device) // CELL
        cols = torch.arange(w * CELL, device=images.device) // CELL
        cell = rows.view(-1, 1) * w + cols.view(1, -1)  # [H, W]
        index = (cell * self.num_features + colour).view(B, -1)
        counts = torch.zeros(B, h * w * self.num_features, device=images.device, dtype=images.dtype)
        counts.scatter_add_(1, index, torch.ones_like(index, dtype=images.dtype))
        return (counts / CELL**2).view(B, h, w, self.num_features).permute(0, 3, 1, 2)


class HOG(nn.Module):
    """Histograms of oriented gradients (scikit-image's ``hog``) of each 32-pixel cell.

    Gradients are binned into ``orientations`` unsigned directions over 16-pixel cells; each block
    of 2 x 2 such cells (one 32-pixel token) is L2-Hys normalised, as in Dalal and Triggs. Only the
    non-overlapping blocks are kept, so ``[B, 3, H, W]`` becomes
    ``[B, 4 * orientations, H // 32, W // 32]``. Computed on the CPU with NumPy, image by image.
    """

    def __init__(self, orientations: int = 9):
        super().__init__()
        self.orientations = orientations
        self.num_features = 4 * orientations

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from skimage.feature import hog

        _check_size(images, "HOG")
        h, w = (s // CELL * CELL for s in images.shape[-2:])
        pixels = images[..., :h, :w].detach().permute(0, 2, 3, 1).cpu().double().numpy()
        maps = [
            hog(
                image,
                orientations=self.orientations,
                pixels_per_cell=(CELL // 2, CELL // 2),
                cells_per_block=(2, 2),
                channel_axis=-1,
                feature_vector=False,
            )[::2, ::2]  # [h/32, w/32, 2, 2, orientations]: the non-overlapping blocks
            for image in pixels
        ]
        out = torch.from_numpy(np.stack(maps)).flatten(3)  # [B, h/32, w/32, 4 * orientations]
        return out.permute(0, 3, 1, 2).to(device=images.device, dtype=images.dtype)


# Backbone names of ConcreteConfig served by this module.
HANDCRAFTED = {"colour_histogram": ColourHistogram, "hog": HOG}
