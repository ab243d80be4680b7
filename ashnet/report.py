"""Comparing trained runs: the side-by-side results table, the recall plot, report.md with training curves."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from neuro.viz import save_figure

from .viz import training_curves

__all__ = ["results_table", "plot_comparison", "write_report"]

RECALLS = [(d, k) for d in ("i2t", "t2i") for k in ("r1", "r5", "r10")]


def results_table(results: dict[str, dict]) -> str:
    """A Markdown table with one column per model.

    ``results`` maps a model name to ``{"eval": Evaluation.to_json() (+ "zero_shot"), "train_s": float,
    "pretrain_s": float (optional)}``.
    """
    names = list(results)
    rows = [("| metric | " + " | ".join(names) + " |"), "|---" * (len(names) + 1) + "|"]
    for d, k in RECALLS:
        cells = [f"{r['eval'][d][k]:.1f}" for r in results.values()]
        rows.append(f"| {d} R@{k[1:]} (%) | " + " | ".join(cells) + " |")
    if any(r["eval"].get("zero_shot") is not None for r in results.values()):
        cells = [
            f"{r['eval']['zero_shot']:.1f}" if r["eval"].get("zero_shot") is not None else "-"
            for r in results.values()
        ]
        rows.append("| zero-shot acc (%) | " + " | ".join(cells) + " |")
    cells = [
        f"{r['eval']['firing_rate']:.2f}" if r["eval"]["firing_rate"] is not None else "- (no SNN)"
        for r in results.values()
    ]
    rows.append("| firing rate (%) | " + " | ".join(cells) + " |")
    cells = [
        f"{r['train_s']:.0f}" + (f" (+{r['pretrain_s']:.0f} STUA)" if r.get("pretrain_s") else "")
        for r in results.values()
    ]
    rows.append("| training time (s) | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_comparison(results: dict[str, dict], path: Path, split: str = "test") -> Path:
    """Grouped bars of R@1/5/10 in both directions, one bar per model."""
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(results)
    for i, (name, r) in enumerate(results.items()):
        values = [r["eval"][d][k] for d, k in RECALLS]
        xs = [j + (i - (len(results) - 1) / 2) * width for j in range(len(RECALLS))]
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(RECALLS)), [f"{d} R@{k[1:]}" for d, k in RECALLS])
    ax.set(ylabel="recall (%)", title=f"Retrieval on the {split} split")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, path)
    return path


def write_report(
    out: Path, results: dict[str, dict], runs: dict[str, Path], notes: list[str], extra: list[str] = ()
) -> Path:
    """Write ``out/report.md``: the table, ``extra`` Markdown blocks, ``notes`` (bullets), both plots."""
    curves = out / "curves.png"
    training_curves(runs, path=curves)
    bars = plot_comparison(results, out / "comparison.png")
    layers = []
    for name, r in results.items():
        rates = r["eval"].get("layer_firing_rates") or {}
        if rates:
            layers += [
                "",
                f"Firing rate per spiking layer of {name} (test split, % spikes per neuron per step):",
                "",
            ]
            layers += [
                "| layer | rate (%) |",
                "|---|---|",
                *[f"| `{k}` | {v:.2f} |" for k, v in rates.items()],
            ]
    text = [
        "# ASH-Net demo report",
        "",
        results_table(results),
        "",
        *[line for block in extra for line in (block, "")],
        *[f"- {n}" for n in notes],
        *layers,
        "",
        f"![training curves]({curves.name})",
        "",
        f"![retrieval comparison]({bars.name})",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(text))
    return path
