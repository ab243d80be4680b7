"""
3. Training an ASH-Net on OpenMoji and evaluating retrieval
===========================================================

Purpose: build a small OpenMoji data set, train an ASH-Net and the ANN-only baseline on
it, and compare their image-text retrieval, all from Python in about a minute on a CPU.

The ``ashnet`` command line does the same (``ashnet data build``, ``ashnet train``,
``ashnet eval``); see :doc:`/cli`. This tutorial keeps everything tiny: 400 emojis, 60
optimisation steps and a narrow spiking encoder, so its numbers are far from those of
``ashnet demo``; the point is the workflow.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import yaml

import neuro
from ashnet.checkpoint import load_run
from ashnet.config import config_to_dict, load_config
from ashnet.data import ImageTextDataset, build_openmoji, load_pairs
from ashnet.evaluate import evaluate
from ashnet.training import train
from ashnet.training.logger import read_metrics
from neuro import viz

WORK = Path(tempfile.gettempdir()) / "ashnet_tutorials"  # data and feature caches
RUNS = Path(tempfile.mkdtemp(prefix="ashnet_tutorial3_"))  # fresh run directories

# %%
# The data
# --------
# :func:`ashnet.data.build_openmoji` renders emojis of the OpenMoji font (a pip package)
# to PNGs on white and writes ``pairs.csv`` with one English caption per image (the
# Unicode name, made readable), captions in other languages, and a fixed train/val/test
# split. The build is cached: running it again returns at once. ``limit`` keeps the
# first emojis only.

pairs = build_openmoji(WORK / "openmoji-64-400", size=64, limit=400, progress=False)
table = load_pairs(pairs)
for split in ("train", "val", "test"):
    print(f"{split:5s}: {len(table.split(split).images)} images")

train_set = ImageTextDataset(table.split("train"), image_size=64)
fig, axes = plt.subplots(2, 6, figsize=(11, 4.4))
for ax, i in zip(axes.flat, range(0, 12 * 25, 25), strict=True):
    image, caption, _ = train_set[i]
    ax.imshow(image.permute(1, 2, 0))
    ax.set_title(caption if len(caption) < 22 else caption[:20] + "...", fontsize=8)
    ax.axis("off")
fig.suptitle("OpenMoji training pairs (image, caption)")
fig.tight_layout()

# %%
# A configuration
# ---------------
# Runs are described by a :class:`ashnet.config.Config`, loaded from YAML. The packaged
# ``demo`` config freezes the pretrained EfficientNet-Lite0 and MiniLM encoders, so
# their outputs are computed once and only the spiking encoder, the fusion, the
# projections and the temperature train. Overrides use the same dotted keys as ``ashnet
# train --set``. The ``baseline`` config is the same with the spiking branch off: an
# ANN-only, CLIP-style dual encoder.

tiny = [
    "data.batch_size=32",
    "train.max_steps=60",
    "train.warmup_steps=10",
    "train.eval_every=10",
    "train.log_every=5",
    "model.abstract.dim=64",
    "model.abstract.heads=2",
    "model.abstract.depth=1",
    "model.embed_dim=128",
]
configs = {
    "ASH-Net": load_config("demo", tiny),
    "ANN baseline": load_config("baseline", tiny),
}
resolved = config_to_dict(configs["ASH-Net"])  # what the run will write to config.yaml
print(yaml.safe_dump({k: resolved[k] for k in ("model", "loss")}, sort_keys=False))

# %%
# Training
# --------
# :func:`ashnet.training.train` writes a run directory: the resolved ``config.yaml``, an
# atomic ``checkpoint.pt``, ``metrics.jsonl`` and TensorBoard logs. ``cache_dir`` keeps
# the frozen encoders' features on disk, so the baseline (and the next build of these
# docs) reuses them.

results = {}
for name, config in configs.items():
    run_dir = RUNS / name.replace(" ", "_")
    results[name] = train(
        config, pairs, run_dir, cache_dir=WORK / "features", progress=False
    )
    print(f"{name}: {results[name]['step']} steps in {results[name]['train_s']:.1f} s")

# %%
# Every ``log_every`` steps the run logs its losses; every ``eval_every`` steps it
# evaluates retrieval on the validation split. ``itc`` is the image-text contrast,
# ``st`` the spatio-temporal contrast across time windows of the spiking encoder, and
# ``stua`` the alignment of the spiking encoder's reading of captions to the text
# embedding (see :doc:`/concepts`).

fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(11, 3.8))
for name in configs:
    events = read_metrics(RUNS / name.replace(" ", "_"))
    train_ev = [e for e in events if e["event"] == "train"]
    eval_ev = [e for e in events if e["event"] == "eval"]
    steps = [e["step"] for e in train_ev]
    for key, style in (("itc", "-"), ("st", "--"), ("stua", ":")):
        if any(e[key] for e in train_ev):
            ax_l.plot(steps, [e[key] for e in train_ev], style, label=f"{name}: {key}")
    ax_r.plot(
        [e["step"] for e in eval_ev], [e["i2t_r1"] for e in eval_ev], "o-", label=name
    )
ax_l.set(xlabel="step", ylabel="loss", title="training losses", yscale="log")
ax_l.legend(fontsize=8)
ax_r.set(xlabel="step", ylabel="R@1 (%)", title="validation image-to-text R@1")
ax_r.legend()
fig.tight_layout()

# %%
# Retrieval on the test split
# ---------------------------
# :func:`ashnet.checkpoint.load_run` rebuilds a trained model from its run directory;
# :func:`ashnet.evaluate.evaluate` embeds every image and caption of a table and
# computes recall at 1, 5 and 10 in both directions (COCO/Flickr protocol) and the mean
# firing rate of the spiking layers. ``ashnet eval --json`` prints the same numbers.

test = table.split("test")
models, evaluations = {}, {}
for name in configs:
    model, config = load_run(RUNS / name.replace(" ", "_"))
    models[name] = model
    evaluations[name] = evaluate(model, test, config.data.image_size, progress=False)

print(
    f"{'':14s} {'i2t R@1':>8s} {'R@5':>6s} {'R@10':>6s} {'t2i R@1':>8s} {'R@5':>6s}",
    end="",
)
print(f" {'R@10':>6s} {'firing':>7s}")
for name, ev in evaluations.items():
    rate = "-" if ev.firing_rate is None else f"{ev.firing_rate:.1f}%"
    print(
        f"{name:14s} {ev.i2t['r1']:8.1f} {ev.i2t['r5']:6.1f} {ev.i2t['r10']:6.1f}"
        f" {ev.t2i['r1']:8.1f} {ev.t2i['r5']:6.1f} {ev.t2i['r10']:6.1f} {rate:>7s}"
    )

# %%
# Inside the spiking encoder
# --------------------------
# A :class:`neuro.Monitor` records the spikes of the ASH-Net's spiking layers while it
# embeds test images, and :func:`neuro.viz.firing_rate_heatmap` shows each layer's
# firing rate at each of the ``T`` time steps. (``neuro.viz`` returns matplotlib figures
# without touching pyplot, so it runs headless; ``path=`` saves them as PNG or SVG.) The
# rates climb over the first steps as the membranes charge; the output layer's rate is
# what the ``rate`` readout averages into the embedding.

ash = models["ASH-Net"]
images = torch.stack([ImageTextDataset(test, image_size=64)[i][0] for i in range(8)])
with neuro.Monitor(ash) as monitor, torch.no_grad():
    ash.encode_image(images)
spikes = {
    name.replace("abstract.", "").replace("blocks.0.", ""): seq[0]
    for name, seq in monitor.spikes.items()
}
heatmap = viz.firing_rate_heatmap(
    spikes, title="ASH-Net spiking layers (8 test images)"
)

# %%
# Text-to-image search
# --------------------
# Embeddings live in one space, so a caption ranks images by cosine similarity. Here
# each of three test captions retrieves its top 4 test images with the trained ASH-Net
# (a green frame marks the true image).

test_images = torch.stack(
    [ImageTextDataset(test, image_size=64)[i][0] for i in range(len(test.images))]
)
queries = [test.images[i].captions[0] for i in (0, 5, 10)]
with torch.no_grad():
    image_emb = ash.encode_image(test_images).embedding
    text_emb = ash.encode_text(queries)
top = (text_emb @ image_emb.T).topk(4, dim=1).indices

fig, axes = plt.subplots(len(queries), 4, figsize=(7, 5.6))
for row, (query, hits) in enumerate(zip(queries, top, strict=True)):
    for col, index in enumerate(hits.tolist()):
        ax = axes[row, col]
        ax.imshow(test_images[index].permute(1, 2, 0))
        ax.set_xticks([])
        ax.set_yticks([])
        hit = test.images[index].captions[0] == query
        for side in ax.spines.values():
            side.set(color="green" if hit else "lightgray", linewidth=3 if hit else 1)
    axes[row, 0].set_ylabel(
        query if len(query) < 24 else query[:22] + "...", fontsize=8
    )
fig.suptitle("text -> image: top 4 test images per caption")
fig.tight_layout()
plt.show()
