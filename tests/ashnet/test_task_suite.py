"""The task suite's bookkeeping: every variant of every task per seed, a table of mean ± sd, resuming."""

from __future__ import annotations

import json

import pytest

from ashnet import task_suite
from ashnet.data import TASKS
from ashnet.task_suite import VARIANTS, differences_table, paired_difference, run_task_suite, suite_table


def test_suite_runs_every_variant_once_and_resumes(tmp_path, monkeypatch):
    calls = []

    def fake_train(cfg, data, run, cache_dir=None, progress=True):
        run.mkdir(parents=True)
        (run / "checkpoint.pt").write_bytes(b"")
        calls.append(("pretrain", cfg.model.abstract.enabled, cfg.seed))

    def fake_finetune(cfg, data, init, run, cache_dir=None, progress=True):
        run.mkdir(parents=True)
        (run / "checkpoint.pt").write_bytes(b"")
        calls.append(("finetune", cfg.task.name, cfg.model.fiber.enabled, cfg.task.blind, init.name))
        return {"train_s": 1.0, "task_model": None}

    def fake_score(task_model, run, data, task, train_data, cache_dir=None):
        fused = "fused" in run.name
        per_example = {"test_correct": [1, 1, 1, fused], "test_images": [0, 0, 1, 2]}
        scores = {"val": 50.0 + fused, "test": 40.0 + fused + int(run.name[-1]), "chance": 25.0}
        return {**scores, "metric": "m", **per_example}

    monkeypatch.setattr(task_suite, "train", fake_train)
    monkeypatch.setattr(task_suite, "finetune", fake_finetune)
    monkeypatch.setattr(task_suite, "_score", fake_score)
    options = {"n_scenes": 30, "emoji_limit": 300, "easy_vqa": False, "progress": False}
    result = run_task_suite(tmp_path, seeds=(0, 1), **options)
    finetunes = [c for c in calls if c[0] == "finetune"]
    assert len(finetunes) == 2 * len(TASKS) * len(VARIANTS)
    assert sorted(c[1:] for c in calls if c[0] == "pretrain") == [
        (False, 0),
        (False, 1),
        (True, 0),
        (True, 1),
    ]
    blind = [c for c in finetunes if c[3]]
    assert blind and all(not c[2] and c[4].startswith("ANN-only") for c in blind)
    assert not list(tmp_path.glob("runs/*/checkpoint.pt"))  # deleted after scoring
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(finetunes) and json.loads(lines[0])["seed"] == 0
    assert (
        "| scenes | vqa | m | 25.0 | 40.5 ± 0.7 (50.0 ± 0.0) | 40.5 ± 0.7 (50.0 ± 0.0) | 41.5"
        in result["table"]
    )
    report = (tmp_path / "report.md").read_text()
    assert report.count("| scenes |") == 2 * len(TASKS)  # scores, and differences
    # fused gets the fourth example right, dual does not: +25 points, paired over 2 seeds; the
    # ASH-Net and ANN-only runs score alike, so their difference is exactly 0 on every resample
    row = next(line for line in result["differences"].splitlines() if "| vqa |" in line)
    assert row.startswith("| scenes | vqa | +0.0 [+0.0, +0.0] (2) | +0.0 [+0.0, +0.0] (2) | +25.0 [")
    calls.clear()
    run_task_suite(tmp_path, seeds=(0, 1), **options)  # everything is done: nothing runs again
    assert calls == []


def test_table_marks_missing_variants():
    records = [{"variant": "ASH-Net dual", "dataset": "d", "task": "t", "metric": "m", "chance": 1.0,
                "val": 3.0, "test": 2.0}]  # fmt: skip
    row = suite_table(records).splitlines()[-1]
    assert row.startswith("| d | t | m | 1.0 | - |") and "2.0 (3.0)" in row
    itm = {**records[0], "task": "itm", "val_extra": {"auc": 61.0}, "test_extra": {"auc": 60.0}}
    assert suite_table([itm]).splitlines()[-1] == "| d | itm | AUC | 50.0 | - | - | - | 60.0 (61.0) | - |"


def test_paired_difference_resamples_test_images_and_pairs_seeds():
    def record(seed, correct, images=(0, 0, 1, 1)):
        return {"seed": seed, "test_correct": list(correct), "test_images": list(images)}

    a = [record(0, [1, 0, 1, 0]), record(1, [1, 0, 1, 0])]
    b = [record(1, [0, 0, 1, 0]), record(2, [0, 0, 0, 0])]
    # seed 1 only: image 0 gains half its examples (+50), image 1 nothing; a resample of the two
    # images holds both (+25), image 0 twice (+50) or image 1 twice (0)
    assert paired_difference(a, b) == (25.0, 0.0, 50.0, 1)
    with pytest.raises(ValueError, match="no seed in common"):
        paired_difference(a, [record(5, [0, 0, 0, 0])])
    with pytest.raises(ValueError, match="different test examples"):
        paired_difference(a, [record(0, [0, 0, 0, 0], images=(0, 1, 1, 1))])
    table = differences_table([{**r, "variant": "ASH-Net dual", "dataset": "d", "task": "t"} for r in a])
    assert table.splitlines()[-1] == "| d | t | - | - | - | - |"


def test_cli_passes_task_settings_to_every_fine_tuning_run(tmp_path, monkeypatch, capsys):
    from ashnet.cli import main

    seen = {}

    def fake_suite(out, seeds, **options):
        seen.update(options, seeds=seeds)
        return {"table": "T", "differences": "D", "total_s": 0.0}

    monkeypatch.setattr(task_suite, "run_task_suite", fake_suite)
    argv = ["demo", "--tasks", "--seeds", "2", "--out", str(tmp_path), "--set", "train.epochs=1"]
    assert main([*argv, "--task-set", "train.max_steps=7", "--task-set", "model.fiber.layers=1"]) == 0
    assert seen["seeds"] == (0, 1)
    assert seen["pretrain_overrides"] == ("train.epochs=1",)
    assert seen["task_overrides"] == ("train.max_steps=7", "model.fiber.layers=1")
    assert main(["demo", "--tasks", "--quick", "--out", str(tmp_path), "--task-set", "task.hidden=8"]) == 0
    assert seen["task_overrides"][-1] == "task.hidden=8" and len(seen["task_overrides"]) > 1  # after quick
    assert main(["demo", "--out", str(tmp_path), "--task-set", "train.max_steps=7"]) == 2
    assert "--task-set needs --tasks" in capsys.readouterr().err
