"""Multi-task fine-tuning (``ashnet finetune --tasks``): one model, a head per task, batches mixing the tasks.

A *generalist* is one :class:`MultiTaskModel` trained on the union of several tasks' training
examples: each batch is drawn from all of them, so every task is seen in proportion to its examples,
and the loss is the mean over the batch of each example's task loss (:class:`ashnet.training.
finetune.TaskStep`). A *specialist* is the same with one task. The heads, losses, metrics and data
readers are those of single-task fine-tuning (:mod:`ashnet.training.finetune`).

MoME (:doc:`/mome`): with ``model.move.enabled`` the image side is a mixture of vision experts
(:class:`~ashnet.models.experts.MixedVision`) routed by the task and the text of each example; with
``model.mole.enabled`` the text tokens pass sparse adapter experts (:class:`~ashnet.models.mole.MoLE`)
before the heads read them, and the load-balancing loss joins the total with
``model.mole.balance_weight``. ``model.mole.experts: 1`` is the dense adapter of the same place.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import load_checkpoint
from ..config import Config
from ..data import ImageRecord, PairTable
from ..data.tasks import TaskData, load_task
from ..evaluate_tasks import evaluate_task
from ..models.multitask import MultiTaskModel
from ..run import RunDir
from .batches import batches_per_epoch
from .features import cache_backbone_tokens, cache_features, take
from .finetune import TaskStep
from .image_text import load_init
from .loop import Schedule, optimise
from .runtime import seed_everything, start_runtime
from .task_batches import answer_classes, encode_targets

__all__ = [
    "MultiTaskInputs",
    "MultiTaskStep",
    "finetune_tasks",
    "load_multitask_run",
    "is_multitask_run",
    "evaluate_tasks",
    "routing_by_task",
]


class _TaskView(nn.Module):
    """One task of a :class:`MultiTaskModel`, called like a :class:`TaskModel` (for evaluation)."""

    def __init__(self, model: MultiTaskModel, task: str):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, images, text):
        return self.model(self.task, images, text)[0]


class MultiTaskInputs:
    """Every task's examples over one cache of image features: text features, image ids, targets.

    The images are encoded once per backbone (every backbone expert with MoVE, else the concrete
    backbone): those of ``images`` (default: the tasks' own), e.g. every image of the task file, so
    that its splits share one cache; ``shared``: another split's inputs over the same images, whose
    features are reused in memory. Items are the tasks' examples one after another; :meth:`batch`
    splits a batch of items by task. :meth:`task_inputs` gives one task's view, which evaluation reads like a
    :class:`~ashnet.training.task_batches.TaskInputs`.
    """

    def __init__(
        self,
        model: MultiTaskModel,
        data: dict[str, TaskData],
        classes: dict,
        image_size: int,
        batch_size: int,
        device,
        cache_dir=None,
        progress: bool = True,
        images: list[Path] | None = None,
        shared: MultiTaskInputs | None = None,
    ):
        trunk = model.model
        if not (trunk.frozen_concrete and trunk.frozen_text):
            raise ValueError(
                "multi-task fine-tuning caches the backbones' features: freeze model.concrete and model.text"
            )
        for task, d in data.items():
            if not d.examples:
                raise ValueError(f"{d.source} has no usable {task} examples in the {d.split} split")
        self.data, self.device, self.tasks = data, device, list(data)
        if shared is not None:
            paths, self.images = shared.paths, shared.images
        else:
            paths = (
                list(images) if images is not None else sorted({p for d in data.values() for p in d.images})
            )
            table = PairTable([ImageRecord(p, ["-"], "train") for p in paths])
            backbones = (
                model.vision.experts.backbones if model.vision is not None else {"concrete": trunk.concrete}
            )
            self.images = cache_backbone_tokens(
                backbones, table, image_size, batch_size, device, cache_dir, progress
            )
        self.paths = paths
        index = {p: i for i, p in enumerate(paths)}
        self.mixed = model.vision is not None
        layer = trunk.fused_text_layer if trunk.fiber is not None else None
        self.text, self.text_ids, self.image_ids, self.targets = {}, {}, {}, {}
        for task, d in data.items():
            texts = d.texts
            self.text[task] = cache_features(
                trunk, None, texts, image_size, batch_size, device, cache_dir, progress, text_layer=layer
            )
            position = {t: i for i, t in enumerate(texts)}
            self.text_ids[task] = torch.tensor([position[e.text] for e in d.examples])
            self.image_ids[task] = torch.tensor([[index[d.images[i]] for i in e.images] for e in d.examples])
            self.targets[task] = encode_targets(d, classes.get(task, []))
        sizes = [len(data[t].examples) for t in self.tasks]
        self.offsets = torch.tensor([0, *sizes]).cumsum(0)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _images(self, ids: torch.Tensor):
        """Backbone tokens by expert (MoVE) or the concrete output of images ``ids``."""
        if self.mixed:
            return {name: out.tokens[ids].to(self.device) for name, out in self.images.items()}
        return take(self.images["concrete"], ids).to(self.device)

    def task_batch(self, task: str, index) -> tuple:
        """Images (per image slot), text features, targets and text ids of ``task``'s examples ``index``."""
        i = torch.as_tensor(index, dtype=torch.long)
        images = [
            self._images(self.image_ids[task][i, slot]) for slot in range(self.image_ids[task].shape[1])
        ]
        text = self.text[task].captions(self.text_ids[task][i].tolist(), self.device)
        return images, text, self.targets[task][i].to(self.device), self.text_ids[task][i].to(self.device)

    def batch(self, index: list[int]) -> list[tuple[str, tuple]]:
        """The items ``index`` grouped by task: ``[(task, task_batch), ...]``."""
        items = torch.as_tensor(index, dtype=torch.long)
        which = torch.bucketize(items, self.offsets[1:], right=True)
        parts = []
        for k, task in enumerate(self.tasks):
            local = items[which == k] - self.offsets[k]
            if len(local):
                parts.append((task, self.task_batch(task, local)))
        return parts

    def task_inputs(self, task: str) -> _TaskInputsView:
        """One task's examples, read by :func:`ashnet.evaluate_tasks.evaluate_task`."""
        return _TaskInputsView(self, task)


class _TaskInputsView:
    """One task of a :class:`MultiTaskInputs`, read like a :class:`~.task_batches.TaskInputs`."""

    def __init__(self, inputs: MultiTaskInputs, task: str):
        self.inputs, self.task, self.data = inputs, task, inputs.data[task]

    def __len__(self) -> int:
        return len(self.data.examples)

    def batch(self, index):
        return self.inputs.task_batch(self.task, index)


class MultiTaskStep(nn.Module):
    """One step's loss over a batch mixing tasks: the mean of every example's task loss, plus balancing.

    Each task's part goes through :class:`~ashnet.training.finetune.TaskStep` (the single-task
    losses, ITM negatives included) on the prepared inputs; its ``total`` is weighted by its share of
    the batch. MoLE's load-balancing loss (the mean over the parts) joins with
    ``model.mole.balance_weight``.
    """

    def __init__(self, model: MultiTaskModel, itc_weight: float = 0.0, balance_weight: float = 0.0):
        super().__init__()
        self.model, self.balance_weight = model, balance_weight
        self.steps = {t: TaskStep(tm, itc_weight) for t, tm in model.task_models.items()}

    def forward(self, parts: list[tuple[str, tuple]]) -> dict[str, torch.Tensor]:
        n = sum(len(batch[2]) for _, batch in parts)
        total, balance = 0.0, []
        for task, (images, text, targets, text_ids) in parts:
            images, text, routing = self.model.prepare(task, images, text)
            total = total + self.steps[task](images, text, targets, text_ids)["total"] * (len(targets) / n)
            if "mole" in routing:
                balance.append(routing["mole"].balance_loss)
        losses = {"task": total.detach()}
        if balance:
            losses["balance"] = torch.stack(balance).mean()
            total = total + self.balance_weight * losses["balance"]
            losses["balance"] = losses["balance"].detach()
        losses["total"] = total
        return losses


@torch.no_grad()
def routing_by_task(model: MultiTaskModel, inputs: MultiTaskInputs, batch_size: int = 256) -> dict:
    """Mean MoVE weights ``[E]`` and MoLE load ``[E]`` per task over the examples of ``inputs``."""
    model.eval()
    out = {}
    for task in inputs.tasks:
        weights, load, n = 0.0, 0.0, len(inputs.data[task].examples)
        for start in range(0, n, batch_size):
            index = list(range(start, min(start + batch_size, n)))
            images, text, _, _ = inputs.task_batch(task, index)
            _, _, routing = model.prepare(task, images, text)
            if "move" in routing:
                weights = weights + sum(r.weights.sum(0) for r in routing["move"]) / len(routing["move"])
            if "mole" in routing:
                tokens = text.mask.sum()
                load = load + routing["mole"].gates.gt(0).float().sum((0, 1)) / tokens * len(index)
        out[task] = {
            "move": (weights / n).tolist() if model.vision is not None else None,
            "mole": (load / n).tolist() if model.mole is not None else None,
        }
    return out


def _build(config: Config) -> MultiTaskModel:
    m = config.multitask
    return MultiTaskModel(config.model, m.tasks, m.classes, m.hidden)


def _load_tasks(data, tasks: list[str], split: str) -> dict[str, TaskData]:
    return {t: load_task(data, t, split) for t in tasks}


def file_images(data: str | Path) -> list[Path]:
    """Every image of a task file, in file order, named as :func:`~ashnet.data.tasks.load_task` and
    :func:`~ashnet.data.load_pairs` name them (so they share cached features)."""
    path = Path(data)
    root = path.absolute().parent
    images = json.loads(path.read_text(encoding="utf-8")).get("images") or []
    return [
        Path(os.path.normpath(root / str(i["file_name"])))
        for i in images
        if isinstance(i, dict) and "file_name" in i
    ]


def _with_classes(config: Config, train: dict[str, TaskData]) -> Config:
    """The config with the answer vocabulary of ``vqa`` and ``count`` filled in from the training split."""
    classes = dict(config.multitask.classes)
    for task, d in train.items():
        if task in ("vqa", "count") and not classes.get(task):
            classes[task] = answer_classes(d)
    return dataclasses.replace(config, multitask=dataclasses.replace(config.multitask, classes=classes))


def _init_state(model: MultiTaskModel, source) -> int:
    """Load the matching weights of run ``source`` (its spiking encoder into MoVE's spiking expert)."""
    n = load_init(model.model, source)
    if model.vision is not None and model.vision.experts.spiking is not None:
        state = load_checkpoint(source)["model"]
        spiking = {k[len("abstract.") :]: v for k, v in state.items() if k.startswith("abstract.")}
        own = model.vision.experts.spiking.state_dict()
        fitting = {k: v for k, v in spiking.items() if k in own and own[k].shape == v.shape}
        model.vision.experts.spiking.load_state_dict(fitting, strict=False)
        n += len(fitting)
    return n


def finetune_tasks(
    config: Config,
    data: str | Path,
    out: str | Path,
    init: str | Path | None = None,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Train one model on the ``multitask.tasks`` of ``data`` (train split); score each on val.

    ``init``: a run whose matching weights start the model (else the packaged backbones and fresh
    layers). Writes ``out/config.yaml`` (with the answer vocabularies), ``checkpoint.pt`` and
    ``metrics.jsonl``, whose evaluation events hold each task's val score and their ``mean``.

    Returns
    -------
    dict
        ``step``, ``train_s``, the last ``losses`` and the last ``eval``.
    """
    out = Path(out)
    tasks = list(config.multitask.tasks)
    train_data, val_data = _load_tasks(data, tasks, "train"), _load_tasks(data, tasks, "val")
    if not resume:
        config = _with_classes(config, train_data)
    runtime = start_runtime(config.train.device)
    RunDir(out).prepare(config, resume, write=runtime.is_main)
    seed_everything(config.seed)
    model = _build(config)
    if init is not None and not resume:
        _init_state(model, init)
    model.to(runtime.device)
    bs, size, classes = config.data.batch_size, config.data.image_size, config.multitask.classes
    inputs = MultiTaskInputs(
        model,
        train_data,
        classes,
        size,
        2 * bs,
        runtime.device,
        cache_dir,
        progress,
        images=file_images(data),
    )
    evaluate = None
    if all(d.examples for d in val_data.values()):
        val = MultiTaskInputs(
            model, val_data, classes, size, 2 * bs, runtime.device, cache_dir, False, shared=inputs
        )

        def evaluate(m) -> dict:
            scores = {t: r.value for t, r in _score(m, val, train_data, classes, 2 * bs).items()}
            return {**scores, "mean": sum(scores.values()) / len(scores)}

    def make_batches(epoch: int, batches: list[list[int]]):
        for b in batches:
            yield (inputs.batch(b),)

    per_epoch = batches_per_epoch(len(inputs), bs, runtime.world_size)
    schedule = Schedule.of(config.train, bs, per_epoch)
    step = MultiTaskStep(model, config.multitask.itc_weight, config.model.mole.balance_weight)
    return optimise(
        model,
        step,
        len(inputs),
        make_batches,
        schedule,
        runtime,
        out,
        config.to_dict(),
        config.seed,
        resume=resume,
        evaluate=evaluate,
        progress=progress,
        desc=f"finetune {'+'.join(tasks)}",
    )


def load_multitask_run(run: str | Path, device="cpu") -> tuple[MultiTaskModel, Config]:
    """The :class:`MultiTaskModel` of a ``finetune --tasks`` run (eval mode) and its config."""
    state = load_checkpoint(run)
    config = Config.from_dict(state["config"])
    model = _build(config)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(
            f"{run} is not an `ashnet finetune --tasks` run ({str(err).splitlines()[0]})"
        ) from None
    return model.to(device).eval(), config


def _score(
    model, inputs: MultiTaskInputs, train: dict[str, TaskData], classes: dict, batch_size: int
) -> dict:
    return {
        t: evaluate_task(_TaskView(model, t), inputs.task_inputs(t), train[t], classes.get(t, []), batch_size)
        for t in inputs.tasks
    }


def evaluate_tasks(
    model: MultiTaskModel,
    config: Config,
    data: str | Path,
    split: str,
    tasks: list[str] | None = None,
    batch_size: int = 256,
    device="cpu",
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> dict:
    """The :class:`~ashnet.evaluate_tasks.TaskResult` of each of ``tasks`` (default: all) on ``split``.

    With ``cache_dir`` the image features are those of the whole file, as in training (cache hits).
    """
    tasks = list(tasks or model.tasks)
    missing = [t for t in tasks if t not in model.tasks]
    if missing:
        raise ValueError(f"the run was trained on {model.tasks}, not on {missing}")
    classes = config.multitask.classes
    inputs = MultiTaskInputs(
        model,
        _load_tasks(data, tasks, split),
        classes,
        config.data.image_size,
        batch_size,
        device,
        cache_dir,
        progress,
        images=file_images(data) if cache_dir is not None else None,
    )
    return _score(model, inputs, _load_tasks(data, tasks, "train"), classes, batch_size)


def is_multitask_run(run: str | Path) -> bool:
    """Whether ``run`` (a run directory or checkpoint) is a ``finetune --tasks`` run."""
    return any(k.startswith("heads.") for k in load_checkpoint(run)["model"])
