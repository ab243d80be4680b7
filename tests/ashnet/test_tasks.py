"""Task data (bad rows named, targets checked), metrics, ITM mining, and finetune + eval from the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from ashnet.checkpoint import save_checkpoint
from ashnet.cli import main
from ashnet.config import load_config
from ashnet.data import load_task
from ashnet.data.scenes import TASKS
from ashnet.evaluate_tasks import binary_auc, chance_level, correctness, pair_iou
from ashnet.models import build_model
from ashnet.models.heads import TaskModel
from ashnet.training.finetune import TaskStep


def write_task_file(folder, examples: dict, images=None):
    """A small task file with two 64 px images (train) and one (test), plus the given examples."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(3):
        Image.new("RGB", (64, 64), "white").save(folder / f"{i}.png")
    images = images or [
        {"id": i, "file_name": f"{i}.png", "width": 64, "height": 64, "split": s}
        for i, s in enumerate(["train", "train", "test"])
    ]
    path = folder / "t.json"
    path.write_text(json.dumps({"images": images, "tasks": examples}))
    return path


def test_bad_examples_are_skipped_with_file_and_row(tmp_path):
    path = write_task_file(
        tmp_path,
        {
            "vqa": [
                {"image_id": 0, "question": "how many?", "answer": "2"},
                {"image_id": 9, "question": "how many?", "answer": "2"},
                {"image_id": 1, "question": " ", "answer": "2"},
                {"image_id": 1, "question": "what?", "answer": 3},
                {"image_id": 2, "question": "how many?", "answer": "7"},
            ],
            "grounding": [
                {"image_id": 0, "phrase": "the dog", "bbox": [10, 10, 20, 20]},
                {"image_id": 0, "phrase": "the cat", "bbox": [50, 50, 20, 20]},
                {"image_id": 1, "phrase": "the cat", "bbox": [5, 5, 0, 3]},
            ],
            "nlvr2": [
                {"image_ids": [0, 1], "statement": "both", "label": True},
                {"image_ids": [0], "statement": "both", "label": True},
                {"image_ids": [0, 5], "statement": "both", "label": False},
                {"image_ids": [0, 1], "statement": "both", "label": "yes"},
            ],
        },
    )
    vqa = load_task(path, "vqa", "train")
    assert [e.target for e in vqa.examples] == ["2"]
    reasons = {row.where: row.reason for row in vqa.bad_rows}
    assert set(reasons) == {"t.json:tasks.vqa[1]", "t.json:tasks.vqa[2]", "t.json:tasks.vqa[3]"}
    assert "image_id 9" in reasons["t.json:tasks.vqa[1]"] and "answer" in reasons["t.json:tasks.vqa[3]"]
    assert [e.target for e in load_task(path, "vqa", "test").examples] == ["7"]
    grounding = load_task(path, "grounding", "train")
    assert grounding.examples[0].target == pytest.approx((10 / 64, 10 / 64, 30 / 64, 30 / 64))
    assert [r.where for r in grounding.bad_rows] == ["t.json:tasks.grounding[1]", "t.json:tasks.grounding[2]"]
    assert "outside the 64x64 image" in grounding.bad_rows[0].reason
    pairs = load_task(path, "nlvr2", "train")
    assert len(pairs.examples) == 1 and pairs.examples[0].images == (0, 1)
    assert (
        "pair member image_id 5" in pairs.bad_rows[1].reason and "true or false" in pairs.bad_rows[2].reason
    )
    with pytest.raises(ValueError, match=r"3 bad example\(s\)"):
        load_task(path, "vqa", "train", on_bad_row="error")
    with pytest.raises(ValueError, match="unknown task 'caption'; choose one of itm, vqa"):
        load_task(path, "caption", "train")
    with pytest.raises(ValueError, match="no 'images' list or no 'tasks.ve'"):
        load_task(path, "ve", "train")
    (tmp_path / "0.png").unlink()
    missing = load_task(path, "vqa", "train")
    assert not missing.examples and "image file not found" in missing.bad_rows[0].reason


def test_every_task_of_the_scenes_loads(tiny_scenes):
    for task in TASKS:
        for split in ("train", "val", "test"):
            data = load_task(tiny_scenes, task, split, on_bad_row="error")
            assert data.examples and all(
                len(e.images) == (2 if task == "nlvr2" else 1) for e in data.examples
            )
    vqa = load_task(tiny_scenes, "vqa", "test")
    assert {e.type for e in vqa.examples} >= {"count_all", "count", "exists"}


def test_metrics():
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    assert binary_auc(torch.tensor([3.0, 2.0, 1.0, 0.0]), labels) == 100.0
    assert binary_auc(torch.tensor([0.0, 1.0, 2.0, 3.0]), labels) == 0.0
    assert binary_auc(torch.tensor([1.0, 0.0, 1.0, 0.0]), labels) == 50.0
    a = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    assert pair_iou(a, b).tolist() == pytest.approx([1.0, 0.25])
    assert correctness("grounding", a, b).tolist() == [True, False]
    assert correctness("nlvr2", torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 0.0])).tolist() == [
        True,
        True,
        False,
    ]
    # an answer outside the vocabulary (target -1) is wrong even when the prediction is -1
    assert correctness("vqa", torch.tensor([3, 1, -1]), torch.tensor([3, 2, -1])).tolist() == [
        True,
        False,
        False,
    ]


def test_chance_is_the_majority_training_answer(tmp_path):
    path = write_task_file(
        tmp_path,
        {
            "count": [
                {"image_id": 0, "question": "q", "answer": 1},
                {"image_id": 1, "question": "q", "answer": 1},
                {"image_id": 1, "question": "r", "answer": 2},
                {"image_id": 2, "question": "q", "answer": 1},
                {"image_id": 2, "question": "r", "answer": 3},
            ]
        },
    )
    assert chance_level(load_task(path, "count", "train"), load_task(path, "count", "test")) == 50.0


class ConstantLogit(torch.nn.Module):
    """A head that gives every pair the same learnable logit."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.bias.expand(len(x), 1)


def test_itm_loss_with_mined_negatives_keeps_the_threshold_at_zero():
    """Two mined negatives per match must not pull scores towards "no match": for a model that
    cannot tell pairs apart, the balanced loss is smallest at logit 0 (probability 1/2)."""
    config = load_config("tiny")
    torch.manual_seed(0)
    model = build_model(config.model).eval()
    task_model = TaskModel(model, "itm", hidden=8)
    task_model.head = ConstantLogit()
    captions = ["a red square", "two blue dots", "a ring", "a star", "one cat", "three dogs"]
    images = [model.encode_concrete(torch.rand(6, 3, 16, 16))]
    text = model.encode_text_features(captions)
    targets = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    losses = TaskStep(task_model)(images, text, targets, torch.arange(6))
    assert {"match", "mined", "total"} <= set(losses)
    losses["total"].backward()
    assert abs(float(task_model.head.bias.grad)) < 1e-6


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """An (untrained) tiny ASH-Net saved as a run: frozen tiny CNN at 32 px, so its features are cached."""
    config = load_config("tiny", ["model.concrete.freeze=true", "data.image_size=32"])
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("tiny_run")
    save_checkpoint(
        run / "checkpoint.pt",
        {"model": build_model(config.model).state_dict(), "config": config.to_dict()},
    )
    return run


TINY = ["--set", "train.max_steps=2", "--set", "data.batch_size=8", "--set", "model.fiber.dim=16",
        "--set", "task.hidden=16", "--set", "train.device=cpu"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_finetune_then_eval_every_task(task, tiny_run, tiny_scenes, tmp_path, capsys):
    out = tmp_path / task
    argv = [
        "finetune",
        "--task",
        task,
        "--init",
        str(tiny_run),
        "--data",
        str(tiny_scenes),
        "--out",
        str(out),
    ]
    assert main([*argv, *TINY]) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    saved = load_config(out / "config.yaml")
    assert saved.task.name == task and saved.model.fiber.enabled and saved.data.image_size == 32
    assert bool(saved.task.classes) == (task in ("vqa", "count"))
    evaluate = [
        "eval",
        "--task",
        task,
        "--checkpoint",
        str(out),
        "--data",
        str(tiny_scenes),
        "--split",
        "test",
    ]
    assert main([*evaluate, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["task"] == task and 0 <= result["value"] <= 100 and 0 <= result["chance"] <= 100
    assert result["metric"] == {"grounding": "accuracy@IoU0.5", "count": "exact accuracy"}.get(
        task, "accuracy"
    )
    assert result["n"] == len(load_task(tiny_scenes, task, "test").examples)
    if task == "itm":
        assert 0 <= result["auc"] <= 100
    if task == "vqa":
        assert set(result["per_type"]) == {e.type for e in load_task(tiny_scenes, "vqa", "test").examples}


@pytest.mark.slow
def test_dual_blind_and_chained_runs(tiny_run, tiny_scenes, tmp_path, capsys):
    def finetune(task, init, out, *settings):
        argv = ["finetune", "--task", task, "--init", str(init), "--out", str(tmp_path / out)]
        return main([*argv, "--data", str(tiny_scenes), *TINY, *(a for s in settings for a in ("--set", s))])

    assert finetune("itm", tiny_run, "coarse", "task.freeze_encoder=false") == 0  # ITC + ITM
    lines = (tmp_path / "coarse" / "metrics.jsonl").read_text().splitlines()
    logged = [json.loads(line) for line in lines if '"train"' in line][-1]
    assert {"itc", "mined", "match"} <= set(logged)
    assert finetune("grounding", tmp_path / "coarse", "fine") == 0  # the fine stage from the coarse run
    for variant, setting in (("dual", "model.fiber.enabled=false"), ("blind", "task.blind=true")):
        assert finetune("ve", tiny_run, variant, setting) == 0
        evaluate = [
            "eval",
            "--task",
            "ve",
            "--checkpoint",
            str(tmp_path / variant),
            "--data",
            str(tiny_scenes),
        ]
        assert main([*evaluate, "--json"]) == 0
    capsys.readouterr()
    assert (
        main(["eval", "--task", "vqa", "--checkpoint", str(tmp_path / "dual"), "--data", str(tiny_scenes)])
        == 2
    )
    assert "fine-tuned for ve, not vqa" in capsys.readouterr().err
    assert main(["finetune", "--task", "vqa", "--data", str(tiny_scenes), "--out", str(tmp_path / "x")]) == 2
    assert "--init is required" in capsys.readouterr().err
