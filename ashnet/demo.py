"""The demo: ASH-Net against fair controls (ANN baseline, ANN twin, ensemble) over seeds, and a report."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

from .checkpoint import load_run
from .config import Config, load_config
from .data import build_openmoji, load_manifest, load_pairs
from .evaluate import evaluate, zero_shot_labels
from .report import results_table, write_report
from .run import RunDir
from .training import train

__all__ = ["baseline_of", "twin_of", "run_demo", "MODELS"]

# Run folder -> name in the report. "baseline-b" is the second member of the two-baseline ensemble.
MODELS = {"ashnet": "ASH-Net", "baseline": "ANN baseline", "twin": "ANN twin", "baseline-b": "baseline #2"}
ENSEMBLE = "ensemble of 2 baselines"
# The ensemble's second baseline is trained with this offset added to the seed.
ENSEMBLE_SEED_OFFSET = 1000


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


def twin_of(config: Config) -> Config:
    """The parameter-matched ANN twin of ``config``: the same spiking branch with GELU for every
    spiking neuron, one time step, direct encoding (input levels summed: ``stage_timing:
    together``), and no spatio-temporal contrast (it needs time steps); everything else (backbone
    levels, input gain, augmentations, STUA) as ``config``."""
    abstract = dataclasses.replace(
        config.model.abstract, neuron="gelu", time_steps=1, encoding="direct", stage_timing="together"
    )
    model = dataclasses.replace(config.model, abstract=abstract)
    loss = dataclasses.replace(config.loss, st=dataclasses.replace(config.loss.st, enabled=False))
    return dataclasses.replace(config, model=model, loss=loss)


def _evaluate_run(run: Path, table, batch_size: int) -> dict:
    model, config = load_run(run)
    labels, _ = zero_shot_labels(table)
    result = evaluate(model, table, config.data.image_size, batch_size, labels)
    return {
        **result.to_json(),
        "zero_shot": result.zero_shot,
        "layer_firing_rates": result.layer_firing_rates,
    }


def _train_run(cfg: Config, pairs: Path, run: Path, cache: Path, resume: bool) -> dict:
    """Train ``cfg`` (with its STUA stage, if any) into ``run``: afresh, or continuing a run already there."""
    resume = resume and RunDir(run).config.is_file()
    if not resume:
        shutil.rmtree(run, ignore_errors=True)
    return train(cfg, pairs, run, resume=resume, cache_dir=cache)


def run_demo(
    out: str | Path,
    data_dir: str | Path | None = None,
    config: str = "demo",
    overrides=(),
    limit=None,
    seeds: int = 1,
    cross: dict[str, str | Path] | None = None,
    resume: bool = False,
) -> dict:
    """Train ASH-Net and its controls on OpenMoji over ``seeds`` seeds, compare them; write ``out/report.md``.

    The controls share ASH-Net's config, schedule and budget: the ANN-only baseline
    (:func:`baseline_of`), the parameter-matched ANN twin (:func:`twin_of`) and an ensemble of two
    baselines (seeds ``s`` and ``s + 1000``; about ASH-Net's trainable size). Each model gets R@1
    mean ± sd over the seeds and, against ASH-Net, the paired bootstrap interval of the difference
    (:mod:`ashnet.compare`) on the test split and on every ``cross`` set.

    Parameters
    ----------
    out
        Output folder: ``seed<s>/<model>/`` runs (``ashnet``, ``baseline``, ``baseline-b``, ``twin``,
        each with its ``stua/`` stage when ``stua.steps`` > 0; replaced if present, unless ``resume``),
        ``cache/`` (frozen-encoder features shared by all), ``report.md`` and plots.
    data_dir
        Where OpenMoji is built (cached), at the config's ``data.image_size`` so images are used at
        the size they are rendered; default ``out/data``. A folder holding a ``pairs.csv`` that
        no OpenMoji build wrote is used as it is.
    config
        Packaged config name or YAML file for ASH-Net.
    seeds
        Seeds ``config.seed + 0 .. seeds - 1`` of every model.
    cross
        Extra evaluation sets, name -> pairs file (their test split), e.g. Twemoji.
    limit
        Build only the first ``limit`` emojis (quick runs).
    resume
        Continue an interrupted demo in ``out``: finished runs are kept and the interrupted one
        resumes from its last checkpoint (the packaged configs checkpoint every epoch), instead of
        training every run afresh.

    Returns
    -------
    dict
        ``models`` (per model, seed 0: ``eval`` test metrics, ``train_s``, ``pretrain_s``),
        ``comparison`` (per set, :func:`ashnet.compare.compare_groups`), ``table`` (Markdown), ``total_s``.
    """
    from . import compare

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be an int >= 1, got {seeds!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir) if data_dir is not None else out / "data"
    started, cpu_started, load_before = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    ashnet_cfg = load_config(config, list(overrides))
    pairs = data_dir / "pairs.csv"
    if not pairs.is_file() or load_manifest(data_dir) is not None:
        pairs = build_openmoji(data_dir, size=ashnet_cfg.data.image_size, limit=limit)
    build_s = time.perf_counter() - started
    configs = {
        "ashnet": ashnet_cfg,
        "baseline": baseline_of(ashnet_cfg),
        "baseline-b": baseline_of(ashnet_cfg),
        "twin": twin_of(ashnet_cfg),
    }
    cache = out / "cache"
    results: dict[str, dict] = {}
    for s in range(seeds):
        for name, cfg in configs.items():
            seed = cfg.seed + s + (ENSEMBLE_SEED_OFFSET if name == "baseline-b" else 0)
            cfg = dataclasses.replace(cfg, seed=seed)
            run = out / f"seed{s}" / name
            result = _train_run(cfg, pairs, run, cache, resume)
            if s == 0 and name != "baseline-b":
                results[MODELS[name]] = {"train_s": result["train_s"], "pretrain_s": result["pretrain_s"]}
    test = load_pairs(pairs).split("test")
    first = {MODELS[name]: out / "seed0" / name for name in configs if name != "baseline-b"}
    for name, run in first.items():
        results[name]["eval"] = _evaluate_run(run, test, 256)
    sets = {"OpenMoji": pairs, **(cross or {})}
    comparison, tables = {}, []
    for set_name, set_pairs in sets.items():
        hits = {
            MODELS[name]: [
                compare.run_hits(out / f"seed{s}" / name, set_pairs, "test", cache) for s in range(seeds)
            ]
            for name in ("ashnet", "baseline", "twin")
        }
        hits[ENSEMBLE] = [
            compare.ensemble_hits(
                [out / f"seed{s}" / "baseline", out / f"seed{s}" / "baseline-b"], set_pairs, "test", cache
            )
            for s in range(seeds)
        ]
        comparison[set_name] = compare.compare_groups(hits, reference="ASH-Net")
        tables.append(
            f"{set_name} test, R@1 over {seeds} seed(s):\n\n" + compare.table(comparison[set_name], "ASH-Net")
        )
    total_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    table = load_pairs(pairs)
    sizes = " / ".join(f"{len(table.split(s).images)} {s}" for s in ("train", "val", "test"))
    notes = [
        f"Data: {pairs} ({sizes} images); metrics on the test split, recall in percent "
        "(image-to-text: a hit when any caption of the image is retrieved). The table above is seed 0.",
        f"ASH-Net: config `{config}`. Controls with the same steps, batch and schedule: the ANN baseline "
        "(spiking branch, spatio-temporal contrast and STUA off), the ANN twin (the same branch and "
        "parameters with GELU for every spiking neuron, one time step, no spatio-temporal contrast) "
        f"and an ensemble of two baselines (seeds s and s + {ENSEMBLE_SEED_OFFSET}, similarities averaged). "
        "Training time excludes feature caching and validation.",
        "Zero-shot: each test image is classified among the prompts 'an emoji of <concept>' of the "
        f"{len(set(zero_shot_labels(test)[0]))} concepts of the test split (skin-tone, gender and "
        "family variants share a concept).",
        "Over seeds: mean ± sd, and ASH-Net minus each control with a 95 % paired bootstrap interval "
        "over test images (2000 resamples); an interval that contains 0 shows no difference.",
        f"Whole demo: {total_s:.0f} s wall (data build {build_s:.0f} s), {cpu_s:.0f} s CPU in this process "
        f"(train.threads = {ashnet_cfg.train.threads}); {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the end "
        "(other work on the machine slows the wall time).",
    ]
    write_report(out, results, first, notes, extra=tables)
    summary = "\n\n".join([results_table(results), *tables])
    return {"models": results, "comparison": comparison, "table": summary, "total_s": total_s}
