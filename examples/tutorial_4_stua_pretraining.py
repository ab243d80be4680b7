"""
4. STUA pre-training from text alone
====================================

Purpose: pre-train ASH-Net's spiking encoder from captions only (STUA), check what it
learnt, and start image-text training from it.

STUA (spiking-to-text uni-alignment) feeds the token features of a caption, through a
small linear adapter, into the *same* spiking encoder that reads image tokens, and
aligns its output with the text embedding of that caption (InfoNCE with the other
captions of the batch as negatives; the text projection learns too, so the target is the
very space image-text training uses).
Captions are cheap and plentiful, so the spiking encoder can learn a language-shaped
space before it ever sees an image. The equations are on the :doc:`/concepts` page.
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from ashnet.checkpoint import load_run
from ashnet.config import load_config
from ashnet.data import build_openmoji, load_pairs
from ashnet.evaluate import evaluate
from ashnet.models import build_model
from ashnet.run import read_metrics
from ashnet.training import pretrain_stua, train

WORK = Path(tempfile.gettempdir()) / "ashnet_tutorials"  # data and feature caches
RUNS = WORK / "tutorial4_runs"  # this tutorial's run directories, replaced on every run
shutil.rmtree(RUNS, ignore_errors=True)
RUNS.mkdir(parents=True)

# %%
# Captions, and nothing else
# --------------------------
# Pre-training reads a ``.txt`` file with one caption per line (or the training captions
# of a pairs file). Here we write the English captions of 400 OpenMoji emojis to such a
# file; the validation captions are kept apart to measure what the encoder learnt.

pairs = build_openmoji(WORK / "openmoji-64-400", size=64, limit=400, progress=False)
table = load_pairs(pairs)
train_captions = [c for r in table.split("train").images for c in r.captions]
val_captions = [c for r in table.split("val").images for c in r.captions]
captions_txt = RUNS / "captions.txt"
captions_txt.write_text("\n".join(train_captions) + "\n")
print(f"{len(train_captions)} training captions, e.g. {train_captions[:3]}")

# %%
# The same small ASH-Net as in :doc:`tutorial_3_train_openmoji`, with a ``stua`` section
# that asks for 80 pre-training steps.

tiny = [
    "data.batch_size=32",
    "model.abstract.dim=64",
    "model.abstract.heads=2",
    "model.abstract.depth=1",
    "model.embed_dim=128",
    "stua.steps=80",
    "stua.batch_size=32",
    "stua.warmup_steps=5",
    "train.log_every=5",
]
config = load_config("demo", tiny)
print(config.stua)

# %%
# How aligned is the spiking path before training?
# ------------------------------------------------
# For each validation caption we compare its *spiking* embedding (text tokens -> STUA
# adapter -> spiking encoder) with the text embeddings of all validation captions: a hit
# at 1 means its own caption's text embedding is the nearest. A random spiking encoder
# should score near chance (1 / number of captions).


@torch.no_grad()
def stua_alignment(model, captions):
    """R@1 (%) of finding each caption's text embedding from its spiking embedding."""
    model.eval()
    features = model.encode_text_features(captions)
    spiking = model.embed_stua(features).embedding
    text = model.embed_text(features)
    hits = (spiking @ text.T).argmax(dim=1) == torch.arange(len(captions))
    return 100.0 * hits.float().mean().item()


torch.manual_seed(config.seed)
before = stua_alignment(build_model(config.model), val_captions)
print(f"before STUA: R@1 {before:.1f}% (chance {100 / len(val_captions):.1f}%)")

# %%
# Pre-training
# ------------
# :func:`ashnet.training.pretrain_stua` is ``ashnet pretrain-stua``: it runs the
# ``stua`` section's steps with the STUA loss alone and writes a run directory like
# training does. The frozen text encoder's features are computed once.

result = pretrain_stua(
    config, captions_txt, RUNS / "stua", cache_dir=WORK / "features", progress=False
)
print(f"{result['step']} STUA steps in {result['train_s']:.1f} s")

stua_model, _ = load_run(RUNS / "stua")
after = stua_alignment(stua_model, val_captions)
print(f"after STUA:  R@1 {after:.1f}% on {len(val_captions)} unseen captions")

events = [e for e in read_metrics(RUNS / "stua") if e["event"] == "train"]
fig, (ax_l, ax_b) = plt.subplots(1, 2, figsize=(10, 3.6))
ax_l.plot([e["step"] for e in events], [e["stua"] for e in events])
ax_l.set(xlabel="step", ylabel="STUA loss", title="pre-training from captions")
bars = ax_b.bar(["random init", "after STUA"], [before, after], color=["gray", "C1"])
ax_b.bar_label(bars, fmt="%.1f%%")
ax_b.axhline(100 / len(val_captions), color="k", ls="--", lw=1, label="chance")
ax_b.set(ylabel="R@1 (%)", ylim=(0, 105), title="spiking text emb. -> text emb. (val)")
ax_b.legend()
fig.tight_layout()

# %%
# Image-text training from the pre-trained encoder
# ------------------------------------------------
# ``train.init`` (``ashnet train --init RUN/checkpoint.pt``) starts training from every
# weight of a checkpoint whose name and shape match: here the STUA adapter, the spiking
# encoder and its projection. We train 30 image-text steps from it and from scratch, and
# compare retrieval on the validation split. With so few steps and so little data the
# difference is noisy; the workflow is the point. (``stua.steps: 0`` here: the stage ran
# above on the caption file. With ``stua.steps`` > 0, ``train`` and ``ashnet train`` run
# the stage themselves first, on the training captions, into ``RUN/stua``.)

short = [
    "train.max_steps=30",
    "train.warmup_steps=5",
    "train.eval_every=0",
    "stua.steps=0",
]
runs = {
    "from scratch": load_config("demo", tiny + short),
    "from STUA": load_config(
        "demo", tiny + short + [f"train.init={RUNS / 'stua' / 'checkpoint.pt'}"]
    ),
}
val = table.split("val")
for name, run_config in runs.items():
    run_dir = RUNS / name.replace(" ", "_")
    train(run_config, pairs, run_dir, cache_dir=WORK / "features", progress=False)
    model, _ = load_run(run_dir)
    ev = evaluate(model, val, run_config.data.image_size, progress=False)
    print(f"{name:12s}  val i2t R@1 {ev.i2t['r1']:5.1f}  t2i R@1 {ev.t2i['r1']:5.1f}")
plt.show()

# %%
# The run directories above were temporary (their checkpoints hold the frozen encoders'
# weights too, about 100 MB each); remove them.

shutil.rmtree(RUNS)
