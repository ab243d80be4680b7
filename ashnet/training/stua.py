"""STUA pre-training (``ashnet pretrain-stua``): the spiking encoder learns from captions alone."""

from __future__ import annotations

from pathlib import Path

from ..config import Config, LossConfig, STUAObjective
from ..data import caption_index, load_pairs
from ..models import build_model
from ..run import RunDir
from .features import cache_features
from .image_text import ContrastiveStep, load_init
from .loop import Schedule, optimise
from .runtime import pinned_threads, seed_everything, start_runtime

__all__ = ["pretrain_stua", "read_captions"]


def read_captions(path: str | Path, keys: dict[str, str] | None = None) -> list[str]:
    """Captions for STUA: non-empty lines of a ``.txt`` file, or every training caption of a pairs file
    (``keys``: its column names, as ``DataConfig.keys``)."""
    path = Path(path)
    if path.suffix == ".txt":
        if not path.is_file():
            raise FileNotFoundError(f"caption file not found: {path}")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise ValueError(f"{path} is not UTF-8 text: {err}") from err
        captions = [line.strip() for line in lines if line.strip()]
    else:
        captions = caption_index(load_pairs(path, **(keys or {})).split("train")).texts
    if not captions:
        raise ValueError(f"{path} holds no captions")
    return captions


def pretrain_stua(
    config: Config,
    data: str | Path,
    out: str | Path,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Train the spiking encoder (through the STUA adapter) to match text embeddings, from captions alone.

    Runs ``stua.steps`` steps of :func:`ashnet.losses.stua_loss` over the captions of ``data`` (see
    :func:`read_captions`) and writes the run directory ``out`` (see :mod:`ashnet.run`). Start
    image-text training from it with ``ashnet train --init OUT/checkpoint.pt``.
    """
    with pinned_threads(config.train.threads):
        return _pretrain_stua(config, data, out, resume, cache_dir, progress)


def _pretrain_stua(
    config: Config,
    data: str | Path,
    out: str | Path,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    if not config.model.abstract.enabled:
        raise ValueError("STUA pre-training needs the spiking branch (model.abstract.enabled: true)")
    if config.stua.steps < 1:
        raise ValueError(f"stua.steps must be >= 1 for pre-training, got {config.stua.steps}")
    out = Path(out)
    runtime = start_runtime(config.train.device)
    resume = RunDir(out).prepare(config, resume, write=runtime.is_main)
    captions = read_captions(data, config.data.keys)
    seed_everything(config.seed)
    model = build_model(config.model)
    if config.train.init is not None and not resume:
        load_init(model, config.train.init)
    model.to(runtime.device)
    device = runtime.device
    if model.frozen_text:
        cache = cache_features(
            model,
            None,
            captions,
            config.data.image_size,
            config.stua.batch_size,
            device,
            cache_dir,
            progress and runtime.is_main,
        )

    def make_batches(epoch: int, batches: list[list[int]]):
        for b in batches:
            yield None, cache.captions(b, device) if model.frozen_text else [captions[i] for i in b]

    s = config.stua  # its own length, batch, learning rate and warm-up; the rest as in training
    schedule = Schedule.of(
        config.train, s.batch_size, 0, total_steps=s.steps, lr=s.lr, warmup_steps=s.warmup_steps
    )
    step = ContrastiveStep(model, LossConfig(stua=STUAObjective(enabled=True, weight=1.0)))
    return optimise(
        model,
        step,
        len(captions),
        make_batches,
        schedule,
        runtime,
        out,
        config.to_dict(),
        config.seed,
        resume=resume,
        progress=progress,
        desc="pretrain-stua",
    )
