"""Comparing trained models over seeds: per-query hits, mean ± sd, ensembles and paired bootstrap intervals.

A *group* is one model (``ASH-Net``, ``baseline``, ...) trained with several seeds; its runs are
matched to the other groups' runs by seed. For each evaluation set every run's embeddings are
computed once and stored in the run directory, so comparing again costs nothing.

Retrieval on an evaluation set gives, per run, ``hits_i2t [n_images]`` (1 when an image's top
caption is one of its own) and ``hits_t2i [n_texts]``. A group's R@1 is the mean over its seeds;
the headline metric is the mean of both directions. The paired bootstrap resamples *images* with
replacement (their captions come along) and recomputes every group's seed-averaged R@1 on the
same resample, so each difference keeps the pairing of test items; its 95 % interval is the 2.5 and
97.5 percentiles of the difference over the resamples.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, load_run, save_checkpoint

__all__ = [
    "Hits",
    "run_embeddings",
    "run_hits",
    "ensemble_hits",
    "summarise",
    "paired_bootstrap",
    "compare_groups",
    "table",
]


@dataclass
class Hits:
    """R@1 hits of one run (or ensemble) on one set: ``i2t [n_images]``, ``t2i [n_texts]`` (0/1 floats)
    and ``text_image [n_texts]`` (the image each caption belongs to)."""

    i2t: torch.Tensor
    t2i: torch.Tensor
    text_image: torch.Tensor

    def r1(self, weights: torch.Tensor | None = None) -> tuple[float, float]:
        """i2t and t2i R@1 in percent; ``weights [n_images]``: how often each image is drawn (bootstrap)."""
        if weights is None:
            weights = torch.ones_like(self.i2t)
        w_text = weights[self.text_image]
        return (
            100.0 * float((self.i2t * weights).sum() / weights.sum()),
            100.0 * float((self.t2i * w_text).sum() / w_text.sum()),
        )


def _set_key(pairs: str | Path, split: str, language: str) -> str:
    path = Path(pairs).resolve()
    which = f"{path}:{path.stat().st_mtime_ns}:{split}" + ("" if language == "en" else f":{language}")
    return hashlib.sha256(which.encode()).hexdigest()[:16]


@torch.no_grad()
def run_embeddings(
    run: str | Path,
    pairs: str | Path,
    split: str,
    cache_dir: str | Path | None = None,
    language: str = "en",
):
    """Image embeddings ``[n_images, E]``, caption embeddings ``[n_texts, E]`` and ``text_image`` of a run.

    ``language``: rank the captions in that language (``"en"``: the main ones, another code: the
    ``caption_<code>`` column), over the images that have one. Stored in
    ``RUN/embeddings/<key>.pt`` (the key hashes the pairs file, split and language), so each run is
    embedded once per evaluation set; ``cache_dir`` shares the frozen-encoder features between runs
    (the image features of a split once for every language).
    """
    from .data import PairTable, caption_index, load_pairs
    from .training.features import cache_features

    run = Path(run)
    stored = run / "embeddings" / f"{_set_key(pairs, split, language)}.pt"
    if stored.is_file():
        state = load_checkpoint(stored)
        return state["images"], state["texts"], state["text_image"]
    model, config = load_run(run)
    table = load_pairs(pairs, **config.data.keys).split(split)
    keep = [i for i, r in enumerate(table.images) if r.captions_in(language)]
    if not keep:
        raise ValueError(f"{pairs} has no images with captions in {language!r} in split {split!r}")
    part = PairTable([table.images[i] for i in keep])
    index = caption_index(part, language)
    if model.frozen_concrete and model.frozen_text:
        features = cache_features(
            model, table, index.texts, config.data.image_size, 256, "cpu", cache_dir, progress=False
        )
        images, texts, _ = features.embed(model, 256)
        images = images[keep]
    else:
        from .evaluate import embed_images, embed_texts

        images = embed_images(model, part, config.data.image_size, 256, "cpu", progress=False)[0]
        texts = embed_texts(model, index.texts, 256, "cpu")
    save_checkpoint(stored, {"images": images, "texts": texts, "text_image": index.text_image})
    return images, texts, index.text_image


def _hits(similarity: torch.Tensor, text_image: torch.Tensor) -> Hits:
    n_images = similarity.shape[0]
    best_text = similarity.argmax(dim=1)
    best_image = similarity.argmax(dim=0)
    return Hits(
        i2t=(text_image[best_text] == torch.arange(n_images)).float(),
        t2i=(best_image == text_image).float(),
        text_image=text_image,
    )


def run_hits(run, pairs, split: str, cache_dir=None, language: str = "en") -> Hits:
    """The R@1 hits of one run on one set (ties go to the lower index, as in ``recall_at_k``)."""
    images, texts, text_image = run_embeddings(run, pairs, split, cache_dir, language)
    return _hits(images @ texts.T, text_image)


def ensemble_hits(runs, pairs, split: str, cache_dir=None, language: str = "en") -> Hits:
    """An ensemble of runs: the mean of their image-text similarity matrices, then R@1 hits."""
    sims = []
    for run in runs:
        images, texts, text_image = run_embeddings(run, pairs, split, cache_dir, language)
        sims.append(images @ texts.T)
    return _hits(torch.stack(sims).mean(0), text_image)


def summarise(seeds: list[Hits]) -> dict[str, tuple[float, float]]:
    """Mean and sd over seeds of ``i2t``, ``t2i`` and ``mean`` (of both directions) R@1, in percent."""
    values = {"i2t": [], "t2i": [], "mean": []}
    for hits in seeds:
        i2t, t2i = hits.r1()
        values["i2t"].append(i2t)
        values["t2i"].append(t2i)
        values["mean"].append((i2t + t2i) / 2)
    return {k: (_mean(v), _sd(v)) for k, v in values.items()}


def _mean(v: list[float]) -> float:
    return sum(v) / len(v)


def _sd(v: list[float]) -> float:
    if len(v) < 2:
        return float("nan")
    m = _mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def paired_bootstrap(
    a: list[Hits], b: list[Hits], resamples: int = 2000, seed: int = 0, metric: str = "mean"
) -> tuple[float, float, float]:
    """Difference ``a - b`` of seed-averaged R@1 (``metric``: i2t, t2i or mean) and its 95 % interval.

    Both groups are evaluated on the same resamples of images (drawn with replacement), so the
    interval reflects which test items the models get right, paired item by item.
    """
    n_images = len(a[0].i2t)
    if any(len(h.i2t) != n_images for h in (*a, *b)):
        raise ValueError("the runs were evaluated on different image sets")
    pick = {"i2t": 0, "t2i": 1}

    def value(group: list[Hits], weights) -> float:
        scores = [h.r1(weights) for h in group]
        if metric == "mean":
            return _mean([(i + t) / 2 for i, t in scores])
        return _mean([s[pick[metric]] for s in scores])

    generator = torch.Generator().manual_seed(seed)
    observed = value(a, None) - value(b, None)
    diffs = []
    for _ in range(resamples):
        drawn = torch.randint(n_images, (n_images,), generator=generator)
        weights = torch.bincount(drawn, minlength=n_images).float()
        diffs.append(value(a, weights) - value(b, weights))
    diffs = torch.tensor(diffs)
    low, high = torch.quantile(diffs, torch.tensor([0.025, 0.975], dtype=diffs.dtype)).tolist()
    return observed, low, high


def compare_groups(
    groups: dict[str, list[Hits]], reference: str | None = None, resamples: int = 2000
) -> dict:
    """Per group: ``seeds``, ``i2t``/``t2i``/``mean`` as ``[mean, sd]`` and, against ``reference``,
    ``reference_minus_this`` (``diff``, ``low``, ``high``: :func:`paired_bootstrap` of mean R@1)."""
    result = {}
    for name, seeds in groups.items():
        entry = {"seeds": len(seeds), **{k: list(v) for k, v in summarise(seeds).items()}}
        if reference is not None and name != reference:
            d, lo, hi = paired_bootstrap(groups[reference], seeds, resamples)
            entry["reference_minus_this"] = {"diff": d, "low": lo, "high": hi}
        result[name] = entry
    return result


def table(result: dict, reference: str | None = None) -> str:
    """Markdown of :func:`compare_groups`: R@1 mean ± sd over seeds, ``reference - model`` and interval."""
    head = "| model | seeds | i2t R@1 (%) | t2i R@1 (%) | mean R@1 (%) |"
    rule = "|---|---|---|---|---|"
    if reference is not None:
        head += f" {reference} - model, mean R@1 (95 % CI) |"
        rule += "---|"
    lines = [head, rule]
    for name, entry in result.items():
        cells = [
            f"{entry[k][0]:.1f}" + (f" ± {entry[k][1]:.1f}" if entry["seeds"] > 1 else " (1 seed)")
            for k in ("i2t", "t2i", "mean")
        ]
        row = f"| {name} | {entry['seeds']} | " + " | ".join(cells) + " |"
        if reference is not None:
            diff = entry.get("reference_minus_this")
            row += (
                " - |"
                if diff is None
                else f" {diff['diff']:+.1f} [{diff['low']:+.1f}, {diff['high']:+.1f}] |"
            )
        lines.append(row)
    return "\n".join(lines)
