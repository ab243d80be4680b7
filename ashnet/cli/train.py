"""``ashnet train``: train ASH-Net (or the ANN-only baseline) on an image-caption file."""

from __future__ import annotations

import argparse

from .arguments import add_run, resolve_config

EPILOG = """\
examples:
  ashnet train --config demo --data data/openmoji/pairs.csv --out runs/ashnet
  ashnet train --config my.yaml --data pairs.csv --out runs/a --set train.max_steps=200 --set train.lr=5e-4
  ashnet train --data pairs.csv --out runs/a --resume         # continue an interrupted run
  ashnet train --config demo --data pairs.csv --out runs/b --init runs/stua/checkpoint.pt
  ashnet train --config demo --data cc3m.tsv --image-key filepath --caption-key title --out runs/c
  ashnet train --config demo --data pairs.csv --out runs/c --set stua.steps=200   # STUA stage first
  torchrun --nproc_per_node 2 -m ashnet train --config demo --data pairs.csv --out runs/ddp

The run directory gets config.yaml (resolved), checkpoint.pt, metrics.jsonl and tb/ (TensorBoard).
With stua.steps > 0 (and the spiking branch) STUA pre-training on the training captions runs first,
as its own run directory RUN/stua, and training starts from its weights.
--config takes a packaged name (see `ashnet config list`) or a YAML file.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train on image-caption pairs",
        description="Train ASH-Net with the objectives of the config on the 'train' split; "
        "evaluate on 'val' during training. Frozen encoders are cached once.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..training import train
    from ..training.runtime import stop_runtime

    result = train(resolve_config(args), args.data, args.out, resume=args.resume, cache_dir=args.cache_dir)
    if not stop_runtime():
        return 0  # under torchrun only rank 0 reports
    if "eval" in result:
        ev = result["eval"]
        print(f"val R@1 i2t {ev['i2t_r1']:.1f}  t2i {ev['t2i_r1']:.1f}")
    print(f"trained {result['step']} steps in {result['train_s']:.1f} s; run saved in {args.out}")
    return 0
