"""The MoME experiment: specialists vs a dense generalist vs a MoME generalist on the scenes tasks.

For each seed: one specialist per task (the `generalist` config with that task alone), the dense
generalist (`generalist`) and the MoME generalist (`mome`), all with the same total training steps:
the generalists take ``--steps`` steps over every task's examples, and each specialist the share of
those steps its task has among the examples (so it sees as many of its examples as a generalist
does). Every run is scored on val and test; the table gives mean +- sd over the seeds and a paired
bootstrap interval (over test examples, seeds averaged) for each difference. Then, on the seed-0
generalists: MoVE's expert use per task, the energy per image of each expert, and the inference
cost of MoME against the dense model (MACs counted by neuro.energy, and time in the same process).

    python benchmarks/mome.py --data data/scenes/scenes.json --out runs/mome-experiment
    python benchmarks/mome.py --data data/scenes/scenes.json --out runs/x --steps 60 --seeds 0  # smoke

Results go to OUT/results.json, OUT/table.md and OUT/expert_use.png; finished runs are skipped
when the script is run again (resumable). Settings are the packaged configs'; nothing is chosen
on test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from ashnet.compare import Hits, paired_bootstrap
from ashnet.config import load_config
from ashnet.data import load_image
from ashnet.data.tasks import load_task
from ashnet.energy import expert_energy
from ashnet.evaluate_tasks import correctness, predict
from ashnet.training.multitask import (
    MultiTaskInputs,
    _TaskView,
    file_images,
    finetune_tasks,
    load_multitask_run,
    routing_by_task,
)
from ashnet.training.task_batches import encode_targets
from ashnet.viz import expert_use
from neuro.energy import EnergyMeter

TASKS = ["vqa", "ve", "count", "nlvr2"]
MODELS = ("specialist", "dense", "mome")


def run(config_name, tasks, steps, seed, data, out, cache_dir):
    config = load_config(
        config_name,
        [
            f"multitask.tasks=[{', '.join(tasks)}]",
            f"train.max_steps={steps}",
            f"seed={seed}",
            "train.device=cpu",
        ],
    )
    if not (out / "checkpoint.pt").is_file():
        finetune_tasks(config, data, out, cache_dir=cache_dir, progress=False)
    return load_multitask_run(out)


def score(model, config, data, split, cache_dir) -> dict:
    """Per task: the list of 0/1 correctness of every example of ``split``."""
    tasks = model.tasks
    split_data = {t: load_task(data, t, split) for t in tasks}
    classes = config.multitask.classes
    size = config.data.image_size
    inputs = MultiTaskInputs(
        model, split_data, classes, size, 256, "cpu", cache_dir, False, images=file_images(data)
    )
    out = {}
    for t in tasks:
        predictions = predict(_TaskView(model, t), inputs.task_inputs(t), 256)
        out[t] = correctness(t, predictions, encode_targets(split_data[t], classes.get(t, []))).int().tolist()
    return out, inputs


def bootstrap(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Seed-averaged accuracy difference ``a - b`` (``[seeds, examples]`` 0/1) and its 95 % interval.

    :func:`ashnet.compare.paired_bootstrap` resamples the examples, the same ones for both models
    and every seed; each example counts as an "image" with one "caption", so R@1 is its accuracy.
    """

    def hits(rows: np.ndarray) -> list[Hits]:
        items = torch.arange(rows.shape[1])
        return [
            Hits(torch.tensor(r, dtype=torch.float32), torch.tensor(r, dtype=torch.float32), items)
            for r in rows
        ]

    return paired_bootstrap(hits(a), hits(b), metric="i2t")


@torch.no_grad()
def inference_cost(model, inputs, reps: int = 3) -> dict:
    """MACs per example (trained parts, from cached backbone features) and seconds per example."""
    model.eval()
    parts = []
    for t in model.tasks:
        n = min(128, len(inputs.task_inputs(t)))
        parts.append((t, inputs.task_batch(t, list(range(n)))))
    n_examples = sum(len(b[2]) for _, b in parts)
    with EnergyMeter(model) as meter:
        for t, (images, text, _, _) in parts:
            model(t, images, text)
    report = meter.report(n_examples)
    mole_macs = sum(r.ops for r in report.layers if r.name.startswith("mole") and r.op_kind == "MAC")
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for t, (images, text, _, _) in parts:
            model(t, images, text)
        best = min(best, time.perf_counter() - start)
    mole_time = float("inf")
    if model.mole is not None:
        for _ in range(reps):
            start = time.perf_counter()
            for _, (_, text, _, _) in parts:
                model.mole(text.tokens, text.mask)
            mole_time = min(mole_time, time.perf_counter() - start)
    return {
        "macs": report.macs,
        "sops": report.sops,
        "mole_macs": mole_macs,
        "seconds": best / n_examples,
        "mole_seconds": mole_time / n_examples,
        "by_part": {r.name: r.ops for r in report.grouped(1).layers},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=600, help="generalist steps (default: the configs' 600)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: OUT/cache")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data, out = args.data.absolute(), args.out
    cache = args.cache_dir or out / "cache"
    out.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.1f}; threads {args.threads}", flush=True)
    counts = {t: len(load_task(data, t, "train").examples) for t in TASKS}
    total = sum(counts.values())
    shares = {t: max(1, round(args.steps * counts[t] / total)) for t in TASKS}
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    for seed in args.seeds:
        plan = [(f"specialist-{t}", "generalist", [t], shares[t]) for t in TASKS]
        plan += [("dense", "generalist", TASKS, args.steps), ("mome", "mome", TASKS, args.steps)]
        for name, config_name, tasks, steps in plan:
            key = f"{name}/seed{seed}"
            if key in results:
                continue
            start = time.perf_counter()
            model, config = run(config_name, tasks, steps, seed, data, out / name / f"seed{seed}", cache)
            train_s = json.loads((out / name / f"seed{seed}" / "metrics.jsonl").read_text().splitlines()[-1])
            entry = {
                "steps": steps,
                "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            }
            for split in ("val", "test"):
                entry[split], _ = score(model, config, data, split, cache)
            entry["wall_s"] = time.perf_counter() - start
            entry["last_event"] = train_s
            results[key] = entry
            results_file.write_text(json.dumps(results))
            accs = {t: f"{100 * np.mean(v):.1f}" for t, v in entry["val"].items()}
            print(f"{key}: {steps} steps, {entry['wall_s']:.0f} s, val {accs}", flush=True)
    summarise(results, args.seeds, data, out, cache, counts, shares)


def per_model(results, seeds, split, task):
    """``[seeds, examples]`` 0/1 arrays of each model on ``task``."""
    arrays = {}
    for model in MODELS:
        rows = []
        for seed in seeds:
            key = f"specialist-{task}/seed{seed}" if model == "specialist" else f"{model}/seed{seed}"
            rows.append(results[key][split][task])
        arrays[model] = np.array(rows, dtype=float)
    return arrays


def summarise(results, seeds, data, out, cache, counts, shares) -> None:
    lines = [
        f"Scenes tasks, {len(seeds)} seeds ({', '.join(map(str, seeds))}); accuracy % mean +- sd over seeds;",
        f"steps: generalists {results[f'dense/seed{seeds[0]}']['steps']}, specialists "
        + ", ".join(f"{t} {shares[t]}" for t in TASKS)
        + f" (train examples {counts}).",
        "",
    ]
    summary = {"tables": {}}
    for split in ("val", "test"):
        lines += [
            f"### {split}",
            "",
            "| task | specialists | dense generalist | MoME generalist | MoME - dense (95 % CI) "
            "| MoME - specialists (95 % CI) | dense - specialists (95 % CI) |",
            "|---|---|---|---|---|---|---|",
        ]
        rows = {}
        for task in TASKS + ["mean"]:
            if task == "mean":
                per = {
                    m: np.array(
                        [
                            [
                                np.mean(
                                    [
                                        np.mean(
                                            results[
                                                (f"specialist-{t}" if m == "specialist" else m) + f"/seed{s}"
                                            ][split][t]
                                        )
                                        for t in TASKS
                                    ]
                                )
                            ]
                            for s in seeds
                        ]
                    )
                    for m in MODELS
                }
                cells = [
                    f"{100 * per[m].mean():.1f} +- {100 * per[m].std(ddof=1) if len(seeds) > 1 else 0:.1f}"
                    for m in MODELS
                ]
                lines.append(f"| **mean of tasks** | {' | '.join(cells)} | | | |")
                rows[task] = {m: [100 * float(x) for x in per[m][:, 0]] for m in MODELS}
                continue
            arrays = per_model(results, seeds, split, task)
            accs = {m: 100 * arrays[m].mean(1) for m in MODELS}
            cells = [
                f"{accs[m].mean():.1f} +- {accs[m].std(ddof=1) if len(seeds) > 1 else 0:.1f}" for m in MODELS
            ]
            diffs = [
                bootstrap(arrays[a], arrays[b])
                for a, b in (("mome", "dense"), ("mome", "specialist"), ("dense", "specialist"))
            ]
            cells += [f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]" for d, lo, hi in diffs]
            lines.append(f"| {task} | {' | '.join(cells)} |")
            rows[task] = {m: accs[m].tolist() for m in MODELS} | {"diffs": diffs}
        summary["tables"][split] = rows
        lines.append("")
    # insight and cost on the seed-0 generalists
    seed = seeds[0]
    dense, dense_cfg = load_multitask_run(out / "dense" / f"seed{seed}")
    mome, mome_cfg = load_multitask_run(out / "mome" / f"seed{seed}")
    _, dense_inputs = score(dense, dense_cfg, data, "test", cache)
    _, mome_inputs = score(mome, mome_cfg, data, "test", cache)
    use = routing_by_task(mome, mome_inputs)
    experts = list(mome.vision.experts.names)
    images = torch.stack([load_image(p, mome_cfg.data.image_size) for p in mome_inputs.paths[:32]])
    reports = expert_energy(mome.vision.experts, images, batch_size=16)
    energy = {name: r.energy_pj * 1e-6 for name, r in reports.items()}
    macs = {name: r.macs for name, r in reports.items()}
    weights = torch.tensor([use[t]["move"] for t in TASKS])
    expert_use(
        weights,
        TASKS,
        experts,
        energy,
        title=f"MoVE expert use per task (test, seed {seed})",
        path=out / "expert_use.png",
    )
    cost = {"dense": inference_cost(dense, dense_inputs), "mome": inference_cost(mome, mome_inputs)}
    summary.update(use=use, energy_uj=energy, expert_macs=macs, cost=cost)
    lines += [
        "### Expert use (mean MoVE router weight on test) and MoLE load",
        "",
        "| task | " + " | ".join(experts) + " | MoLE load |",
        "|---" * (len(experts) + 2) + "|",
    ]
    for t in TASKS:
        lines.append(
            f"| {t} | "
            + " | ".join(f"{w:.2f}" for w in use[t]["move"])
            + " | "
            + ", ".join(f"{x:.2f}" for x in use[t]["mole"])
            + " |"
        )
    lines += ["", "| expert | MACs per image | energy per image (uJ, 45 nm) |", "|---|---|---|"]
    lines += [f"| {e} | {macs[e] / 1e6:.1f} M | {energy[e]:.1f} |" for e in experts]
    d, m = cost["dense"], cost["mome"]
    lines += [
        "",
        "### Inference cost per example (trained parts, from cached backbone features)",
        "",
        f"- MoLE (4 experts, top-1) vs the dense adapter: {m['mole_macs']:.0f} vs {d['mole_macs']:.0f} "
        f"MACs = x{m['mole_macs'] / d['mole_macs']:.3f}; time x{m['mole_seconds'] / d['mole_seconds']:.2f}",
        f"- whole trained part: {m['macs'] / 1e6:.2f} M vs {d['macs'] / 1e6:.2f} M MACs "
        f"(x{m['macs'] / d['macs']:.2f}); time x{m['seconds'] / d['seconds']:.2f}",
        f"- backbones per image: dense {macs['efficientnet_lite0'] / 1e6:.0f} M MACs (Lite0); MoME "
        f"{sum(v for k, v in macs.items() if k != 'spiking') / 1e6:.0f} M MACs (every backbone expert)",
        f"- load average {os.getloadavg()[0]:.1f} (timings under load are not comparable elsewhere)",
    ]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
