"""Benchmark: one training step of ASH-Net's trainable part against the ANN-only baseline's, side by side.

Both models are built from their packaged configs (``--config demo``, ``--baseline baseline``),
with the frozen image and text encoders run once on a batch of random images and captions, as
``ashnet train`` caches their features. A step is what the training loop does per batch: the
losses of :class:`ashnet.training.image_text.ContrastiveStep`, the finiteness check,
``zero_grad``, ``backward``, gradient clipping and the AdamW step. Rounds time one step of each
model in turn, so a load change on a shared machine hits both alike; the ratio of the medians
(and of the fastest rounds) is the figure. ``--profile`` adds the hybrid's top operators by self
CPU time. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import torch
from common import CLOCK_HELP, CLOCKS, load_verdict, machine, summarize, write_report
from torch import nn
from tqdm import tqdm

from ashnet.config import load_config
from ashnet.models import build_model
from ashnet.training.image_text import ContrastiveStep
from ashnet.training.optim import build_optimizer


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="demo", help="the hybrid's config (packaged name or YAML file)")
    ap.add_argument("--baseline", default="baseline", help="the ANN-only baseline's config")
    ap.add_argument("--batch", type=int, help="batch size (default: the hybrid config's data.batch_size)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    ap.add_argument("--clock", default="wall", choices=sorted(CLOCKS), help=CLOCK_HELP)
    ap.add_argument("--profile", action="store_true", help="print the hybrid step's top operators")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train_step.json")
    return ap.parse_args(argv)


class Trainer:
    """One model's training step on fixed cached features, as ``ashnet.training.loop.optimise`` does it."""

    def __init__(self, config, concrete, text):
        torch.manual_seed(config.seed)
        self.model = build_model(config.model)
        self.model.train()
        self.step_module = ContrastiveStep(self.model, config.loss)
        self.optimizer = build_optimizer(self.model, config.train.lr, config.train.weight_decay)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.grad_clip = config.train.grad_clip
        self.batch = (concrete, text)

    def step(self) -> float:
        losses = self.step_module(*self.batch)
        total = losses["total"]
        if not torch.isfinite(total):
            raise FloatingPointError("the loss became non-finite")
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.trainable, self.grad_clip)
        self.optimizer.step()
        return float(total.detach())


def cached_features(config, batch: int):
    """What ``ashnet train`` caches for one batch: frozen image-backbone and text-model outputs."""
    torch.manual_seed(0)
    model = build_model(config.model).eval()
    if not (model.frozen_concrete and model.frozen_text):
        raise ValueError("the benchmark times the trainable part on cached features: freeze both encoders")
    size = config.data.image_size
    words = ["red", "heart", "smiling", "face", "with", "a", "blue", "cat", "and", "star", "hands"]
    g = torch.Generator().manual_seed(0)
    captions = [
        " ".join(words[i] for i in torch.randint(len(words), (6,), generator=g)) for _ in range(batch)
    ]
    with torch.no_grad():
        concrete = model.encode_concrete(torch.rand(batch, 3, size, size, generator=g))
        text = model.encode_text_features(captions)

    # the feature cache stores and indexes contiguous copies (ashnet.training.features); fields a
    # model does not produce (the level grid without model.abstract.stages) stay None
    def contiguous(features):
        return type(features)(*(None if t is None else t.contiguous() for t in features))

    return contiguous(concrete), contiguous(text)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    hybrid_cfg, baseline_cfg = load_config(args.config), load_config(args.baseline)
    batch = args.batch or hybrid_cfg.data.batch_size
    concrete, text = cached_features(hybrid_cfg, batch)
    trainers = {
        "ashnet": Trainer(hybrid_cfg, concrete, text),
        "baseline": Trainer(baseline_cfg, concrete, text),
    }
    params = {n: sum(p.numel() for p in t.trainable) for n, t in trainers.items()}
    times = {name: [] for name in trainers}
    clock = CLOCKS[args.clock]
    load_before = os.getloadavg()
    for r in tqdm(range(args.warmup + args.repeats), desc="rounds", disable=None):
        for name, trainer in trainers.items():
            t0 = clock()
            trainer.step()
            if r >= args.warmup:
                times[name].append(clock() - t0)
    load_after = os.getloadavg()
    results = {name: summarize(values) | {"trainable_params": params[name]} for name, values in times.items()}
    ratio = results["ashnet"]["median_ms"] / results["baseline"]["median_ms"]
    ratio_min = results["ashnet"]["min_ms"] / results["baseline"]["min_ms"]
    tokens = tuple(concrete.tokens.shape)
    print(
        f"\ntraining step on cached features, config {args.config!r} vs {args.baseline!r}, batch {batch}, "
        f"image tokens {tokens}, {args.threads} threads, {args.repeats} rounds, {args.clock} clock"
    )
    print(load_verdict(load_before, load_after))
    for name, res in results.items():
        print(
            f"{name:9s} median {res['median_ms']:8.2f} ms [{res['p25_ms']:.1f}-{res['p75_ms']:.1f}]  "
            f"fastest {res['min_ms']:8.2f} ms  trainable parameters {res['trainable_params']:,}"
        )
    print(f"ashnet / baseline: {ratio:.2f}x (medians), {ratio_min:.2f}x (fastest rounds)")
    if args.profile:
        with torch.profiler.profile() as prof:
            for _ in range(5):
                trainers["ashnet"].step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    report = {
        "config": vars(args) | {"out": str(args.out), "batch": batch, "image_tokens": tokens},
        "machine": machine("cpu", load_before, load_after),
        "results": results,
        "ratio_median": ratio,
        "ratio_fastest": ratio_min,
    }
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
