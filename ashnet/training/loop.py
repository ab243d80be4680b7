"""The optimisation loop of training and STUA pre-training: steps, logging, checkpoints, resume."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint
from ..run import RunDir
from .batches import batches_per_epoch, epoch_batches
from .logger import MetricsLogger
from .optim import build_optimizer, warmup_cosine
from .runtime import Runtime, all_reduce_mean, rng_state, set_rng_state
from .sync_norm import sync_batch_norms

__all__ = ["Schedule", "optimise"]


@dataclass(frozen=True)
class Schedule:
    """How long and how to optimise; how often to log, evaluate and checkpoint.

    ``log_every``, ``eval_every``, ``checkpoint_every``: in steps (0: only at the end). Checkpoints
    are also written at the end of every ``checkpoint_every_epochs``-th epoch and, on the main
    process, whenever ``checkpoint_minutes`` have passed since the last one (0: neither).
    """

    total_steps: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int
    grad_clip: float | None
    amp: bool
    log_every: int
    eval_every: int = 0
    checkpoint_every: int = 0
    checkpoint_every_epochs: int = 0
    checkpoint_minutes: float = 0.0

    @classmethod
    def of(cls, train, batch_size: int, per_epoch: int, **changes) -> Schedule:
        """The schedule a ``train`` config section asks for: ``max_steps``, or ``epochs`` passes of
        ``per_epoch`` steps; ``changes`` replace fields (a pre-training stage's own steps, lr...)."""
        fields = {
            "total_steps": train.max_steps if train.max_steps is not None else train.epochs * per_epoch,
            "batch_size": batch_size,
            **{f: getattr(train, f) for f in _TRAIN_FIELDS},
        }
        return cls(**{**fields, **changes})

    def checkpoint_due(self, step: int, per_epoch: int) -> bool:
        """Whether step ``step`` ends with a checkpoint on every process (the timed ones aside)."""
        epochs = self.checkpoint_every_epochs
        epoch_end = epochs > 0 and step % (per_epoch * epochs) == 0
        return _due(step, self.checkpoint_every, self.total_steps) or epoch_end


_TRAIN_FIELDS = (
    "lr",
    "weight_decay",
    "warmup_steps",
    "grad_clip",
    "amp",
    "log_every",
    "eval_every",
    "checkpoint_every",
    "checkpoint_every_epochs",
    "checkpoint_minutes",
)


def _due(step: int, every: int, total: int) -> bool:
    return step == total or (every > 0 and step % every == 0)


def optimise(
    model: nn.Module,
    loss_module: nn.Module,
    n_items: int,
    make_batches: Callable[[int, list[list[int]]], Iterable[tuple]],
    schedule: Schedule,
    runtime: Runtime,
    run_dir: Path,
    config: dict,
    seed: int,
    resume: bool = False,
    evaluate: Callable[[nn.Module], dict] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> dict:
    """Run ``schedule.total_steps`` AdamW steps of ``loss_module`` over ``n_items`` items.

    Parameters
    ----------
    model
        The model whose trainable parameters are optimised and whose state is checkpointed.
    loss_module
        ``loss_module(*batch) -> dict`` of scalar losses with a ``"total"`` entry; under torchrun it
        is wrapped in ``DistributedDataParallel`` here.
    make_batches
        ``make_batches(epoch, index_batches)`` yields the ``loss_module`` arguments for each list of
        item indices, in order.
    config
        The resolved config (plain dict), stored in the checkpoint.
    resume
        Continue from ``run_dir/checkpoint.pt``: weights, optimiser, schedule, step and RNG states, and
        the same data order (the remaining batches of the interrupted epoch come next).
    evaluate
        ``evaluate(model) -> dict`` of numbers, run on the main process every ``eval_every`` steps
        and at the end.

    Returns
    -------
    dict
        ``step``, ``train_s`` (seconds of training, over all sessions of a resumed run; evaluation
        excluded), the last
        logged losses, and the last evaluation.
    """
    device = runtime.device
    optimizer = build_optimizer(model, schedule.lr, schedule.weight_decay)
    scheduler = warmup_cosine(optimizer, schedule.warmup_steps, schedule.total_steps)
    use_amp = schedule.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    step, elapsed = 0, 0.0
    if resume:
        state = load_checkpoint(RunDir(run_dir).checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        step, elapsed = state["step"], state["train_s"]
        set_rng_state(state["rng"])
    wrapped = loss_module
    if runtime.distributed:
        sync_batch_norms(loss_module)  # BatchNorm statistics over the global batch, gloo or NCCL
        ids = [device.index] if device.type == "cuda" else None
        wrapped = nn.parallel.DistributedDataParallel(
            loss_module, device_ids=ids, find_unused_parameters=True
        )
    logger = MetricsLogger(run_dir, enabled=runtime.is_main, resume_step=step if resume else None)
    if not resume:  # a resumed run must keep the config (seed and threads) it was started with
        logger.log("run", 0, {"seed": seed, "threads": torch.get_num_threads(), "torch": torch.__version__})
    per_epoch = batches_per_epoch(n_items, schedule.batch_size, runtime.world_size)
    trainable = [p for p in model.parameters() if p.requires_grad]
    result: dict = {"step": step}
    window: dict[str, float] = {}
    window_steps = 0
    bar = tqdm(
        total=schedule.total_steps, initial=step, desc=desc, disable=not (progress and runtime.is_main)
    )
    start = time.perf_counter()
    last_checkpoint = time.monotonic()
    while step < schedule.total_steps:
        epoch, skip = divmod(step, per_epoch)
        batches = epoch_batches(n_items, schedule.batch_size, seed, epoch, runtime.rank, runtime.world_size)
        remaining = batches[skip : skip + schedule.total_steps - step]
        for batch in make_batches(epoch, remaining):
            model.train()
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                losses = wrapped(*batch)
            total = losses["total"]
            if not torch.isfinite(total):
                raise FloatingPointError(f"loss became {float(total)} at step {step + 1}; lower train.lr")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.unscale_(optimizer)
            if schedule.grad_clip is not None:
                nn.utils.clip_grad_norm_(trainable, schedule.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            step += 1
            bar.update(1)
            for key, value in losses.items():
                window[key] = window.get(key, 0.0) + float(value.detach())
            window_steps += 1
            if _due(step, schedule.log_every, schedule.total_steps):
                values = all_reduce_mean({k: v / window_steps for k, v in window.items()}, runtime)
                values.update(lr=lr, epoch=epoch)
                if hasattr(model, "logit_scale"):
                    values["logit_scale"] = float(model.logit_scale.detach().exp())
                logger.log("train", step, values)
                bar.set_postfix(loss=f"{values['total']:.3f}")
                result["losses"] = values
                window, window_steps = {}, 0
            if evaluate is not None and _due(step, schedule.eval_every, schedule.total_steps):
                if runtime.is_main:
                    eval_start = time.perf_counter()
                    result["eval"] = evaluate(model)
                    start += time.perf_counter() - eval_start  # evaluation does not count as training time
                    logger.log("eval", step, result["eval"])
                if runtime.distributed:
                    dist.barrier()
            scheduled = schedule.checkpoint_due(step, per_epoch)
            timed = runtime.is_main and schedule.checkpoint_minutes > 0
            timed = timed and time.monotonic() - last_checkpoint >= 60 * schedule.checkpoint_minutes
            if scheduled or timed:
                train_s = elapsed + time.perf_counter() - start
                if runtime.is_main:
                    save_checkpoint(
                        RunDir(run_dir).checkpoint,
                        {
                            "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(),
                            "scaler": scaler.state_dict(),
                            "step": step,
                            "train_s": train_s,
                            "rng": rng_state(),
                            "config": config,
                        },
                    )
                    last_checkpoint = time.monotonic()
                if runtime.distributed and scheduled:  # timed ones are the main process's alone
                    dist.barrier()
    bar.close()
    logger.close()
    result.update(step=step, train_s=elapsed + time.perf_counter() - start)
    return result
