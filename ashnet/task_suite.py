"""The task suite (``ashnet demo --tasks``): ASH-Net vs ANN-only, dual encoder vs fusion in the backbone.

For each seed: build the scenes (and easy-VQA), pre-train ASH-Net and its ANN-only baseline on the
scenes' captions (retrieval, the same budget), then fine-tune every task from each with the dual
encoder and with fusion in the backbone, plus the question-only baseline, and score val and test.
Every finished run is appended to ``OUT/results.jsonl`` and skipped when the suite runs again, so an
interrupted suite resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path

from .config import load_config
from .data import TASKS, build_easy_vqa, build_scenes, load_task
from .demo import baseline_of
from .evaluate_tasks import evaluate_task
from .run import RunDir
from .training.finetune import finetune
from .training.image_text import train
from .training.task_batches import TaskInputs

__all__ = ["run_task_suite", "suite_table", "VARIANTS", "QUICK_PRETRAIN", "QUICK_TASKS"]

# `ashnet demo --tasks --quick`: the tiny config with its CNN frozen (so its features are cached) at
# 32 px, and a few fine-tuning steps of small heads.
QUICK_PRETRAIN = ("model.concrete.freeze=true", "data.image_size=32", "stua.steps=0", "train.max_steps=20")
QUICK_TASKS = ("train.max_steps=20", "data.batch_size=16", "model.fiber.dim=16", "task.hidden=32")

# column name -> (pre-trained model, fusion in the backbone, blind)
VARIANTS = {
    "question-only": ("ANN-only", False, True),
    "ANN-only dual": ("ANN-only", False, False),
    "ANN-only fused": ("ANN-only", True, False),
    "ASH-Net dual": ("ASH-Net", False, False),
    "ASH-Net fused": ("ASH-Net", True, False),
}


def _score(task_model, run: Path, data_path: Path, task: str, train_data) -> dict:
    """Val and test scores (percent) of a fine-tuned model, the test chance level and the metric's name."""
    config = load_config(RunDir(run).config)
    classes = list(config.task.classes)
    out = {}
    for split in ("val", "test"):
        data = load_task(data_path, task, split)
        inputs = TaskInputs(
            task_model.model, data, classes, config.data.image_size, 256, "cpu", progress=False
        )
        result = evaluate_task(task_model, inputs, train_data, classes)
        out[split] = result.value
        out[f"{split}_extra"] = result.extra
        out["chance"] = result.chance  # of the last split: test
        out["metric"] = result.metric
    return out


def run_task_suite(
    out: str | Path,
    seeds: tuple[int, ...] = (0,),
    config: str = "demo",
    n_scenes: int = 3000,
    emoji_limit: int | None = None,
    easy_vqa: bool = True,
    task_overrides: tuple[str, ...] = (),
    pretrain_overrides: tuple[str, ...] = (),
    progress: bool = True,
) -> dict:
    """Run the suite into ``out`` and write ``out/report.md``; returns ``{"table", "records", "total_s"}``.

    ``config``: the ASH-Net pre-training config (the ANN-only one is :func:`baseline_of` it);
    ``task_overrides`` / ``pretrain_overrides``: ``key=value`` settings for every fine-tuning /
    pre-training run (e.g. ``train.max_steps=100``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started, load_start = time.perf_counter(), os.getloadavg()[0]
    data_dir, cache = out / "data", out / "cache"
    openmoji = data_dir / "openmoji"
    scenes = build_scenes(data_dir / "scenes", n_scenes, 128, 0, openmoji, emoji_limit, progress)
    datasets = {"scenes": scenes}
    if easy_vqa:
        datasets["easy-vqa"] = build_easy_vqa(data_dir / "easy-vqa", progress=progress)
    log = out / "results.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    done = {(r["variant"], r["dataset"], r["task"], r["seed"]) for r in records}
    for seed in seeds:
        ash = load_config(config, [*pretrain_overrides, f"seed={seed}"])
        inits = {}
        for name, cfg in (("ASH-Net", ash), ("ANN-only", baseline_of(ash))):
            run = out / "pretrain" / f"{name}-seed{seed}"
            if not RunDir(run).checkpoint.is_file():
                shutil.rmtree(run, ignore_errors=True)
                train(cfg, datasets["scenes"], run, cache_dir=cache, progress=progress)
            inits[name] = run
        for dataset, path in datasets.items():
            for task in TASKS if dataset == "scenes" else ("vqa",):
                train_data = load_task(path, task, "train")
                for variant, (init, fused, blind) in VARIANTS.items():
                    if (variant, dataset, task, seed) in done:
                        continue
                    settings = [
                        *task_overrides,
                        f"seed={seed}",
                        f"model.fiber.enabled={str(fused).lower()}",
                        f"task.blind={str(blind).lower()}",
                    ]
                    cfg = load_config(f"task_{task}", settings)
                    run = out / "runs" / f"{dataset}-{task}-{variant.replace(' ', '_')}-seed{seed}"
                    shutil.rmtree(run, ignore_errors=True)
                    t0 = time.perf_counter()
                    result = finetune(cfg, path, inits[init], run, cache_dir=cache, progress=progress)
                    record = {
                        "variant": variant,
                        "dataset": dataset,
                        "task": task,
                        "seed": seed,
                        "train_s": result["train_s"],
                        "wall_s": time.perf_counter() - t0,
                        **_score(result.pop("task_model"), run, path, task, train_data),
                    }
                    RunDir(run).checkpoint.unlink()  # 100 MB each; config.yaml and metrics.jsonl stay
                    records.append(record)
                    with log.open("a") as f:
                        f.write(json.dumps(record) + "\n")
    table = suite_table(records)
    notes = [
        f"Seeds {list(seeds)}; mean ± sd over seeds; test split (val in brackets); percent.",
        f"Pre-training: config `{config}` (ASH-Net) and its ANN-only baseline on the scenes captions; "
        f"fine-tuning: the packaged task_<task> configs with {list(task_overrides) or 'no overrides'}.",
        f"Whole suite: {time.perf_counter() - started:.0f} s wall, {os.cpu_count()} CPUs, load average "
        f"{load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end.",
    ]
    report = ["# ASH-Net task suite", "", table, "", *(f"- {n}" for n in notes), ""]
    (out / "report.md").write_text("\n".join(report))
    return {"table": table, "records": records, "total_s": time.perf_counter() - started}


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def suite_table(records: list[dict]) -> str:
    """Markdown: one row per dataset and task, the chance level, then each variant's test (val) score."""
    header = "| data | task | metric | chance | " + " | ".join(VARIANTS) + " |"
    rows = [header, "|---" * (4 + len(VARIANTS)) + "|"]
    keys = list(dict.fromkeys((r["dataset"], r["task"]) for r in records))
    for dataset, task in keys:
        mine = [r for r in records if (r["dataset"], r["task"]) == (dataset, task)]
        cells = []
        for variant in VARIANTS:
            runs = [r for r in mine if r["variant"] == variant]
            test, val = _cell([r["test"] for r in runs]), _cell([r["val"] for r in runs])
            cells.append(f"{test} ({val})" if runs else "-")
        first = mine[0]
        rows.append(
            f"| {dataset} | {task} | {first['metric']} | {first['chance']:.1f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows)
