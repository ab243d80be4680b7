"""The inputs of a vision-language task: cached frozen features, encoded targets and their batches."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import ImageRecord, PairTable
from ..data.scene_examples import VE_LABELS
from ..data.tasks import TaskData
from ..models import ConcreteOutput, TextFeatures
from .features import cache_features

__all__ = ["TaskInputs", "encode_targets", "answer_classes"]


def answer_classes(data: TaskData) -> list[str]:
    """The answer vocabulary of ``vqa`` and ``count``: distinct training answers, most frequent first."""
    counts: dict[str, int] = {}
    for example in data.examples:
        counts[str(example.target)] = counts.get(str(example.target), 0) + 1
    return sorted(counts, key=lambda a: (-counts[a], a))


def encode_targets(data: TaskData, classes: list[str]) -> torch.Tensor:
    """Targets as a tensor: float labels (``itm``, ``nlvr2``), class indices (``-1``: not in ``classes``)
    for ``vqa``, ``count`` and ``ve``, boxes ``[n, 4]`` for ``grounding``."""
    targets = [e.target for e in data.examples]
    if data.task in ("itm", "nlvr2"):
        return torch.tensor([float(t) for t in targets])
    if data.task == "grounding":
        return torch.tensor(targets, dtype=torch.float32).view(-1, 4)
    names = list(VE_LABELS) if data.task == "ve" else classes
    index = {name: i for i, name in enumerate(names)}
    return torch.tensor([index.get(str(t), -1) for t in targets], dtype=torch.long)


class TaskInputs:
    """The frozen backbones' features of a task's images and texts, computed once, and its targets.

    Both backbones must be frozen (``model.concrete.freeze`` and ``model.text.freeze``): their
    features are cached (in ``cache_dir`` when given). With fusion in the backbone the text tokens
    are those below the fused layers.
    """

    def __init__(
        self,
        model,
        data: TaskData,
        classes: list[str],
        image_size: int,
        batch_size: int,
        device,
        cache_dir: str | Path | None = None,
        progress: bool = True,
    ):
        if not (model.frozen_concrete and model.frozen_text):
            raise ValueError(
                "task fine-tuning caches the backbones' features: it needs model.concrete.freeze "
                "and model.text.freeze to be true"
            )
        if not data.examples:
            raise ValueError(f"{data.source} has no usable {data.task} examples in the {data.split} split")
        self.data, self.device = data, device
        table = PairTable([ImageRecord(path, ["-"], "train") for path in data.images])
        texts = data.texts
        layer = model.fused_text_layer if model.fiber is not None else None
        self.cache = cache_features(
            model, table, texts, image_size, batch_size, device, cache_dir, progress, text_layer=layer
        )
        text_id = {t: i for i, t in enumerate(texts)}
        self.text_ids = torch.tensor([text_id[e.text] for e in data.examples])
        self.image_ids = torch.tensor([e.images for e in data.examples])  # [n, 1] or [n, 2]
        self.targets = encode_targets(data, classes)

    def __len__(self) -> int:
        return len(self.data.examples)

    def batch(
        self, index: list[int]
    ) -> tuple[list[ConcreteOutput], TextFeatures, torch.Tensor, torch.Tensor]:
        """Images (a :class:`ConcreteOutput` per image slot), texts, targets and text ids of ``index``."""
        i = torch.as_tensor(index)
        images = [
            self.cache.images(self.image_ids[i, slot].tolist(), self.device)
            for slot in range(self.image_ids.shape[1])
        ]
        text = self.cache.captions(self.text_ids[i].tolist(), self.device)
        return images, text, self.targets[i].to(self.device), self.text_ids[i].to(self.device)
