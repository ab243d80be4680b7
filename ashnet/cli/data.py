"""``ashnet data``: build the built-in OpenMoji dataset and check image-caption files."""

from __future__ import annotations

import argparse
import time

from ashnet.data import SPLITS, build_openmoji, load_manifest, load_pairs
from ashnet.data.formats import EXPECTED_COLUMNS, ON_BAD_ROW

# How many bad rows `ashnet data check` lists before "... and N more".
LISTED_BAD_ROWS = 10


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="build the built-in OpenMoji data or check a pairs file",
        description="Build the built-in OpenMoji data, or check an image-caption file.",
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    build = actions.add_parser(
        "build",
        help="build a built-in dataset",
        description="Render a built-in dataset to OUT/images/*.png and OUT/pairs.csv "
        "(cached: rerunning with the same arguments does nothing).",
    )
    build.add_argument("name", choices=["openmoji"], help="dataset to build")
    build.add_argument("--out", required=True, help="output directory")
    build.add_argument("--size", type=int, default=64, help="image side in pixels (default: 64)")
    build.add_argument("--limit", type=int, help="only the first N emojis (quick tries)")
    build.set_defaults(run=run_build)

    check = actions.add_parser(
        "check",
        help="validate a pairs file and count images, captions, splits and bad rows",
        description=f"Read a pairs file (CSV/TSV with {EXPECTED_COLUMNS}, JSON-lines, "
        "or COCO-captions / Karpathy JSON) and report what it holds.",
    )
    check.add_argument("file", help="pairs file")
    check.add_argument(
        "--on-bad-row",
        choices=ON_BAD_ROW,
        default="skip",
        help="skip bad rows and list them, or fail with the list (default: skip)",
    )
    check.add_argument(
        "--verify-images", action="store_true", help="also decode every image (finds corrupt files)"
    )
    check.set_defaults(run=run_check)


def run_build(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    pairs = build_openmoji(args.out, size=args.size, limit=args.limit)
    seconds = time.perf_counter() - start
    manifest = load_manifest(args.out)
    splits = ", ".join(f"{name} {count}" for name, count in manifest["splits"].items())
    print(f"{pairs}: {manifest['n_images']} images ({splits}), {args.size}px, {seconds:.1f} s")
    named = ", ".join(f"{lang} {count}" for lang, count in manifest["named"].items())
    print(f"emojis with a name (CLDR) per language: {named}")
    if manifest["n_unrenderable"]:
        print(f"skipped {manifest['n_unrenderable']} emojis the OpenMoji font does not draw")
    return 0


def run_check(args: argparse.Namespace) -> int:
    table = load_pairs(args.file, on_bad_row=args.on_bad_row, verify_images=args.verify_images)
    print(f"{args.file}: {len(table)} images, {table.n_captions} captions")
    for name in SPLITS:
        part = table.split(name)
        print(f"  {name}: {len(part)} images, {part.n_captions} captions")
    if table.languages:
        print(f"  other languages: {', '.join(table.languages)}")
    print(f"bad rows: {len(table.bad_rows)}")
    for row in table.bad_rows[:LISTED_BAD_ROWS]:
        print(f"  {row}")
    if len(table.bad_rows) > LISTED_BAD_ROWS:
        print(f"  ... and {len(table.bad_rows) - LISTED_BAD_ROWS} more")
    return 0
