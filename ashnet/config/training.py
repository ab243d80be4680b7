"""The ``data``, ``train``, ``stua``, ``task`` and ``multitask`` sections: what a run reads, how it trains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .schema import Check, Section, at_least, non_empty, non_negative, positive, setting, unique

__all__ = ["DataConfig", "TrainConfig", "StuaConfig", "TaskConfig", "MultiTaskConfig"]

# The tasks of a scenes-style task file (as ashnet.data.scenes.TASKS, which imports far more).
TASK_NAMES = ("itm", "vqa", "ve", "nlvr2", "grounding", "count")

_codes = Check("language codes such as en, sw", lambda v: all(code.strip() for code in v))


@dataclass
class DataConfig(Section, path="data"):
    """How images and captions are fed.

    ``image_size``: side of the square images in pixels; ``batch_size``: images per step (per process
    under torchrun, so the global batch is ``batch_size * world_size``); ``num_workers``: DataLoader
    worker processes for image loading. ``languages``: the caption languages trained on (and
    validated on): ``en`` is the main ``caption`` column, another code its ``caption_<code>``
    column; with several, each image's captions in all of them are pooled and one is drawn per
    epoch (see :meth:`ashnet.data.PairTable.in_languages`). ``image_key``, ``caption_key``,
    ``split_key``: the columns of a CSV/TSV pairs file (keys of a JSON-lines file or of a WebDataset
    sample's ``.json``) that hold the image, the caption and the split; other columns are ignored.
    """

    image_size: int = setting(64, at_least(1))
    batch_size: int = setting(64, at_least(1))
    num_workers: int = setting(0, at_least(0))
    languages: tuple[str, ...] = setting(("en",), non_empty, unique, _codes)
    image_key: str = setting("image", non_empty)
    caption_key: str = setting("caption", non_empty)
    split_key: str = setting("split", non_empty)

    @property
    def keys(self) -> dict[str, str]:
        """``image_key``, ``caption_key`` and ``split_key``, as keyword arguments of ``load_pairs``."""
        return {"image_key": self.image_key, "caption_key": self.caption_key, "split_key": self.split_key}


@dataclass
class TrainConfig(Section, path="train"):
    """Optimisation schedule and bookkeeping of image-text training.

    ``max_steps`` caps the steps (``None``: ``epochs`` full passes). The learning rate warms up linearly
    over ``warmup_steps`` then follows a cosine to zero. ``grad_clip``: max global gradient norm
    (``None``: off). ``amp``: mixed precision where the device supports it (fp16 autocast with a
    gradient scaler on CUDA; CPU runs stay in fp32). ``device``: ``auto`` (CUDA when available), ``cpu``
    or ``cuda``. ``eval_every``, ``log_every``, ``checkpoint_every`` are in steps (``0``: only at the end).
    A checkpoint is also written at the end of every ``checkpoint_every_epochs``-th epoch and every
    ``checkpoint_minutes`` of training (``0``: neither), so a killed run resumes (``--resume``) with
    at most one epoch, or that many minutes, to redo.
    ``init``: a checkpoint (for example from ``ashnet pretrain-stua``) whose matching weights start training.
    ``threads``: CPU threads of torch's intra-op pool, pinned for the run (feature caching included)
    and logged with the seed: reductions (BatchNorm, LayerNorm, matmul) are summed in an order that
    depends on the thread count, and spiking thresholds amplify last-bit differences, so runs are
    identical only for the same seed *and* thread count.
    """

    epochs: int = setting(1, at_least(1))
    max_steps: int | None = setting(None, at_least(1))
    lr: float = setting(1e-3, positive)
    weight_decay: float = setting(0.01, non_negative)
    warmup_steps: int = setting(0, at_least(0))
    grad_clip: float | None = setting(1.0, positive)
    amp: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    eval_every: int = setting(0, at_least(0))
    log_every: int = setting(10, at_least(0))
    checkpoint_every: int = setting(0, at_least(0))
    checkpoint_every_epochs: int = setting(1, at_least(0))
    checkpoint_minutes: float = setting(10.0, non_negative)
    init: str | None = setting(None, non_empty)
    threads: int = setting(1, at_least(1))


@dataclass
class StuaConfig(Section, path="stua"):
    """STUA pre-training: the spiking encoder learns from captions alone.

    ``steps``: optimisation steps of ``ashnet pretrain-stua``, and of the stage ``ashnet train``
    runs first (into ``RUN/stua``, on the training captions) when the model has the spiking
    branch (``0``: no stage); ``lr``, ``batch_size``, ``warmup_steps``: as in training.
    """

    steps: int = setting(0, at_least(0))
    lr: float = setting(1e-3, positive)
    batch_size: int = setting(128, at_least(1))
    warmup_steps: int = setting(0, at_least(0))


@dataclass
class TaskConfig(Section, path="task"):
    """Fine-tuning on a vision-language task (``ashnet finetune``; see :mod:`ashnet.training.finetune`).

    ``name``: the task. ``hidden``: width of the head. ``freeze_encoder``: keep the pretrained
    ASH-Net (spiking encoder, projections, fusion) frozen and train only fusion in the backbone and
    the head. ``blind``: the question-only baseline, whose head never sees the image.
    ``itc_weight``: weight of image-text contrast beside ITM in the ``itm`` (coarse) stage; it
    trains the dual encoder, so it needs ``freeze_encoder: false``. ``classes``: the answer
    vocabulary of ``vqa`` and ``count``, filled in from the training split when empty.
    """

    name: Literal["itm", "vqa", "ve", "nlvr2", "grounding", "count"] = "vqa"
    hidden: int = setting(256, at_least(1))
    freeze_encoder: bool = True
    blind: bool = False
    itc_weight: float = setting(1.0, non_negative)
    classes: tuple[str, ...] = setting((), unique)


_tasks = Check(f"tasks of {list(TASK_NAMES)}", lambda v: all(t in TASK_NAMES for t in v))
_vocabularies = Check(
    "a mapping of task to its list of answers",
    lambda v: isinstance(v, dict) and all(t in TASK_NAMES and isinstance(a, list) for t, a in v.items()),
)


@dataclass
class MultiTaskConfig(Section, path="multitask"):
    """Multi-task fine-tuning (``ashnet finetune --tasks``; see :mod:`ashnet.training.multitask`).

    ``tasks``: the tasks trained together, each with its own head (one task: a specialist).
    ``hidden``: width of each head. ``itc_weight``: weight of image-text contrast beside ITM when
    ``itm`` is one of the tasks. ``classes``: the answer vocabulary of ``vqa`` and ``count`` per
    task, filled in from the training split when missing.
    """

    tasks: tuple[str, ...] = setting(("vqa", "ve", "count", "nlvr2"), non_empty, _tasks, unique)
    hidden: int = setting(256, at_least(1))
    itc_weight: float = setting(0.0, non_negative)
    classes: Any = field(default_factory=dict, metadata={"checks": (_vocabularies,)})
