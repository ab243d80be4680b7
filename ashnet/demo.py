"""The demo: build OpenMoji, train ASH-Net and the ANN-only baseline on the same budget, evaluate, report."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

from .checkpoint import load_run
from .config import Config, load_config
from .data import build_openmoji, load_pairs
from .evaluate import evaluate
from .report import results_table, write_report
from .run import RunDir
from .training import pretrain_stua, train

__all__ = ["baseline_of", "run_demo"]


def baseline_of(config: Config) -> Config:
    """The ANN-only CLIP-style baseline of ``config``: spiking branch and its objectives off, else equal."""
    model = dataclasses.replace(
        config.model, abstract=dataclasses.replace(config.model.abstract, enabled=False)
    )
    loss = dataclasses.replace(
        config.loss,
        st=dataclasses.replace(config.loss.st, enabled=False),
        stua=dataclasses.replace(config.loss.stua, enabled=False),
    )
    stua = dataclasses.replace(config.stua, steps=0)
    return dataclasses.replace(config, model=model, loss=loss, stua=stua)


def _evaluate_run(run: Path, table, batch_size: int) -> dict:
    model, config = load_run(run)
    labels = [r.captions[0] for r in table.images]
    result = evaluate(model, table, config.data.image_size, batch_size, labels)
    return {
        **result.to_json(),
        "zero_shot": result.zero_shot,
        "layer_firing_rates": result.layer_firing_rates,
    }


def run_demo(
    out: str | Path, data_dir: str | Path | None = None, config: str = "demo", overrides=(), limit=None
) -> dict:
    """Train and compare ASH-Net and its ANN-only baseline on OpenMoji; write ``out/report.md``.

    Parameters
    ----------
    out
        Output folder: ``ashnet-stua/`` (when ``stua.steps`` > 0), ``ashnet/``, ``baseline/`` runs (replaced
        if present), ``cache/`` (frozen-encoder features shared by both), ``report.md`` and plots.
    data_dir
        Where OpenMoji is built (cached); default ``out/data``. A folder that already holds a
        ``pairs.csv`` is used as it is.
    config
        Packaged config name or YAML file for ASH-Net; the baseline is :func:`baseline_of` it.
    limit
        Build only the first ``limit`` emojis (quick runs).

    Returns
    -------
    dict
        Per model: ``eval`` (test-split metrics), ``train_s`` and ``pretrain_s``; plus ``table`` (Markdown).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir) if data_dir is not None else out / "data"
    started, cpu_started, load_before = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    pairs = data_dir / "pairs.csv"
    if not pairs.is_file():
        pairs = build_openmoji(data_dir, limit=limit)
    build_s = time.perf_counter() - started
    ashnet_cfg = load_config(config, list(overrides))
    configs = {"ASH-Net": ashnet_cfg, "ANN baseline": baseline_of(ashnet_cfg)}
    runs = {"ASH-Net": out / "ashnet", "ANN baseline": out / "baseline"}
    results: dict[str, dict] = {}
    cache = out / "cache"
    for name, cfg in configs.items():
        pretrain_s = 0.0
        if cfg.stua.steps > 0:
            stua_run = out / "ashnet-stua"
            shutil.rmtree(stua_run, ignore_errors=True)
            pretrain_s = pretrain_stua(cfg, pairs, stua_run, cache_dir=cache)["train_s"]
            cfg = dataclasses.replace(
                cfg, train=dataclasses.replace(cfg.train, init=str(RunDir(stua_run).checkpoint))
            )
        shutil.rmtree(runs[name], ignore_errors=True)
        result = train(cfg, pairs, runs[name], cache_dir=cache)
        results[name] = {"train_s": result["train_s"], "pretrain_s": pretrain_s, "cache_s": result["cache_s"]}
    test = load_pairs(pairs).split("test")
    for name, run in runs.items():
        results[name]["eval"] = _evaluate_run(run, test, 256)
    total_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    table = load_pairs(pairs)
    sizes = " / ".join(f"{len(table.split(s).images)} {s}" for s in ("train", "val", "test"))
    notes = [
        f"Data: {pairs} ({sizes} images); metrics on the test split, recall in percent "
        "(image-to-text: a hit when any caption of the image is retrieved).",
        f"ASH-Net: config `{config}`; the baseline is the same config with the spiking branch, "
        "spatio-temporal contrast and STUA off: same steps, batch and schedule. "
        "Training time excludes feature caching and validation.",
        "Zero-shot: each test image is classified among the prompts 'an emoji of <first caption>' "
        "of all test images.",
        f"Whole demo: {total_s:.0f} s wall (data build {build_s:.0f} s), {cpu_s:.0f} s CPU in this process "
        f"(all threads); {os.cpu_count()} CPUs, load average {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end (other work on the machine slows the wall time).",
    ]
    write_report(out, results, runs, notes)
    return {**results, "table": results_table(results), "total_s": total_s}
