"""
8. Vision-language tasks: grounding on scenes
=============================================

Purpose: build the scenes data, fine-tune one task (phrase grounding) with fusion in
the backbone, score it against chance, and look at the predicted boxes.

The scenes data places 1 to 6 OpenMoji emoji on a canvas at known boxes and writes
examples for six tasks (ITM, VQA, visual entailment, NLVR2-style pairs, grounding,
counting) into one ``scenes.json``; see :doc:`/tasks`. Fusion in the backbone (FIBER)
adds gated cross-attention to the top text layers and to the image tokens; its gates
start at zero, so before training the model is exactly the dual encoder it came from.
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle
from PIL import Image

from ashnet.checkpoint import save_checkpoint
from ashnet.config import load_config
from ashnet.data import build_scenes, load_task
from ashnet.evaluate_tasks import evaluate_task, predict
from ashnet.models import build_model
from ashnet.training.finetune import finetune, load_task_run
from ashnet.training.task_batches import TaskInputs

WORK = Path(tempfile.gettempdir()) / "ashnet_tutorials"  # data and feature caches
RUNS = WORK / "tutorial8_runs"  # this tutorial's run directories, replaced on every run
shutil.rmtree(RUNS, ignore_errors=True)
RUNS.mkdir(parents=True)

# %%
# Scenes
# ------
# 120 scenes of 128 pixels from the first 400 OpenMoji emoji (cached after the first
# run). Test scenes hold only emoji that no training scene shows.

scenes = build_scenes(
    WORK / "scenes-120", n_scenes=120, size=128, emoji_limit=400, progress=False
)
train = load_task(scenes, "grounding", "train")
test = load_task(scenes, "grounding", "test")
print(f"{len(train)} training phrases, {len(test)} test phrases")
print("e.g.", [e.text for e in train.examples[:3]])

# %%
# A model to start from
# ---------------------
# ``ashnet finetune --init RUN`` starts from a run of ``ashnet train``. To stay within
# a minute we save an untrained ASH-Net (the pretrained EfficientNet-Lite0 and MiniLM,
# frozen, with a small spiking encoder) as that run, and let fine-tuning train its
# projections too (``task.freeze_encoder=false``).

config = load_config(
    "demo", ["model.abstract.dim=64", "model.embed_dim=128", "data.batch_size=32"]
)
torch.manual_seed(0)
init = RUNS / "init"
save_checkpoint(
    init / "checkpoint.pt",
    {"model": build_model(config.model).state_dict(), "config": config.to_dict()},
)

# %%
# Fine-tune grounding
# -------------------
# The packaged ``task_grounding`` config fuses the top two text layers with the image;
# here only the top one, with a shorter schedule, to stay within a minute. The head
# scores each of the 4 x 4 image tokens against the phrase and regresses a box from
# the best one.

task_config = load_config(
    "task_grounding",
    [
        "train.max_steps=40",
        "model.fiber.layers=1",
        "data.batch_size=32",
        "model.fiber.dim=64",
        "task.hidden=128",
        "task.freeze_encoder=false",
        "train.log_every=20",
    ],
)
result = finetune(
    task_config,
    scenes,
    init,
    RUNS / "grounding",
    cache_dir=WORK / "cache",
    progress=False,
)
print(f"trained {result['step']} steps in {result['train_s']:.0f} s")

# %%
# Score it
# --------
# Accuracy at IoU 0.5 on the test split, against the chance level of always answering
# the mean training box. The same number comes from ``ashnet eval --task grounding``.

model, run_config = load_task_run(RUNS / "grounding")
inputs = TaskInputs(
    model.model, test, [], 128, 64, "cpu", WORK / "cache", progress=False
)
score = evaluate_task(model, inputs, train, [])
print(f"test {score.metric}: {score.value:.1f}% (chance {score.chance:.1f}%)")

# %%
# Predicted boxes
# ---------------
# Red: the predicted box; green: the true one.

boxes = predict(model, inputs)
fig, axes = plt.subplots(2, 4, figsize=(10, 5.6))
for ax, example, box in zip(axes.flat, test.examples, boxes, strict=False):
    image = Image.open(test.images[example.images[0]])
    ax.imshow(image)
    for (x0, y0, x1, y1), colour in ((box.tolist(), "red"), (example.target, "green")):
        w, h = (x1 - x0) * image.width, (y1 - y0) * image.height
        ax.add_patch(
            Rectangle(
                (x0 * image.width, y0 * image.height), w, h, fill=False, color=colour
            )
        )
    ax.set_title(example.text.removeprefix("the ").removesuffix(" emoji"), fontsize=8)
    ax.axis("off")
fig.tight_layout()
plt.show()
