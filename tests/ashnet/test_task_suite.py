"""The task suite's bookkeeping: every variant of every task per seed, a table of mean ± sd, resuming."""

from __future__ import annotations

import json

from ashnet import task_suite
from ashnet.data import TASKS
from ashnet.task_suite import VARIANTS, run_task_suite, suite_table


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

    def fake_score(task_model, run, data, task, train_data):
        fused = "fused" in run.name
        return {"val": 50.0 + fused, "test": 40.0 + fused + int(run.name[-1]), "chance": 25.0, "metric": "m"}

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
    assert (tmp_path / "report.md").read_text().count("| scenes |") == len(TASKS)
    calls.clear()
    run_task_suite(tmp_path, seeds=(0, 1), **options)  # everything is done: nothing runs again
    assert calls == []


def test_table_marks_missing_variants():
    records = [{"variant": "ASH-Net dual", "dataset": "d", "task": "t", "metric": "m", "chance": 1.0,
                "val": 3.0, "test": 2.0}]  # fmt: skip
    row = suite_table(records).splitlines()[-1]
    assert row.startswith("| d | t | m | 1.0 | - |") and "2.0 (3.0)" in row
