"""``ashnet demo``: train ASH-Net and the ANN-only baseline on OpenMoji and compare them."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  ashnet demo                              # about 10 minutes on 2 CPU cores, writes runs/demo/
  ashnet demo --out /tmp/demo --data data/openmoji
  ashnet demo --quick                      # tiny models and a few steps, to check the install

Steps: build OpenMoji (cached), pre-train the spiking encoder on captions (STUA), train ASH-Net,
train the ANN-only baseline with the same budget, evaluate both on the test split, then print the
table and write OUT/report.md, OUT/curves.png and OUT/comparison.png.
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train ASH-Net and the ANN baseline on OpenMoji and compare",
        description="End-to-end demo on the built-in OpenMoji data: ASH-Net against its ANN-only baseline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)"
    )
    parser.add_argument(
        "--data", type=Path, help="OpenMoji folder (built there if it has no pairs.csv; default OUT/data)"
    )
    parser.add_argument(
        "--config", default="demo", help="ASH-Net config, packaged name or YAML (default demo)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny config and 300 emojis: a smoke test in about a minute"
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..demo import run_demo

    config, limit = ("tiny", 300) if args.quick else (args.config, None)
    result = run_demo(args.out, args.data, config, args.set, limit=limit)
    print(result["table"])
    print(f"\ndemo took {result['total_s']:.0f} s; report: {args.out / 'report.md'}")
    return 0
