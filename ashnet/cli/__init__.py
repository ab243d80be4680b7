"""The ``ashnet`` command line: one module per subcommand, each with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules inside ashnet.cli, in the order --help lists them.
COMMANDS = [
    "data",
    "config",
    "train",
    "pretrain_stua",
    "finetune",
    "eval",
    "compare",
    "lm",
    "demo",
    "export",
    "energy",
    "viz",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ashnet",
        description="ASH-Nets: hybrid ANN + SNN vision-language models. "
        "Run `ashnet demo` for a full train-and-evaluate run on the built-in OpenMoji data.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        # Bad input: one clear line, no traceback.
        print(f"ashnet {args.command}: error: {err}", file=sys.stderr)
        return 2
