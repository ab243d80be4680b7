"""Evaluation of the vision-language tasks: predictions, accuracy (per question type), AUC, IoU, chance.

Every metric is in percent. ``chance`` is what a model that ignores both image and text scores:
always the most frequent training target (answer, label or count), or for grounding always the
mean training box. Answers outside the answer vocabulary (the training answers) count as wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torchvision.ops import box_iou

from .data.tasks import TaskData
from .training.task_batches import TaskInputs, encode_targets

__all__ = [
    "METRICS",
    "TaskResult",
    "binary_auc",
    "pair_iou",
    "chance_level",
    "predict",
    "correctness",
    "evaluate_task",
]

METRICS = {
    "itm": "accuracy",
    "vqa": "accuracy",
    "ve": "accuracy",
    "nlvr2": "accuracy",
    "grounding": "accuracy@IoU0.5",
    "count": "exact accuracy",
}
IOU_THRESHOLD = 0.5


@dataclass
class TaskResult:
    """One task's score on one split: ``metric`` (its name), ``value`` and ``chance`` in percent.

    ``n``: examples scored; ``skipped``: bad rows of the split that were left out; ``extra``: more
    figures (``auc`` for ITM, ``per_type`` accuracies for VQA, ``unknown_answers``); ``correct``:
    1/0 per example (``[n]``, what ``value`` averages; for paired bootstrap intervals).
    """

    task: str
    metric: str
    value: float
    chance: float
    n: int
    skipped: int = 0
    extra: dict = field(default_factory=dict)
    correct: torch.Tensor | None = None

    def to_json(self) -> dict:
        """The ``ashnet eval --task --json`` object."""
        return {
            "task": self.task,
            "metric": self.metric,
            "value": self.value,
            "chance": self.chance,
            "n": self.n,
            "skipped": self.skipped,
            **self.extra,
        }


def binary_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve in percent (Mann-Whitney: ties count a half)."""
    positive, negative = scores[labels > 0.5], scores[labels <= 0.5]
    if len(positive) == 0 or len(negative) == 0:
        raise ValueError("AUC needs both matching and non-matching examples")
    greater = (positive[:, None] > negative[None, :]).double().mean()
    ties = (positive[:, None] == negative[None, :]).double().mean()
    return 100.0 * float(greater + ties / 2)


def pair_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of matching rows of two box tensors ``[n, 4]`` (``x0, y0, x1, y1``)."""
    return box_iou(a, b).diagonal() if len(a) else a.new_zeros(0)


def chance_level(train: TaskData, data: TaskData) -> float:
    """The score of always giving the most frequent training target (grounding: the mean training box)."""
    if data.task == "grounding":
        mean = torch.tensor([e.target for e in train.examples]).mean(0, keepdim=True)
        boxes = torch.tensor([e.target for e in data.examples]).view(-1, 4)
        return 100.0 * float((pair_iou(mean.expand_as(boxes), boxes) >= IOU_THRESHOLD).double().mean())
    targets = [str(e.target) for e in train.examples]
    majority = max(sorted(set(targets)), key=targets.count)
    return 100.0 * sum(str(e.target) == majority for e in data.examples) / len(data.examples)


@torch.no_grad()
def predict(task_model, inputs: TaskInputs, batch_size: int = 256) -> torch.Tensor:
    """Logits (``itm``, ``nlvr2``), class indices (``vqa``, ``ve``, ``count``) or boxes (``grounding``)."""
    task_model.eval()
    out = []
    for start in range(0, len(inputs), batch_size):
        images, text, _, _ = inputs.batch(list(range(start, min(start + batch_size, len(inputs)))))
        result = task_model(images, text)
        if task_model.task == "grounding":
            scores, boxes = result
            result = boxes[torch.arange(len(boxes)), scores.argmax(dim=1)]
        elif task_model.task not in ("itm", "nlvr2"):
            result = result.argmax(dim=1)
        out.append(result.float().cpu() if result.is_floating_point() else result.cpu())
    return torch.cat(out)


def correctness(task: str, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Whether each prediction of :func:`predict` scores (bool ``[n]``): IoU >= 0.5 for grounding, the
    logit's sign for ``itm`` and ``nlvr2``, the class otherwise (an answer outside the vocabulary,
    target ``-1``, is wrong)."""
    if task == "grounding":
        return pair_iou(predictions, targets) >= IOU_THRESHOLD
    if task in ("itm", "nlvr2"):
        return (predictions > 0) == (targets > 0.5)
    return (predictions == targets) & (targets >= 0)


def evaluate_task(
    task_model, inputs: TaskInputs, train: TaskData, classes: list[str], batch_size: int = 256
) -> TaskResult:
    """Score ``task_model`` on the examples of ``inputs`` (chance from the ``train`` examples)."""
    data = inputs.data
    task = data.task
    predictions = predict(task_model, inputs, batch_size)
    targets = encode_targets(data, classes)
    correct = correctness(task, predictions, targets)
    extra: dict = {}
    if task == "itm":
        extra["auc"] = binary_auc(predictions, targets)
    elif task not in ("grounding", "nlvr2", "ve"):
        extra["unknown_answers"] = int((targets < 0).sum())
    if task == "vqa":
        types = sorted({e.type for e in data.examples})
        extra["per_type"] = {
            t: 100.0 * float(correct[[e.type == t for e in data.examples]].double().mean()) for t in types
        }
    return TaskResult(
        task=task,
        metric=METRICS[task],
        value=100.0 * float(correct.double().mean()),
        chance=chance_level(train, data),
        n=len(data.examples),
        skipped=len(data.bad_rows),
        extra=extra,
        correct=correct.float(),
    )
