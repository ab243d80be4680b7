"""Image-text training of ASH-Net (``ashnet train``): data, feature caching, the loss step and evaluation."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import load_checkpoint
from ..config import Config
from ..data import ImageTextDataset, caption_index, load_pairs, open_image
from ..evaluate import evaluate, recall_at_k
from ..losses import compute_losses
from ..models import ConcreteOutput, TextFeatures, build_model
from ..models.abstract import rename_legacy_keys
from ..run import RunDir
from .batches import batches_per_epoch, caption_choice
from .features import cache_features
from .loop import Schedule, optimise
from .runtime import pinned_threads, seed_everything, start_runtime

logger = logging.getLogger(__name__)

__all__ = ["train", "ContrastiveStep", "load_init"]


class ContrastiveStep(nn.Module):
    """One step's losses (:func:`ashnet.losses.compute_losses`) of images, or their cached backbone
    output, or ``None`` (captions alone), against captions or their cached text features.

    Wrapping the whole step in one module lets ``DistributedDataParallel`` see every trainable
    parameter the step uses.
    """

    def __init__(self, model: nn.Module, loss_config):
        super().__init__()
        self.model = model
        self.loss_config = loss_config

    def forward(self, images, captions) -> dict[str, torch.Tensor]:
        if images is None or isinstance(images, ConcreteOutput):
            concrete = images  # None: captions alone (STUA pre-training)
        else:
            concrete = self.model.encode_concrete(images)
        text = captions if isinstance(captions, TextFeatures) else self.model.encode_text_features(captions)
        return compute_losses(self.model, concrete, text, self.loss_config)


def load_init(model: nn.Module, source: str | Path) -> int:
    """Copy the weights of checkpoint ``source`` whose names and shapes match ``model``; return how many.

    Used to start image-text training from STUA pre-training (or any earlier run), and task
    fine-tuning from a run of ``ashnet train`` or ``ashnet finetune`` (whose ASH-Net weights sit
    under ``model.``; its task head never carries over).
    """
    state = load_checkpoint(source)["model"]
    if any(k.startswith("model.") for k in state):  # a fine-tuned task model
        state = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    state = rename_legacy_keys(state, "abstract.")
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise ValueError(f"checkpoint {source} has no weights that fit this model")
    model.load_state_dict(matched, strict=False)
    return len(matched)


def _warn_if_upsampled(table, image_size: int) -> None:
    """Log a warning when the first image is smaller than ``data.image_size`` (it would be upsampled)."""
    first = table.images[0]
    side = min(open_image(first.path, first.member).size)
    if side < image_size:
        logger.warning(
            "%s is %d px but data.image_size is %d: images are upsampled, which adds no detail "
            "(render or pick data at the size used, e.g. `ashnet data build openmoji --size %d`)",
            first.name,
            side,
            image_size,
            image_size,
        )


def train(
    config: Config,
    data: str | Path,
    out: str | Path,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Train ASH-Net on the ``train`` split of the pairs file ``data``; write the run into ``out``.

    Writes the run directory ``out`` (see :mod:`ashnet.run`: ``config.yaml``, ``checkpoint.pt``,
    ``metrics.jsonl``, ``tb/``). Frozen encoders are run once over the data (see :func:`cache_features`). The
    ``val`` split, when present, is evaluated every ``train.eval_every`` steps and at the end.
    Under ``torchrun`` each process trains on its shard of every global batch.

    With ``stua.steps`` > 0 and the spiking branch, STUA pre-training on the training captions
    (:func:`ashnet.training.pretrain_stua`) runs first, as a stage of its own in ``out/stua`` (a run
    directory; ``resume`` continues it if it was interrupted), and image-text training starts from
    its weights (from ``train.init``'s, if set, the stage starts).

    Returns
    -------
    dict
        ``step``, ``train_s``, ``cache_s``, ``pretrain_s`` (the STUA stage, 0 without one), the last
        logged ``losses`` and the last ``eval``.
    """
    from .stua import pretrain_stua  # stua.py builds on this module

    with pinned_threads(config.train.threads):
        init, pretrain_s = config.train.init, 0.0
        main = RunDir(out)
        if config.stua.steps and config.model.abstract.enabled and not (resume and main.checkpoint.is_file()):
            if not resume:
                main.prepare(config, resume=False, write=False)  # refuse a used folder before the stage
            stage = RunDir(main.path / STUA_STAGE)
            stage_resume = resume and stage.checkpoint.is_file()
            pretrain_s = pretrain_stua(config, data, stage.path, stage_resume, cache_dir, progress)["train_s"]
            init, resume = str(stage.checkpoint), False  # the image-text run starts fresh from the stage
        result = _train(config, data, out, resume, cache_dir, progress, init)
        return {**result, "pretrain_s": pretrain_s}


# The sub-folder of a training run that holds its STUA pre-training stage.
STUA_STAGE = "stua"


def _train(
    config: Config,
    data: str | Path,
    out: str | Path,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    init: str | None = None,
) -> dict:
    out = Path(out)
    runtime = start_runtime(config.train.device)
    resume = RunDir(out).prepare(config, resume, write=runtime.is_main)
    table = load_pairs(data, **config.data.keys).in_languages(config.data.languages)
    train_table, val_table = table.split("train"), table.split("val")
    if not train_table.images:
        raise ValueError(
            f"{data} has no training images with captions in {list(config.data.languages)} "
            "(rows with split 'train' or no split)"
        )
    _warn_if_upsampled(train_table, config.data.image_size)
    seed_everything(config.seed)
    model = build_model(config.model)
    if init is not None and not resume:
        load_init(model, init)
    model.to(runtime.device)

    index = caption_index(train_table)
    counts = torch.tensor([len(r.captions) for r in train_table.images])
    offsets = torch.cumsum(counts, 0) - counts
    start = time.perf_counter()
    cache = cache_features(
        model,
        train_table,
        index.texts,
        config.data.image_size,
        2 * config.data.batch_size,
        runtime.device,
        cache_dir,
        progress and runtime.is_main,
    )
    cache_s = time.perf_counter() - start
    device = runtime.device

    def make_batches(epoch: int, batches: list[list[int]]):
        flat = (offsets + caption_choice(counts, config.seed, epoch)).tolist()
        if cache.concrete is None:
            loader = torch.utils.data.DataLoader(
                ImageTextDataset(train_table, image_size=config.data.image_size),
                batch_sampler=batches,
                num_workers=config.data.num_workers,
                generator=torch.Generator(),  # keeps the global RNG untouched, so resumes replay exactly
            )
            images = (batch[0].to(device) for batch in loader)
        else:
            images = (cache.images(b, device) for b in batches)
        for b, image_input in zip(batches, images, strict=True):
            chosen = [flat[i] for i in b]
            text = (
                cache.captions(chosen, device) if cache.text is not None else [index.texts[i] for i in chosen]
            )
            yield image_input, text

    per_epoch = batches_per_epoch(len(train_table.images), config.data.batch_size, runtime.world_size)
    schedule = Schedule.of(config.train, config.data.batch_size, per_epoch)

    val_cache = None
    if val_table.images and model.frozen_concrete and model.frozen_text:
        val_cache = cache_features(
            model,
            val_table,
            caption_index(val_table).texts,
            config.data.image_size,
            2 * config.data.batch_size,
            device,
            cache_dir,
            progress and runtime.is_main,
        )

    def validate(m) -> dict:
        if val_cache is not None:  # frozen encoders: embed the cached features, as in training
            images, texts, rate = val_cache.embed(m, 2 * config.data.batch_size, device)
            recall = recall_at_k(images @ texts.T, caption_index(val_table).text_image)
        else:
            result = evaluate(
                m, val_table, config.data.image_size, 2 * config.data.batch_size, progress=False
            )
            recall, rate = {"i2t": result.i2t, "t2i": result.t2i}, result.firing_rate
        flat = {f"{d}_{k}": v for d in ("i2t", "t2i") for k, v in recall[d].items()}
        if rate is not None:
            flat["firing_rate"] = rate
        return flat

    result = optimise(
        model,
        ContrastiveStep(model, config.loss),
        len(train_table.images),
        make_batches,
        schedule,
        runtime,
        out,
        config.to_dict(),
        config.seed,
        resume=resume,
        evaluate=validate if val_table.images else None,
        progress=progress,
    )
    result["cache_s"] = cache_s
    return result
