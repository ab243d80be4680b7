"""Tests of multi-task fine-tuning: the generalist and MoME models, mixed-task batches, CLI and eval."""

import json

import pytest
import torch

from ashnet.cli import main
from ashnet.config import load_config
from ashnet.data.tasks import load_task
from ashnet.models.multitask import MultiTaskModel
from ashnet.training.multitask import (
    MultiTaskInputs,
    MultiTaskStep,
    load_multitask_run,
    routing_by_task,
)

TINY = [
    "model.concrete.backbone=tiny_cnn",
    "data.image_size=64",
    "data.batch_size=8",
    "model.abstract.dim=16",
    "model.abstract.time_steps=2",
    "model.embed_dim=16",
    "model.text.max_length=12",
    "multitask.hidden=16",
    "train.max_steps=3",
    "train.warmup_steps=1",
    "train.device=cpu",
]
TINY_MOME = [
    "model.move.experts=[tiny_cnn, colour_histogram, spiking]",
    "model.move.spiking_input=tiny_cnn",
    "model.move.dim=128",  # tiny_cnn's width, which the heads read
    "model.move.task_dim=8",
    "model.mole.hidden=8",
]
TASKS = ["vqa", "count", "nlvr2"]


def config(name, *extra):
    return load_config(name, [*TINY, *(TINY_MOME if name == "mome" else []), *extra])


def classes_of(scenes):
    from ashnet.training.task_batches import answer_classes

    return {t: answer_classes(load_task(scenes, t, "train")) for t in ("vqa", "count")}


def inputs_of(model, scenes, cfg, split="train", cache=None):
    data = {t: load_task(scenes, t, split) for t in model.tasks}
    return MultiTaskInputs(model, data, cfg.multitask.classes, 64, 16, "cpu", cache, progress=False)


@pytest.fixture(scope="module")
def mome(tiny_scenes):
    torch.manual_seed(0)
    cfg = config("mome", f"multitask.tasks=[{', '.join(TASKS)}]")
    cfg.multitask.classes = classes_of(tiny_scenes)
    model = MultiTaskModel(cfg.model, TASKS, cfg.multitask.classes, cfg.multitask.hidden)
    return model, cfg


def test_one_ash_net_is_shared_by_every_head(mome):
    model, _ = mome
    assert model.vision is not None and model.mole is not None and not model.model.has_snn
    assert all(tm.model is model.model for tm in model.task_models.values())
    keys = model.state_dict().keys()
    assert not any(k.startswith("task_models") for k in keys)
    assert {k.split(".")[1] for k in keys if k.startswith("heads.")} == set(TASKS)
    assert len(model.vision.experts.backbones) == 2 and model.vision.experts.spiking is not None


def test_a_batch_is_split_by_task_with_local_indices(mome, tiny_scenes):
    model, cfg = mome
    inputs = inputs_of(model, tiny_scenes, cfg)
    sizes = [len(inputs.data[t].examples) for t in TASKS]
    assert len(inputs) == sum(sizes)
    index = [0, sizes[0] - 1, sizes[0], sizes[0] + sizes[1] + 1]
    parts = dict(inputs.batch(index))
    assert list(parts) == TASKS
    assert len(parts["vqa"][2]) == 2 and len(parts["count"][2]) == 1 and len(parts["nlvr2"][2]) == 1
    torch.testing.assert_close(parts["count"][2], inputs.targets["count"][[0]])
    images, text, _, _ = parts["nlvr2"]
    assert len(images) == 2 and set(images[0]) == {"tiny_cnn", "colour_histogram"}  # backbone tokens
    assert text.tokens.shape[0] == 1


def test_the_step_weights_each_task_by_its_share_and_adds_balancing(mome, tiny_scenes):
    from ashnet.training.finetune import TaskStep

    model, cfg = mome
    inputs = inputs_of(model, tiny_scenes, cfg)
    torch.manual_seed(0)
    batch = inputs.batch(list(range(0, len(inputs), max(1, len(inputs) // 12))))
    step = MultiTaskStep(model, balance_weight=0.5)
    model.eval()  # no dropout-like randomness between the two evaluations
    losses = step(batch)
    n = sum(len(b[2]) for _, b in batch)
    expected, balance = 0.0, []
    for task, (images, text, targets, ids) in batch:
        images, text, routing = model.prepare(task, images, text)
        expected += TaskStep(model.task_models[task])(images, text, targets, ids)["total"] * len(targets) / n
        balance.append(routing["mole"].balance_loss)
    torch.testing.assert_close(losses["task"], expected.detach())
    torch.testing.assert_close(losses["total"], expected + 0.5 * torch.stack(balance).mean())
    losses["total"].backward()
    for part in (model.vision.move.router, model.mole.router, model.heads["count"]):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_routing_by_task_reports_expert_use(mome, tiny_scenes):
    model, cfg = mome
    use = routing_by_task(model, inputs_of(model, tiny_scenes, cfg, "val"))
    assert set(use) == set(TASKS)
    for task in TASKS:
        assert len(use[task]["move"]) == 3 and sum(use[task]["move"]) == pytest.approx(1, abs=1e-5)
        assert len(use[task]["mole"]) == 4 and sum(use[task]["mole"]) == pytest.approx(1, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["generalist", "mome"])
def test_finetune_tasks_then_eval_from_the_cli(name, tiny_scenes, tmp_path, capsys):
    out = tmp_path / name
    settings = [a for s in TINY + (TINY_MOME if name == "mome" else []) for a in ("--set", s)]
    data = ["--data", str(tiny_scenes)]
    argv = ["finetune", "--tasks", "vqa,count", "--config", name, *data, "--out", str(out)]
    assert main([*argv, *settings]) == 0
    printed = capsys.readouterr().out
    assert "trained 3 steps" in printed and "val count:" in printed and "val mean:" in printed
    model, cfg = load_multitask_run(out)
    assert model.tasks == ["vqa", "count"] and set(cfg.multitask.classes) == {"vqa", "count"}
    assert (model.vision is not None) == (name == "mome")
    evaluate = ["eval", "--task", "count", "--checkpoint", str(out), *data, "--split", "test"]
    assert main([*evaluate, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["task"] == "count" and 0 <= result["value"] <= 100
    assert result["n"] == len(load_task(tiny_scenes, "count", "test").examples)
    assert main([*evaluate[:2], "nlvr2", *evaluate[3:]]) == 2  # not one of the run's tasks
    assert "not on ['nlvr2']" in capsys.readouterr().err
    viz = ["viz", "--checkpoint", str(out), *data, "--split", "val", "--out", str(tmp_path / "figs")]
    if name == "mome":
        assert main([*viz, "--max-images", "4"]) == 0
        assert (tmp_path / "figs" / "expert_use.png").stat().st_size > 1000
    else:
        assert main(viz) == 2
        assert "no mixture of vision experts" in capsys.readouterr().err


def test_bad_task_lists_and_widths_are_clear_errors(tiny_scenes, tmp_path, capsys):
    argv = ["finetune", "--tasks", "vqa,caption", "--data", str(tiny_scenes), "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit):
        main(argv)
    assert "--tasks takes tasks of" in capsys.readouterr().err
    cfg = config("mome", "model.move.dim=64")
    with pytest.raises(ValueError, match="model.move.dim"):
        MultiTaskModel(cfg.model, ["vqa"], {"vqa": ["1"]})
