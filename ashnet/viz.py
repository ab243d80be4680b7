"""ASH-Net plots: retrieval grids, training curves of one run or several, and the use of mixture experts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from neuro.viz import save_figure

from .run import RunDir, read_metrics

__all__ = ["image_to_text_grid", "text_to_image_grid", "training_curves", "expert_use"]

HIT, MISS = "tab:green", "tab:gray"
RECALL_STYLES = (("i2t_r1", "-o"), ("t2i_r1", "--s"), ("i2t_r5", "-^"), ("t2i_r5", "--v"))


def _image(ax, image: torch.Tensor) -> None:
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    ax.set_xticks([])
    ax.set_yticks([])


def _check_k(k: int, available: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return min(k, available)


def image_to_text_grid(
    images: torch.Tensor,
    captions: list[str],
    similarity: torch.Tensor,
    text_image: torch.Tensor,
    queries: list[int],
    k: int = 5,
    path: str | Path | None = None,
) -> Figure:
    """For each query image, its ``k`` best captions with their cosine similarity; its own captions in green.

    ``images [n_images, 3, S, S]``, ``captions`` (every caption), ``similarity [n_images, n_texts]``,
    ``text_image [n_texts]`` (the image each caption belongs to), ``queries``: image indices.
    """
    k = _check_k(k, len(captions))
    fig = Figure(figsize=(9, 1.9 * len(queries) + 0.6), layout="constrained")
    grid = fig.subplots(len(queries), 2, squeeze=False, width_ratios=[1, 4])
    for (ax_img, ax_txt), q in zip(grid, queries, strict=True):
        _image(ax_img, images[q])
        ax_img.set_title(f"query image {q}", fontsize=8)
        scores, best = similarity[q].topk(k)
        ax_txt.axis("off")
        for rank, (score, t) in enumerate(zip(scores.tolist(), best.tolist(), strict=True)):
            hit = int(text_image[t]) == q
            line = f"{rank + 1}. {'✓' if hit else '✗'} {score:+.2f}  {textwrap.shorten(captions[t], 70)}"
            ax_txt.text(0, 1 - (rank + 0.5) / k, line, color=HIT if hit else MISS, va="center", fontsize=9)
    fig.suptitle(f"Image → text: top {k} captions (✓ green: a caption of the query image; cosine similarity)")
    return save_figure(fig, path)


def text_to_image_grid(
    images: torch.Tensor,
    captions: list[str],
    similarity: torch.Tensor,
    text_image: torch.Tensor,
    queries: list[int],
    k: int = 5,
    path: str | Path | None = None,
) -> Figure:
    """For each query caption, its ``k`` best images with their cosine similarity; its own image framed green.

    Arguments as in :func:`image_to_text_grid`; ``queries`` are caption indices.
    """
    k = _check_k(k, len(images))
    fig = Figure(figsize=(2.2 + 1.5 * k, 1.8 * len(queries) + 0.6), layout="constrained")
    grid = fig.subplots(len(queries), k + 1, squeeze=False, width_ratios=[2.2] + [1.5] * k)
    for row, t in zip(grid, queries, strict=True):
        row[0].axis("off")
        row[0].text(0, 0.5, "\n".join(textwrap.wrap(captions[t], 24)[:5]), va="center", fontsize=9)
        row[0].set_title(f"query caption {t}", fontsize=8, loc="left")
        scores, best = similarity[:, t].topk(k)
        for rank, (ax, score, i) in enumerate(zip(row[1:], scores.tolist(), best.tolist(), strict=True)):
            _image(ax, images[i])
            hit = i == int(text_image[t])
            for spine in ax.spines.values():
                spine.set_edgecolor(HIT if hit else MISS)
                spine.set_linewidth(4 if hit else 1)
            ax.set_title(
                f"{rank + 1}. {'✓' if hit else ''} {score:+.2f}", fontsize=8, color=HIT if hit else "black"
            )
    fig.suptitle(f"Text → image: top {k} images (✓ green frame: the caption's own image; cosine similarity)")
    return save_figure(fig, path)


def training_curves(runs: str | Path | dict[str, str | Path], path: str | Path | None = None) -> Figure:
    """Losses, learning rate and validation recall against step, from the runs' ``metrics.jsonl``.

    ``runs``: one run directory (or its ``metrics.jsonl``), drawn with every logged objective and
    R@1 and R@5 both ways; or ``{name: run}`` to compare runs, one colour each, with the ITC loss
    (the objective every run has) and R@1 both ways.
    """
    compare = isinstance(runs, dict)
    named = runs if compare else {RunDir.of(runs).path.name: runs}
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    ax_loss, ax_lr, ax_recall = fig.subplots(1, 3)
    evaluated = False
    for i, (name, run) in enumerate(named.items()):
        events = read_metrics(run)
        train = [e for e in events if e.get("event") == "train"]
        evals = [e for e in events if e.get("event") == "eval"]
        if not train:
            raise ValueError(f"{run} has no training events to plot")
        colour, prefix = (f"C{i}", f"{name} ") if compare else (None, "")
        steps = [e["step"] for e in train]
        for key in ("itc",) if compare else ("total", "itc", "st", "stua"):
            if any(key in e for e in train):
                values = [e.get(key, np.nan) for e in train]
                width = 2 if key == "total" else 1
                ax_loss.plot(steps, values, label=prefix + key, color=colour, linewidth=width)
        ax_lr.plot(steps, [e.get("lr", np.nan) for e in train], color=colour or "tab:purple", label=name)
        for key, style in RECALL_STYLES[: 2 if compare else 4]:
            if any(key in e for e in evals):
                evaluated = True
                values = [e.get(key, np.nan) for e in evals]
                ax_recall.plot(
                    [e["step"] for e in evals], values, style, ms=4, color=colour, label=prefix + key
                )
    ax_loss.set(xlabel="step", ylabel="loss", title="Training losses")
    ax_lr.set(xlabel="step", ylabel="learning rate", title="Learning rate")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    ax_recall.set(xlabel="step", ylabel="recall (%)", title="Validation recall")
    if not evaluated:
        ax_recall.text(0.5, 0.5, "no validation events\n(eval_every: 0?)", ha="center", va="center")
    for ax in (ax_loss, ax_lr, ax_recall):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.lines and (ax is not ax_lr or compare):
            ax.legend(fontsize=8)
    fig.suptitle(f"Training curves: {' vs '.join(named)}")
    return save_figure(fig, path)


def expert_use(
    weights: torch.Tensor,
    tasks: list[str],
    experts: list[str],
    energy_uj: dict[str, float] | None = None,
    title: str = "MoVE: expert use per task",
    path: str | Path | None = None,
) -> Figure:
    """A heatmap of the mean router weight of each expert (columns) on each task (rows).

    ``weights [n_tasks, n_experts]``, rows summing to one. With ``energy_uj`` (microjoules per
    image of each expert, e.g. from :func:`ashnet.energy.expert_energy`) a second panel draws the
    energy of each expert, so the cost of what a task leans on can be read beside it.
    """
    weights = torch.as_tensor(weights, dtype=torch.float32)
    if weights.shape != (len(tasks), len(experts)):
        raise ValueError(
            f"weights must be [n_tasks, n_experts] = [{len(tasks)}, {len(experts)}], "
            f"got {tuple(weights.shape)}"
        )
    panels = 2 if energy_uj is not None else 1
    fig = Figure(figsize=(2.5 + 1.2 * len(experts) + 3.5 * (panels - 1), 1.3 + 0.45 * len(tasks)))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    image = axes[0].imshow(weights.numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (i, j), w in np.ndenumerate(weights.numpy()):
        colour = "white" if w < 0.6 else "black"
        axes[0].text(j, i, f"{w:.2f}", ha="center", va="center", color=colour, fontsize=8)
    axes[0].set_xticks(range(len(experts)), experts, rotation=30, ha="right")
    axes[0].set_yticks(range(len(tasks)), tasks)
    axes[0].set_title("mean router weight")
    fig.colorbar(image, ax=axes[0], shrink=0.8)
    if energy_uj is not None:
        ax = axes[1]
        values = [energy_uj[e] for e in experts]
        ax.barh(range(len(experts)), values, color="tab:gray")
        for k, v in enumerate(values):
            ax.text(v, k, f" {v:.3g}", va="center", fontsize=8)
        ax.set_yticks(range(len(experts)), experts)
        ax.invert_yaxis()
        ax.set(xlabel="energy per image (µJ, 45 nm)", title="energy per expert")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    return save_figure(fig, path)
