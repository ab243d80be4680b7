"""Fine-tuning on a vision-language task (``ashnet finetune``): task losses, ITM negatives mined from ITC.

FIBER's two stages map onto two tasks: the coarse stage is ``itm`` (ITM on captions and hard
negatives, plus ITC when the encoder trains), the fine stage is ``grounding``, started from the
coarse run with ``--init``. The other tasks start from either.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import generalized_box_iou_loss

from ..checkpoint import load_checkpoint
from ..config import Config
from ..data.tasks import load_task
from ..evaluate_tasks import evaluate_task
from ..losses import itc_loss
from ..models import build_model
from ..models.heads import TaskModel
from ..run import RunDir
from .batches import batches_per_epoch
from .features import take
from .image_text import load_init
from .loop import Schedule, optimise
from .runtime import seed_everything, start_runtime
from .task_batches import TaskInputs, answer_classes

__all__ = ["TaskStep", "finetune", "task_config", "load_task_run"]


def _grounding_loss(scores, boxes, target):
    """Cross-entropy over tokens (the cell holding the box centre) + L1 + GIoU of that token's box."""
    g = int(round(scores.shape[1] ** 0.5))
    centre = (target[:, :2] + target[:, 2:]) / 2
    cell = (centre * g).long().clamp(0, g - 1)
    index = cell[:, 1] * g + cell[:, 0]
    chosen = boxes[torch.arange(len(boxes)), index]
    return (
        F.cross_entropy(scores, index)
        + F.l1_loss(chosen, target)
        + generalized_box_iou_loss(chosen, target, reduction="mean")
    )


class TaskStep(nn.Module):
    """One step's loss of a :class:`TaskModel` on a batch of ``(images, text, targets, text_ids)``.

    ``itm`` adds negatives mined from ITC (ALBEF): for every matching pair of the batch, a caption of
    another image drawn with probability ``softmax(s i.t_j)`` over the batch (never the same text),
    and likewise an image for every caption; both scored as non-matching. Their term averages the
    loss of the matching pairs and that of the mined ones, so both classes weigh the same and the
    match logit keeps its threshold at 0 (two mined negatives per match would otherwise pull every
    score towards "no match"). With a trainable encoder it also adds ``itc_weight`` times ITC on
    the matching pairs.
    """

    def __init__(self, task_model: TaskModel, itc_weight: float = 0.0):
        super().__init__()
        self.task_model = task_model
        self.itc_weight = itc_weight

    def forward(self, images, text, targets, text_ids) -> dict[str, torch.Tensor]:
        task = self.task_model.task
        out = self.task_model(images, text)
        if task == "grounding":
            return {"total": _grounding_loss(*out, targets)}
        if task in ("vqa", "ve", "count"):
            return {"total": F.cross_entropy(out, targets)}
        losses = {"match": F.binary_cross_entropy_with_logits(out, targets)}
        if task == "itm":
            losses.update(self._mined(images[0], text, out, targets, text_ids))
        losses["total"] = sum(losses.values())
        return losses

    def _mined(self, concrete, text, logits, targets, text_ids) -> dict[str, torch.Tensor]:
        model = self.task_model.model
        pos = (targets > 0.5).nonzero().squeeze(1)
        if len(pos) < 2:
            return {}
        matching = logits[pos]
        concrete, text, ids = take(concrete, pos), take(text, pos), text_ids[pos]
        train_itc = self.itc_weight > 0 and not self.task_model.freeze_encoder
        with torch.set_grad_enabled(train_itc and torch.is_grad_enabled()):
            image_emb, text_emb = model.embed_image(concrete).embedding, model.embed_text(text)
        losses = (
            {"itc": self.itc_weight * itc_loss(image_emb, text_emb, model.logit_scale)} if train_itc else {}
        )
        with torch.no_grad():
            sim = (image_emb @ text_emb.t()) * model.logit_scale.exp().clamp(max=100)
            sim = sim.masked_fill(ids[:, None] == ids[None, :], float("-inf"))
            usable = torch.isfinite(sim).any(dim=1) & torch.isfinite(sim).any(dim=0)
            if not bool(usable.all()):  # every caption of the batch is the same text
                return losses
            neg_text = torch.multinomial(sim.softmax(dim=1), 1).squeeze(1)
            neg_image = torch.multinomial(sim.t().softmax(dim=1), 1).squeeze(1)
        images = [take(concrete, torch.cat([torch.arange(len(pos), device=pos.device), neg_image]))]
        texts = take(text, torch.cat([neg_text, torch.arange(len(pos), device=pos.device)]))
        mined = self.task_model(images, texts)
        losses["mined"] = (
            F.binary_cross_entropy_with_logits(matching, torch.ones_like(matching))
            + F.binary_cross_entropy_with_logits(mined, torch.zeros_like(mined))
        ) / 2
        return losses


def task_config(task_cfg: Config, init: str | Path) -> Config:
    """The fine-tuning config: the ``--init`` run's model and image size, with ``model.fiber`` and the
    seed, train, data.batch_size and task sections of ``task_cfg``."""
    init_cfg = Config.from_dict(load_checkpoint(init)["config"])
    model = dataclasses.replace(init_cfg.model, fiber=task_cfg.model.fiber)
    data = dataclasses.replace(task_cfg.data, image_size=init_cfg.data.image_size)
    return dataclasses.replace(task_cfg, model=model, data=data)


def _task_model(config: Config) -> TaskModel:
    t = config.task
    model = build_model(config.model)
    return TaskModel(model, t.name, len(t.classes), t.hidden, t.freeze_encoder, t.blind)


def load_task_run(run: str | Path, device="cpu") -> tuple[TaskModel, Config]:
    """The fine-tuned :class:`TaskModel` of a run (eval mode) and its config."""
    state = load_checkpoint(run)
    config = Config.from_dict(state["config"])
    task_model = _task_model(config)
    try:
        task_model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(f"{run} is not an `ashnet finetune` run ({str(err).splitlines()[0]})") from None
    return task_model.to(device).eval(), config


def finetune(
    config: Config,
    data: str | Path,
    init: str | Path,
    out: str | Path,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Fine-tune the ASH-Net of run ``init`` on the ``config.task.name`` examples of ``data``'s train split.

    ``config`` is a task config (see :func:`task_config`, applied here unless ``resume``, when it is
    the run's own). ``init`` is a run of ``ashnet train`` or ``ashnet finetune``. Writes ``out/config.yaml``
    (with the answer vocabulary), ``out/checkpoint.pt`` and ``out/metrics.jsonl``; the ``val`` split,
    when it has examples, is scored every ``train.eval_every`` steps and at the end.

    Returns
    -------
    dict
        ``step``, ``train_s``, the last ``losses``, the last ``eval`` (val ``value`` and ``chance``)
        and the trained ``task_model`` (eval mode).
    """
    out = Path(out)
    config = task_config(config, init) if not resume else config
    task = config.task.name
    train_data = load_task(data, task, "train")
    val_data = load_task(data, task, "val")
    classes = list(config.task.classes)
    if task in ("vqa", "count") and not classes:
        classes = answer_classes(train_data)
        config = dataclasses.replace(config, task=dataclasses.replace(config.task, classes=classes))
    runtime = start_runtime(config.train.device)
    RunDir(out).prepare(config, resume, write=runtime.is_main)
    seed_everything(config.seed)
    task_model = _task_model(config)
    if not resume:
        load_init(task_model.model, init)
    task_model.to(runtime.device)
    bs = config.data.batch_size
    inputs = TaskInputs(
        task_model.model,
        train_data,
        classes,
        config.data.image_size,
        2 * bs,
        runtime.device,
        cache_dir,
        progress,
    )
    if task in ("vqa", "count", "ve") and bool((inputs.targets < 0).any()):
        raise ValueError(
            f"config task.classes lacks training answers of {data}; leave it empty to fill it in"
        )
    evaluate = None
    if val_data.examples:
        val_inputs = TaskInputs(
            task_model.model,
            val_data,
            classes,
            config.data.image_size,
            2 * bs,
            runtime.device,
            cache_dir,
            False,
        )

        def evaluate(m) -> dict:
            result = evaluate_task(m, val_inputs, train_data, classes, 2 * bs)
            return {"value": result.value, "chance": result.chance}

    def make_batches(epoch: int, batches: list[list[int]]):
        for b in batches:
            yield inputs.batch(b)

    per_epoch = batches_per_epoch(len(inputs), bs, runtime.world_size)
    schedule = Schedule.of(config.train, bs, per_epoch)
    result = optimise(
        task_model,
        TaskStep(task_model, config.task.itc_weight),
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
        desc=f"finetune {task}",
    )
    result["task_model"] = task_model.eval()
    return result
