"""``ashnet pretrain-stua``: pre-train the spiking encoder from captions alone (STUA)."""

from __future__ import annotations

import argparse

from .arguments import add_run, resolve_config

EPILOG = """\
examples:
  ashnet pretrain-stua --config demo --data data/openmoji/pairs.csv --out runs/stua
  ashnet pretrain-stua --config demo --data captions.txt --out runs/stua --set stua.steps=500
  ashnet train --config demo --data data/openmoji/pairs.csv --out runs/ashnet --init runs/stua/checkpoint.pt

--data is a pairs file (its training captions are used) or a .txt file with one caption per line.
Steps, learning rate and batch size come from the config's `stua` section.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrain-stua",
        help="pre-train the spiking encoder from captions alone",
        description="STUA (spiking-to-text uni-alignment): feed caption token features through a small "
        "adapter into the spiking encoder and align its output with the text embedding.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..run import RunDir
    from ..training import pretrain_stua
    from ..training.runtime import stop_runtime

    result = pretrain_stua(
        resolve_config(args), args.data, args.out, resume=args.resume, cache_dir=args.cache_dir
    )
    if not stop_runtime():
        return 0  # under torchrun only rank 0 reports
    loss = result.get("losses", {}).get("stua")
    print(
        f"pre-trained {result['step']} steps in {result['train_s']:.1f} s (stua loss {loss:.3f}); "
        f"start training with --init {RunDir(args.out).checkpoint}"
    )
    return 0
