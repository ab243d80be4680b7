"""Command-line arguments that several ``ashnet`` subcommands share, declared once, and what they read."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data import SPLITS

__all__ = [
    "add_cache_dir",
    "add_checkpoint",
    "add_data",
    "add_keys",
    "add_lang",
    "languages",
    "add_split",
    "add_overrides",
    "add_run",
    "chosen_keys",
    "key_overrides",
    "resolve_config",
    "read_images",
]

# The column-name options and the ``data.*`` config keys they set.
KEY_OPTIONS = {"image": "image_key", "caption": "caption_key", "split": "split_key"}


def add_checkpoint(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint``: the trained run to load (eval, export, energy, viz)."""
    parser.add_argument("--checkpoint", required=True, help="run directory or checkpoint file")


def add_split(parser: argparse.ArgumentParser) -> None:
    """``--split``: which split of the pairs file to use (default test)."""
    parser.add_argument("--split", default="test", choices=list(SPLITS), help="default: test")


def add_lang(parser: argparse.ArgumentParser, help: str) -> None:
    """``--lang``: caption language(s), read by :func:`languages`."""
    parser.add_argument("--lang", metavar="LANGS", help=help)


def languages(spec: str, every: list[str]) -> list[str]:
    """The codes ``--lang`` names: a code (``sw``), a comma list (``en,ja,sw,ur``) or ``all`` (``every``)."""
    if spec == "all":
        return list(every)
    codes = [code.strip() for code in spec.split(",")]
    if not all(codes):
        raise ValueError(f"--lang {spec!r}: give language codes separated by commas, e.g. en,sw")
    return list(dict.fromkeys(codes))


def add_keys(parser: argparse.ArgumentParser, from_run: bool = False) -> None:
    """``--image-key``, ``--caption-key``, ``--split-key``: the pairs file's column names
    (``from_run``: they default to the run config's ``data.*_key``)."""
    for name, field in KEY_OPTIONS.items():
        default = f"the run's data.{field}" if from_run else name
        parser.add_argument(
            f"--{name}-key",
            dest=field,
            metavar="COLUMN",
            help=f"column (JSON-lines key) holding the {name} (default: {default})",
        )


def chosen_keys(args: argparse.Namespace, defaults: dict[str, str] | None = None) -> dict[str, str]:
    """The column names for ``load_pairs``: ``defaults`` (a config's ``data.keys``) with the options given."""
    keys = dict(defaults or {})
    keys.update({field: getattr(args, field) for field in KEY_OPTIONS.values() if getattr(args, field)})
    return keys


def key_overrides(args: argparse.Namespace) -> list[str]:
    """The key options given, as ``--set data.<key>=...`` overrides of a run's config."""
    return [f"data.{field}={value}" for field, value in chosen_keys(args).items()]


def add_data(parser: argparse.ArgumentParser, required: bool = True, max_images: bool = False) -> None:
    """``--data``, ``--split`` and the column options (defaulting to the trained run's), and
    ``--max-images`` for commands that run a few real images."""
    parser.add_argument("--data", required=required, help="pairs file (.csv/.tsv/.jsonl/COCO .json)")
    add_split(parser)
    if max_images:
        parser.add_argument(
            "--max-images", type=int, default=32, help="use at most this many images (default 32)"
        )
    add_keys(parser, from_run=True)


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): override a config key."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. train.lr=1e-4 (repeatable)",
    )


def add_run(parser: argparse.ArgumentParser) -> None:
    """The options of commands that write a run directory (train, pretrain-stua)."""
    parser.add_argument(
        "--config", help="packaged config name or YAML file (default with --resume: RUN/config.yaml)"
    )
    parser.add_argument("--data", required=True, help="pairs file (.csv/.tsv/.jsonl/COCO .json)")
    parser.add_argument("--out", required=True, type=Path, help="run directory to write")
    add_overrides(parser)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument("--init", help="start from the matching weights of this checkpoint (sets train.init)")
    add_cache_dir(parser)
    add_keys(parser, from_run=True)


def add_cache_dir(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir``: where frozen-encoder features are kept and shared between runs."""
    parser.add_argument(
        "--cache-dir", type=Path, help="keep frozen-encoder features here, to reuse them across runs"
    )


def resolve_config(args):
    """The config ``add_run`` options name: --config (the run's own on --resume), --set, --init and
    the column options."""
    from ..config import load_config
    from ..run import RunDir

    source = args.config
    if source is None:
        if not args.resume:
            raise ValueError("--config is required (a packaged name such as 'demo', or a YAML file)")
        source = RunDir(args.out).config
    overrides = list(args.set) + ([f"train.init={args.init}"] if args.init else []) + key_overrides(args)
    return load_config(source, overrides)


def read_images(args, data):
    """``(images [B, 3, S, S], table)`` of the first ``--max-images`` images of ``--split`` of ``--data``.

    ``data``: the run's data config (image size, and the column names unless options give others).
    """
    import torch

    from ..data import ImageTextDataset, load_pairs

    if args.max_images < 1:
        raise ValueError(f"--max-images must be at least 1, got {args.max_images}")
    table = load_pairs(args.data, **chosen_keys(args, data.keys)).split(args.split)
    if not table.images:
        raise ValueError(f"{args.data} has no images in split {args.split!r}")
    dataset = ImageTextDataset(table, image_size=data.image_size)
    n = min(len(dataset), args.max_images)
    return torch.stack([dataset[i][0] for i in range(n)]), table
