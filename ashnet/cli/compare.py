"""``ashnet compare``: models trained over several seeds, mean ± sd and paired bootstrap intervals."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..run import RunDir
from .arguments import add_cache_dir, add_lang, add_split, languages

EPILOG = """\
examples:
  ashnet compare runs/demo/seed*/* --data runs/demo/data/pairs.csv
  ashnet compare runs/s*/ashnet runs/s*/baseline runs/s*/twin --reference ashnet \\
      --data openmoji=data/openmoji/pairs.csv --data twemoji=data/twemoji/pairs.csv
  ashnet compare runs/s*/* --data pairs.csv --ensemble baseline+baseline2 --json
  ashnet compare runs/s*/all4 runs/s*/en --reference all4 --data data/openmoji/pairs.csv --lang ja,sw,ur

Runs are grouped by their folder name (runs/s0/ashnet and runs/s1/ashnet form the group
'ashnet') and matched across groups by their parent folder (one per seed). --ensemble A+B adds
the group 'ensemble' whose member for each parent folder averages the similarity matrices of its
A and B runs. Each group gets R@1 (image to text, text to image, and their mean) as mean ± sd
over its runs; with --reference, each other group gets the difference reference - group of the
seed-averaged mean R@1 and its 95 % paired bootstrap interval over the evaluation images.
Embeddings are stored in RUN/embeddings/, so comparing again is quick.
--lang ranks the captions of other languages (the caption_<lang> columns, as in `ashnet eval
--lang`) over the images that have one; each language gets its own table (JSON key SET/LANG).
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare runs over seeds: mean ± sd and paired bootstrap intervals",
        description="Compare trained models over seeds on one or more evaluation sets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (grouped by folder name)")
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="[NAME=]PAIRS",
        help="evaluation pairs file, optionally named (repeatable); default name: its folder",
    )
    add_split(parser)
    add_lang(
        parser, "caption language(s) to rank: a code (sw), a comma list (en,ja,sw,ur) or all (default: en)"
    )
    parser.add_argument("--reference", help="group whose differences to the others are bootstrapped")
    parser.add_argument(
        "--ensemble", action="append", default=[], metavar="A+B", help="add an ensemble of groups A and B"
    )
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    add_cache_dir(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def eval_sets(specs: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after its folder) to an ordered name -> path mapping."""
    sets: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).parent.name or Path(spec).stem, spec
        if not Path(path).is_file():
            raise FileNotFoundError(f"--data {spec}: no such pairs file")
        if name in sets:
            raise ValueError(f"--data: two evaluation sets are named {name!r}; name them NAME=PATH")
        sets[name] = Path(path)
    return sets


def group_runs(runs: list[Path], ensembles: list[str]) -> dict[str, dict[str, list[Path]]]:
    """``{group: {seed folder: [run, ...]}}``: one run per seed, or the members of an ensemble."""
    groups: dict[str, dict[str, list[Path]]] = {}
    for run in sorted(runs):
        if not RunDir(run).checkpoint.is_file():
            raise FileNotFoundError(f"{run} is not a finished run (no {RunDir.CHECKPOINT})")
        slot = groups.setdefault(run.name, {})
        if run.parent.name in slot:
            raise ValueError(f"two runs named {run.name!r} in {run.parent}")
        slot[run.parent.name] = [run]
    for spec in ensembles:
        members = spec.split("+")
        if len(members) < 2 or any(m not in groups for m in members):
            raise ValueError(
                f"--ensemble {spec}: give two or more run groups joined by '+' ({', '.join(groups)})"
            )
        seeds = set.intersection(*(set(groups[m]) for m in members))
        if not seeds:
            raise ValueError(f"--ensemble {spec}: no parent folder holds all of {members}")
        groups["ensemble"] = {s: [groups[m][s][0] for m in members] for s in sorted(seeds)}
    return groups


def run(args) -> int:
    from .. import compare
    from ..data import MAIN_LANGUAGE, load_pairs

    sets = eval_sets(args.data)
    groups = group_runs(args.runs, args.ensemble)
    if args.reference is not None and args.reference not in groups:
        raise ValueError(f"--reference {args.reference!r} is not a run group ({', '.join(groups)})")
    result, tables = {}, []
    for set_name, pairs in sets.items():
        every = [MAIN_LANGUAGE, *load_pairs(pairs).languages] if args.lang == "all" else []
        for language in [MAIN_LANGUAGE] if args.lang is None else languages(args.lang, every):
            hits = {
                name: [
                    compare.ensemble_hits(members, pairs, args.split, args.cache_dir, language)
                    if len(members) > 1
                    else compare.run_hits(members[0], pairs, args.split, args.cache_dir, language)
                    for members in slots.values()
                ]
                for name, slots in groups.items()
            }
            key = set_name if args.lang is None else f"{set_name}/{language}"
            result[key] = compare.compare_groups(hits, args.reference, args.resamples)
            title = (
                f"{set_name} ({args.split})"
                if args.lang is None
                else f"{set_name} ({args.split}, {language})"
            )
            tables.append(f"## {title}\n\n" + compare.table(result[key], args.reference))
    if args.json:
        print(json.dumps(result))
    else:
        print("\n\n".join(tables))
    return 0
