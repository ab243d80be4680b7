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

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import yaml

import neuro
from ashnet.checkpoint import load_run
from ashnet.config import load_config
from ashnet.data import ImageTextDataset, build_openmoji, caption_index, load_pairs
from ashnet.evaluate import embed_table, evaluate
from ashnet.training import train
from ashnet.viz import text_to_image_grid, training_curves
from neuro import viz

WORK = Path(tempfile.gettempdir()) / "ashnet_tutorials"  # data and feature caches
RUNS = WORK / "tutorial3_runs"  # this tutorial's run directories, replaced on every run
shutil.rmtree(RUNS, ignore_errors=True)
RUNS.mkdir(parents=True)

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
# projections and the temperature train. It trains with the image-text contrast and the
# spatio-temporal contrast; STUA is off (on OpenMoji it did not raise validation recall;
# :doc:`tutorial_4_stua_pretraining` shows it). Overrides use the same dotted keys as
# ``ashnet train --set``. The ``baseline`` config is the same with the spiking branch
# off: an ANN-only, CLIP-style dual encoder; the ``twin`` config keeps the branch and
# its parameters but makes every spiking neuron a GELU run for one step (the
# parameter-matched ANN twin). Images are built at 64 px here, so the runs use 64 px
# too (the packaged configs use 128). One seed on 400 emojis shows the workflow, not
# which model is better:
# ``ashnet demo --seeds 5`` gives means, spreads and paired bootstrap intervals.

tiny = [
    "data.image_size=64",
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
    "ANN twin": load_config("twin", tiny),
}
resolved = configs["ASH-Net"].to_dict()  # what the run will write to config.yaml
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
# evaluates retrieval on the validation split. ``itc`` is the image-text contrast and
# ``st`` the spatio-temporal contrast across time windows of the spiking encoder (see
# :doc:`/concepts`). :func:`ashnet.viz.training_curves` plots them from
# ``metrics.jsonl``; ``ashnet viz`` does the same from the command line.

ash_curves = training_curves(RUNS / "ASH-Net")

# %%
# The baseline trains the image-text contrast alone:

baseline_curves = training_curves(RUNS / "ANN_baseline")

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
# rates are lowest at the first step, while the membranes charge; the output layer's
# rate is what the ``rate`` readout averages into the embedding.

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
# Embeddings live in one space, so a caption ranks images by cosine similarity.
# :func:`ashnet.evaluate.embed_table` embeds every test image and caption;
# :func:`ashnet.viz.text_to_image_grid` shows the best images for a few query captions
# (a green frame marks the caption's own image), and
# :func:`ashnet.viz.image_to_text_grid` does the reverse.

emb = embed_table(ash, test, image_size=64, batch_size=64, device="cpu", progress=False)
similarity = emb.images @ emb.texts.T  # [n_images, n_texts]
test_images = torch.stack(
    [image for image, _, _ in ImageTextDataset(test, image_size=64)]
)
captions = caption_index(test).texts
grid = text_to_image_grid(
    test_images, captions, similarity, emb.text_image, queries=[0, 5, 10], k=4
)
plt.show()

# %%
# The run directories above were temporary (their checkpoints hold the frozen encoders'
# weights too, about 100 MB each); remove them.

shutil.rmtree(RUNS)
