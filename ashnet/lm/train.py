"""Training the language side: MetaICL meta-training (``ashnet lm pretrain-icl``) and the vision prefix
(``ashnet lm attach``) with the continual-learning methods that decide what of the LM may change."""

from __future__ import annotations

import copy
import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config.schema import ConfigError, Section, at_least, non_empty, positive, setting
from ..run import RunDir
from ..training.loop import Schedule, optimise
from ..training.runtime import seed_everything, start_runtime
from .evaluate import prose_chunks
from .features import FeatureStore
from .loader import load_language_model
from .prefix import Projector, VisionPrefixLM, add_lora, feature_dim
from .prompts import collate, encode_episode
from .text_tasks import HELD_OUT_TASKS, sample_episode, text_tasks
from .vqa_data import load_captions, load_vqa

__all__ = ["LMRunConfig", "METHODS", "pretrain_icl", "attach", "load_lm_run", "icl_episodes"]

# What the vision-language stage may change in the LM (continual-learning methods):
# frozen: nothing (projector only); plain: everything; lora: low-rank adapters; rehearsal: everything,
# with text batches mixed in; distill: everything, kept close to the frozen LM's text predictions;
# wise: everything, then the weights are moved halfway back to the original LM (WiSE-FT).
METHODS = ("frozen", "plain", "lora", "rehearsal", "distill", "wise")
_FULL = ("plain", "rehearsal", "distill", "wise")


@dataclass
class LMRunConfig(Section, path="lm"):
    """One ``pretrain-icl`` (``kind="icl"``) or ``attach`` (``kind="attach"``) run (a config section).

    ``lm``: a local transformers model directory, or ``None`` for the packaged SmolLM2-135M.
    ``icl``: a ``pretrain-icl`` run whose adapters are merged into the LM first (MetaVL).
    ``init``: an ``attach`` run to continue from (its projector and LM changes).
    ``encoder``: the ASH-Net run whose frozen image encoder feeds the prefix; ``source``: its
    ``concrete`` tokens, ``abstract`` (spiking) firing rates per token or ``fused`` embedding, as
    ``n_tokens`` prefix tokens per image. ``method``: what of the LM trains (see :data:`METHODS`).
    ``captions``: a pairs file (train captions); ``vqa``: ``easy-vqa`` or a scenes file (train
    questions); ``limit``: at most this many of each. ``max_shots``: most demonstrations per
    meta-training episode; ``text_weight``: weight of the rehearsal or distillation loss.
    """

    kind: Literal["icl", "attach"] = "attach"
    lm: str | None = setting(None, non_empty)
    icl: str | None = setting(None, non_empty)
    init: str | None = setting(None, non_empty)
    encoder: str | None = setting(None, non_empty)
    source: Literal["concrete", "abstract", "fused"] = "fused"
    n_tokens: int = setting(4, at_least(1))
    method: Literal["frozen", "plain", "lora", "rehearsal", "distill", "wise"] = "frozen"
    lora_rank: int = setting(8, at_least(1))
    captions: str | None = setting(None, non_empty)
    vqa: str | None = setting(None, non_empty)
    limit: int | None = setting(None, at_least(1))
    steps: int = setting(100, at_least(1))
    batch_size: int = setting(8, at_least(1))
    lr: float = setting(1e-3, positive)
    max_shots: int = setting(4, at_least(0))
    text_weight: float = setting(1.0, positive)
    seed: int = setting(0, at_least(0))

    def validate(self) -> None:
        if self.kind == "attach" and self.init is None and self.encoder is None:
            raise ConfigError(
                "attach needs an image encoder run (--encoder) or an earlier attach run (--init)"
            )
        if self.kind == "attach" and self.captions is None and self.vqa is None:
            raise ConfigError("attach needs training data: --captions PAIRS and/or --vqa SOURCE")


def _lora_parts(lm) -> nn.ModuleDict:
    return nn.ModuleDict(
        {n.replace(".", "-"): m for n, m in lm.named_modules() if n.endswith(("lora_A", "lora_B"))}
    )


def _trainable(vlm: VisionPrefixLM, method: str) -> nn.ModuleDict:
    """The modules a run trains and checkpoints (never the frozen LM weights)."""
    parts = nn.ModuleDict()
    if vlm.projector is not None:
        parts["projector"] = vlm.projector
    if method in _FULL:
        vlm.base.requires_grad_(True)
        parts["lm"] = vlm.base
    elif method == "lora":
        parts["lora"] = _lora_parts(vlm.lm)
    return parts


def _build(cfg: LMRunConfig) -> tuple[VisionPrefixLM, FeatureStore | None]:
    """The model a run starts from (before its own training) and its image features (or ``None``)."""
    if cfg.init is not None:
        vlm, features, _ = load_lm_run(cfg.init)
        return vlm, features
    lm = load_language_model(cfg.lm)
    model = lm.model
    if cfg.icl is not None:
        model = load_lm_run(cfg.icl)[0].lm
    projector = features = None
    if cfg.kind == "attach":
        from ..checkpoint import load_run

        encoder, enc_config = load_run(cfg.encoder)
        features = FeatureStore(
            encoder, enc_config.data.image_size, cfg.source, cfg.n_tokens, tag=cfg.encoder
        )
        d = feature_dim(encoder, cfg.source)
        projector = Projector(d, model.config.hidden_size, cfg.n_tokens, from_vector=cfg.source == "fused")
    return VisionPrefixLM(model, lm.tokenizer, projector), features


def _prepare(vlm: VisionPrefixLM, cfg: LMRunConfig) -> VisionPrefixLM:
    """Freeze the LM, then add LoRA adapters when this run trains them."""
    vlm.base.requires_grad_(False)
    if cfg.kind == "icl" or cfg.method == "lora":
        vlm.lm = add_lora(vlm.lm, cfg.lora_rank)
    return vlm


def load_lm_run(run: str | Path):
    """Rebuild the model of a ``pretrain-icl`` or ``attach`` run: ``(vlm, features, config)``.

    LoRA adapters are merged into the LM weights, so the result is a plain transformers model plus
    the projector. ``features`` is the :class:`FeatureStore` of the frozen ASH-Net encoder
    (``None`` for a text-only run).
    """
    state = load_checkpoint(run)
    cfg = LMRunConfig(**state["config"])
    torch.manual_seed(cfg.seed)
    vlm, features = _build(cfg)
    vlm = _prepare(vlm, cfg)
    _trainable(vlm, "lora" if cfg.kind == "icl" else cfg.method).load_state_dict(state["model"])
    if hasattr(vlm.lm, "merge_and_unload"):
        vlm.lm = vlm.lm.merge_and_unload()
    vlm.base.requires_grad_(False)
    return vlm.eval(), features, cfg


def icl_episodes(tokenizer, n: int, max_shots: int, context_length: int, seed: int) -> list:
    """``n`` MetaICL training episodes: a random meta-training task, 0..``max_shots`` demonstrations."""
    rng = random.Random(seed)
    tasks = [t for t in text_tasks() if t.name not in HELD_OUT_TASKS and len(t.train) > max_shots]
    episodes = []
    for _ in range(n):
        demos, query = sample_episode(rng.choice(tasks).train, rng.randint(0, max_shots), rng)
        episodes.append(encode_episode(tokenizer, demos, query, 0, context_length))
    return episodes


class _Step(nn.Module):
    """One step's losses: the scored tokens of a batch, plus text rehearsal or distillation."""

    def __init__(self, vlm: VisionPrefixLM, features, method: str = "frozen", text_weight: float = 1.0):
        super().__init__()
        self.vlm = vlm
        self.features = features
        self.method = method
        self.text_weight = text_weight
        self.teacher = None
        if method == "distill":
            teacher = copy.deepcopy(vlm.base).requires_grad_(False).eval()
            self.teacher = [VisionPrefixLM(teacher, vlm.tokenizer)]  # a list: not a submodule to train

    def forward(self, batch, text=None) -> dict[str, torch.Tensor]:
        losses = {"lm": self.vlm.loss(batch, self.features(batch.images))}
        if self.method == "rehearsal":
            losses["text"] = self.text_weight * self.vlm.loss(text)
        elif self.method == "distill":
            student, _ = self.vlm.answer_logits(text)
            with torch.no_grad():
                teacher, _ = self.teacher[0].answer_logits(text)
            kl = F.kl_div(
                F.log_softmax(student.float(), -1),
                F.log_softmax(teacher.float(), -1),
                log_target=True,
                reduction="batchmean",
            )
            losses["distill"] = self.text_weight * kl
        losses["total"] = sum(losses.values())
        return losses


def _schedule(cfg: LMRunConfig) -> Schedule:
    return Schedule(
        total_steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=0.0,
        warmup_steps=min(10, cfg.steps // 10),
        grad_clip=1.0,
        amp=False,
        log_every=10,
    )


def _start(cfg: LMRunConfig, out: Path, resume: bool):
    out = Path(out)
    run = RunDir(out)
    if resume and run.checkpoint.is_file() and load_checkpoint(run.checkpoint)["config"] != cfg.to_dict():
        raise ValueError(f"--resume: the settings differ from those {out} was started with")
    if not resume and run.checkpoint.exists():
        raise ValueError(f"{out} already holds a run; pass --resume to continue it or pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    return out, start_runtime("cpu")


def pretrain_icl(cfg: LMRunConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """MetaICL: train LoRA adapters of the LM to answer a query after k demonstrations of a text task.

    Episodes come from :func:`icl_episodes` (the held-out tasks are never trained on); only the
    query's answer is scored. Writes ``out/checkpoint.pt`` (the adapters) and ``out/metrics.jsonl``.
    """
    cfg = dataclasses.replace(cfg, kind="icl")
    out, runtime = _start(cfg, out, resume)
    torch.manual_seed(cfg.seed)
    vlm = _prepare(_build(cfg)[0], cfg)
    episodes = icl_episodes(
        vlm.tokenizer, cfg.steps * cfg.batch_size, cfg.max_shots, vlm.context_length, cfg.seed
    )

    def make_batches(epoch, batches):
        for b in batches:
            yield (collate([episodes[i] for i in b], vlm.pad_id),)

    return optimise(
        _trainable(vlm, "lora"),
        _Step(vlm, lambda keys: None),
        len(episodes),
        make_batches,
        _schedule(cfg),
        runtime,
        out,
        cfg.to_dict(),
        cfg.seed,
        resume=resume,
        progress=progress,
        desc="pretrain-icl",
    )


def attach(
    cfg: LMRunConfig, out: str | Path, resume: bool = False, cache_dir=None, progress: bool = True
) -> dict:
    """Train the vision prefix (and, by ``cfg.method``, the LM) on captions and/or VQA questions.

    ``frozen`` is MetaVL's recipe (the LM, with any meta-trained adapters merged, stays fixed);
    the other methods are the continual-learning variants of instruction tuning (see :data:`METHODS`).
    Writes ``out/checkpoint.pt`` (the trained parts only) and ``out/metrics.jsonl``.
    """
    cfg = dataclasses.replace(cfg, kind="attach")
    if cfg.init is not None:  # continue with the earlier run's LM, encoder and prefix shape
        first = load_lm_run_config(cfg.init)
        cfg = dataclasses.replace(
            cfg, lm=first.lm, icl=None, encoder=first.encoder, source=first.source, n_tokens=first.n_tokens
        )
    out, runtime = _start(cfg, out, resume)
    torch.manual_seed(cfg.seed)
    vlm, features = _build(cfg)
    # named_parameters lists a tied weight (SmolLM2's embedding = output layer) once, so it moves once
    original = (
        {k: v.detach().clone() for k, v in vlm.base.named_parameters()} if cfg.method == "wise" else None
    )
    vlm = _prepare(vlm, cfg)
    items = []
    if cfg.captions is not None:
        items += load_captions(cfg.captions, "train", cfg.limit, cfg.seed)
    if cfg.vqa is not None:
        items += load_vqa(cfg.vqa, "train", cfg.limit, cfg.seed)
    n_tokens = vlm.n_image_tokens
    features.cache_dir = Path(cache_dir) if cache_dir is not None else None
    features.add([e.image for e in items], progress=progress)
    sequences = [encode_episode(vlm.tokenizer, [], e, n_tokens, vlm.context_length) for e in items]
    text = []
    if cfg.method in ("rehearsal", "distill"):
        half = len(items) // 2 + 1
        text = icl_episodes(vlm.tokenizer, half, 2, vlm.context_length, cfg.seed) + prose_chunks(
            vlm.tokenizer, "train", half, 48, cfg.seed
        )
        random.Random(cfg.seed).shuffle(text)

    def make_batches(epoch, batches):
        for b in batches:
            batch = collate([sequences[i] for i in b], vlm.pad_id)
            yield (batch, collate([text[i % len(text)] for i in b], vlm.pad_id)) if text else (batch,)

    trainable = _trainable(vlm, cfg.method)
    result = optimise(
        trainable,
        _Step(vlm, features, cfg.method, cfg.text_weight),
        len(sequences),
        make_batches,
        _schedule(cfg),
        runtime,
        out,
        cfg.to_dict(),
        cfg.seed,
        resume=resume,
        progress=progress,
        desc=f"attach ({cfg.method})",
    )
    if original is not None:  # WiSE-FT: halfway between the original and the fine-tuned LM
        with torch.no_grad():
            for name, p in vlm.base.named_parameters():
                p.copy_(0.5 * (p + original[name]))
        state = load_checkpoint(RunDir(out).checkpoint)
        state["model"] = trainable.state_dict()
        save_checkpoint(RunDir(out).checkpoint, state)
    return result


def load_lm_run_config(run: str | Path) -> LMRunConfig:
    """The :class:`LMRunConfig` a run was trained with."""
    return LMRunConfig(**load_checkpoint(run)["config"])
