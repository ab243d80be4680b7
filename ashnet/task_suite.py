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

import torch

from .compare import Hits, paired_bootstrap
from .config import load_config
from .data import TASKS, build_easy_vqa, build_scenes, load_task
from .demo import baseline_of
from .evaluate_tasks import evaluate_task
from .run import RunDir
from .training.finetune import finetune
from .training.image_text import train
from .training.task_batches import TaskInputs

__all__ = [
    "run_task_suite",
    "suite_table",
    "differences_table",
    "paired_difference",
    "VARIANTS",
    "DIFFERENCES",
    "QUICK_PRETRAIN",
    "QUICK_TASKS",
]

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


def _score(task_model, run: Path, data_path: Path, task: str, train_data, cache_dir=None) -> dict:
    """Val and test scores (percent) of a fine-tuned model, the test chance level, the metric's name,
    and per test example whether it was right (``test_correct``) and its (first) image
    (``test_images``), for paired bootstrap intervals over test images."""
    config = load_config(RunDir(run).config)
    classes = list(config.task.classes)
    out = {}
    for split in ("val", "test"):
        data = load_task(data_path, task, split)
        inputs = TaskInputs(
            task_model.model, data, classes, config.data.image_size, 256, "cpu", cache_dir, progress=False
        )
        result = evaluate_task(task_model, inputs, train_data, classes)
        out[split] = result.value
        out[f"{split}_extra"] = result.extra
        out["chance"] = result.chance  # of the last split: test
        out["metric"] = result.metric
    out["test_correct"] = [int(c) for c in result.correct.tolist()]
    out["test_images"] = [e.images[0] for e in data.examples]
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
                        "load": os.getloadavg()[0],  # 1-minute load average when the run ended
                        **_score(result.pop("task_model"), run, path, task, train_data, cache),
                    }
                    RunDir(run).checkpoint.unlink()  # 100 MB each; config.yaml and metrics.jsonl stay
                    records.append(record)
                    with log.open("a") as f:
                        f.write(json.dumps(record) + "\n")
    table = suite_table(records)
    differences = differences_table(records)
    notes = [
        f"Seeds {list(seeds)}; mean ± sd over seeds; test split (val in brackets); percent.",
        f"Pre-training: config `{config}` (ASH-Net) and its ANN-only baseline on the scenes captions; "
        f"fine-tuning: the packaged task_<task> configs with {list(task_overrides) or 'no overrides'}.",
        f"Whole suite: {time.perf_counter() - started:.0f} s wall, {os.cpu_count()} CPUs, load average "
        f"{load_start:.1f} at the start and {os.getloadavg()[0]:.1f} at the end.",
    ]
    notes.append(
        "Differences: test points, seed-averaged over the seeds both variants have (in brackets after "
        "the interval), with a paired bootstrap 95 % interval over test images (2000 resamples)."
    )
    report = ["# ASH-Net task suite", "", table, "", differences, "", *(f"- {n}" for n in notes), ""]
    (out / "report.md").write_text("\n".join(report))
    return {
        "table": table,
        "differences": differences,
        "records": records,
        "total_s": time.perf_counter() - started,
    }


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def suite_table(records: list[dict]) -> str:
    """Markdown: one row per dataset and task, the chance level, then each variant's test (val) score
    (mean ± sd over seeds); ITM has a second row with the AUC (chance 50)."""
    header = "| data | task | metric | chance | " + " | ".join(VARIANTS) + " |"
    rows = [header, "|---" * (4 + len(VARIANTS)) + "|"]
    keys = list(dict.fromkeys((r["dataset"], r["task"]) for r in records))
    for dataset, task in keys:
        mine = [r for r in records if (r["dataset"], r["task"]) == (dataset, task)]
        first = mine[0]
        scores = {first["metric"]: (first["chance"], lambda r, split: r[split])}
        if "auc" in first.get("test_extra", {}):
            scores["AUC"] = (50.0, lambda r, split: r[f"{split}_extra"]["auc"])
        for metric, (chance, score) in scores.items():
            cells = []
            for variant in VARIANTS:
                runs = [r for r in mine if r["variant"] == variant]
                test, val = _cell([score(r, "test") for r in runs]), _cell([score(r, "val") for r in runs])
                cells.append(f"{test} ({val})" if runs else "-")
            rows.append(f"| {dataset} | {task} | {metric} | {chance:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


# Differences with a paired bootstrap interval: column name -> (variant a, variant b), a - b.
DIFFERENCES = {
    "ASH-Net - ANN-only, dual": ("ASH-Net dual", "ANN-only dual"),
    "ASH-Net - ANN-only, fused": ("ASH-Net fused", "ANN-only fused"),
    "fused - dual, ASH-Net": ("ASH-Net fused", "ASH-Net dual"),
    "fused - dual, ANN-only": ("ANN-only fused", "ANN-only dual"),
}


def paired_difference(a: list[dict], b: list[dict], resamples: int = 2000) -> tuple[float, float, float, int]:
    """Test score of ``a`` minus ``b`` (records of two variants on one task) and its 95 % interval.

    The runs are paired by seed (seeds that only one variant has are left out) and the score is
    averaged over those seeds; the bootstrap resamples test *images* with replacement (their
    examples come along, ``test_images``), the same resample for both variants, as
    :func:`ashnet.compare.paired_bootstrap` does for retrieval. Returns ``(diff, low, high, seeds)``.
    """
    by_seed = {r["seed"]: r for r in b}
    pairs = [(r, by_seed[r["seed"]]) for r in a if r["seed"] in by_seed]
    if not pairs:
        raise ValueError("the two variants have no seed in common")
    images = pairs[0][0]["test_images"]
    if any(r["test_images"] != images for pair in pairs for r in pair):
        raise ValueError("the runs were scored on different test examples")
    _, image = torch.unique(torch.tensor(images), return_inverse=True)
    no_images = torch.zeros(int(image.max()) + 1)

    def hits(run: dict) -> Hits:  # each example is a "caption" of its image; its R@1 is 1 if right
        return Hits(no_images, torch.tensor(run["test_correct"], dtype=torch.float32), image)

    a_hits, b_hits = [hits(ra) for ra, _ in pairs], [hits(rb) for _, rb in pairs]
    diff, low, high = paired_bootstrap(a_hits, b_hits, resamples, metric="t2i")
    return diff, low, high, len(pairs)


def differences_table(records: list[dict], resamples: int = 2000) -> str:
    """Markdown: per dataset and task, each of :data:`DIFFERENCES` on test in points with its paired
    bootstrap 95 % interval and the number of paired seeds (``-``: a variant is missing, or its
    records have no per-example scores)."""
    rows = ["| data | task | " + " | ".join(DIFFERENCES) + " |", "|---" * (2 + len(DIFFERENCES)) + "|"]
    for dataset, task in dict.fromkeys((r["dataset"], r["task"]) for r in records):
        mine = [r for r in records if (r["dataset"], r["task"]) == (dataset, task) and "test_correct" in r]
        cells = []
        for a, b in DIFFERENCES.values():
            runs_a = [r for r in mine if r["variant"] == a]
            runs_b = [r for r in mine if r["variant"] == b]
            if not ({r["seed"] for r in runs_a} & {r["seed"] for r in runs_b}):
                cells.append("-")
                continue
            diff, low, high, seeds = paired_difference(runs_a, runs_b, resamples)
            cells.append(f"{diff:+.1f} [{low:+.1f}, {high:+.1f}] ({seeds})")
        rows.append(f"| {dataset} | {task} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
