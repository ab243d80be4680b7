"""``ashnet data``: build the built-in datasets (OpenMoji, scenes) and check image-caption files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ashnet.data import SPLITS, build_easy_vqa, build_openmoji, build_scenes, load_manifest, load_pairs
from ashnet.data.formats import EXPECTED_COLUMNS, ON_BAD_ROW

from .arguments import add_keys, chosen_keys

# How many bad rows `ashnet data check` lists before "... and N more".
LISTED_BAD_ROWS = 10

CHECK_EPILOG = """\
examples:
  ashnet data check data/openmoji/pairs.csv
  ashnet data check 'shards/{000000..000009}.tar'     # WebDataset shards (quote the braces)
  ashnet data check cc3m.tsv --image-key filepath --caption-key title --verify-images
  ashnet data check laion.jsonl --image-key path --caption-key TEXT
"""

BUILD_EPILOG = """\
examples:
  ashnet data build openmoji --out data/openmoji                # 64 px emoji, pairs.csv
  ashnet data build scenes --out data/scenes                    # 3000 scenes of 128 px, scenes.json
  ashnet data build scenes --out data/scenes --openmoji data/openmoji --n-scenes 6000 --seed 1
  ashnet data build scenes --out /tmp/s --n-scenes 200 --limit 400   # a quick small set
  ashnet data build easy-vqa --out data/easy-vqa                 # easy_vqa.json from PyPI easy-vqa

scenes: canvases of 1-6 OpenMoji emoji at known boxes; OUT/scenes.json (COCO style) holds the
images with their split, captions, boxes with phrases, and examples for the tasks itm, vqa, ve,
nlvr2, grounding and count. Test scenes hold only test emoji (the OpenMoji split). It is also a
pairs file: `ashnet train --data OUT/scenes.json` trains retrieval on the captions.
easy-vqa: the 4,000 + 1,000 shape images and their questions (13 answers) as OUT/easy_vqa.json,
with every tenth train image held out as val; read it with --task vqa like the scenes.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="build the built-in OpenMoji, scenes or easy-VQA data, or check a pairs file",
        description="Build the built-in OpenMoji, scenes or easy-VQA data, or check an image-caption file.",
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    build = actions.add_parser(
        "build",
        help="build a built-in dataset",
        description="Render a built-in dataset to OUT/images/*.png and OUT/pairs.csv (openmoji), "
        "OUT/scenes.json (scenes) or OUT/easy_vqa.json (easy-vqa); cached: rerunning with the same "
        "arguments does nothing.",
        epilog=BUILD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument(
        "name",
        choices=["openmoji", "scenes", "twemoji", "easy-vqa"],
        help="openmoji (training data), scenes, twemoji (a cross-style evaluation set, npm package) "
        "or easy-vqa",
    )
    build.add_argument("--out", required=True, help="output directory")
    build.add_argument(
        "--size", type=int, help="image side in pixels (default: 64 for openmoji, 128 for scenes)"
    )
    build.add_argument("--limit", type=int, help="only the first N emojis (quick tries)")
    scenes = build.add_argument_group("scenes")
    scenes.add_argument("--n-scenes", type=int, default=3000, help="number of scenes (default: 3000)")
    scenes.add_argument("--seed", type=int, default=0, help="seed of the layouts and texts (default: 0)")
    scenes.add_argument(
        "--openmoji", help="OpenMoji folder to build or reuse for the emoji (default: OUT/openmoji)"
    )
    build.add_argument(
        "--source",
        help="twemoji: folder of the emoji-datasource-twitter package (default: `make cross-style`'s)",
    )
    build.set_defaults(run=run_build)

    check = actions.add_parser(
        "check",
        help="validate a pairs file and count images, captions, splits and bad rows",
        description=f"Read a pairs file (CSV/TSV with {EXPECTED_COLUMNS}, JSON-lines, "
        "or COCO-captions / Karpathy JSON) and report what it holds. Other columns are ignored and "
        "listed; columns with other names are chosen with --image-key, --caption-key, --split-key.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("file", help="pairs file, or WebDataset shards such as 'shards/{000000..000009}.tar'")
    add_keys(check)
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

    convert = actions.add_parser(
        "convert",
        help="write a pairs file as WebDataset tar shards",
        description="Write the images and captions of a pairs file as WebDataset tar shards "
        "(KEY.png|jpg|webp, KEY.txt: the first caption, KEY.json: every caption, the split and other "
        "languages). Images are checked first; bad rows are skipped and counted.",
        epilog=CONVERT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument("file", help="pairs file")
    convert.add_argument("--to", required=True, choices=["webdataset"], help="output format")
    convert.add_argument("--out", required=True, type=Path, help="folder for the shards (new or empty)")
    convert.add_argument(
        "--samples-per-shard", type=int, default=1000, help="images per tar file (default: 1000)"
    )
    add_keys(convert)
    convert.set_defaults(run=run_convert)


def run_build(args: argparse.Namespace) -> int:
    if args.name == "scenes":
        return _build_scenes(args)
    if args.name == "easy-vqa":
        if args.size is not None or args.limit is not None:
            raise ValueError("--size and --limit do not apply to easy-vqa (its images are 64 px)")
        path = build_easy_vqa(args.out)
        manifest = load_manifest(args.out)
        splits = ", ".join(f"{name} {count}" for name, count in manifest["splits"].items())
        print(f"{path}: {manifest['n_images']} images ({splits}), {manifest['tasks']['vqa']} questions")
        return 0
    if args.n_scenes != 3000 or args.seed != 0 or args.openmoji is not None:
        raise ValueError("--n-scenes, --seed and --openmoji apply to 'scenes' only")
    args.size = 64 if args.size is None else args.size
    start = time.perf_counter()
    if args.name == "twemoji":
        from ashnet.data.twemoji import ATTRIBUTION, build_twemoji

        pairs = build_twemoji(args.out, size=args.size, source=args.source, limit=args.limit)
        manifest = json.loads((pairs.parent / "manifest.json").read_text(encoding="utf-8"))
        splits = ", ".join(f"{name} {count}" for name, count in manifest["splits"].items())
        seconds = time.perf_counter() - start
        print(f"{pairs}: {manifest['n_images']} images ({splits}), {args.size}px, {seconds:.1f} s")
        print(ATTRIBUTION)
        return 0
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


def _build_scenes(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    path = build_scenes(
        args.out,
        n_scenes=args.n_scenes,
        size=128 if args.size is None else args.size,
        seed=args.seed,
        openmoji_dir=args.openmoji,
        emoji_limit=args.limit,
    )
    seconds = time.perf_counter() - start
    manifest = load_manifest(args.out)
    splits = ", ".join(f"{name} {count}" for name, count in manifest["splits"].items())
    tasks = ", ".join(f"{name} {count}" for name, count in manifest["tasks"].items())
    odd = manifest["tasks"].get("unrelated", 0)
    print(f"{path}: {manifest['n_images']} scenes ({splits}; {odd} of them odd-one-out), {seconds:.1f} s")
    print(f"examples: {tasks}")
    return 0


CONVERT_EPILOG = """\
examples:
  ashnet data convert data/openmoji/pairs.csv --to webdataset --out data/openmoji-shards
  ashnet data convert cc3m.tsv --image-key filepath --caption-key title --to webdataset --out shards/
  ashnet train --config demo --data 'data/openmoji-shards/{000000..000004}.tar' --out runs/shards

Every command that takes --data reads the shards it prints (train, eval, data check, export, ...).
"""


def run_convert(args: argparse.Namespace) -> int:
    from ashnet.data.shards import shard_spec, write_shards

    if args.samples_per_shard < 1:
        raise ValueError(f"--samples-per-shard must be at least 1, got {args.samples_per_shard}")
    if args.out.is_dir() and any(args.out.glob("*.tar")):
        raise ValueError(f"{args.out} already holds .tar files; pick a new or empty folder")
    table = load_pairs(args.file, verify_images=True, **chosen_keys(args))
    shards = write_shards(table, args.out, args.samples_per_shard)
    counts = f"{len(table)} images, {table.n_captions} captions"
    print(f"wrote {counts} in {len(shards)} shard(s): {shard_spec(shards)}")
    if table.bad_rows:
        print(f"skipped {len(table.bad_rows)} bad row(s); `ashnet data check {args.file}` lists them")
    return 0


def run_check(args: argparse.Namespace) -> int:
    table = load_pairs(
        args.file, on_bad_row=args.on_bad_row, verify_images=args.verify_images, **chosen_keys(args)
    )
    print(f"{args.file}: {len(table)} images, {table.n_captions} captions")
    if table.ignored_columns:
        print(f"ignored columns: {', '.join(table.ignored_columns)}")
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
