"""A cross-style evaluation set: Twemoji images (npm ``emoji-datasource-twitter``) with English CLDR captions.

Twemoji (Twitter's emoji art, CC-BY 4.0, https://github.com/jdecked/twemoji) draws the same
emojis as OpenMoji in another style. Images and captions are paired and split exactly as OpenMoji
(:func:`ashnet.data.openmoji.emoji_split`), so a model trained on OpenMoji ``train`` and evaluated
on Twemoji ``val``/``test`` meets concepts it never saw, drawn in a style it never saw.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from importlib.metadata import version
from pathlib import Path

import emoji
from PIL import Image
from tqdm import tqdm

from ashnet.data.images import open_image
from ashnet.data.openmoji import _is_flag, _readable, _remove_stale_images, emoji_split
from ashnet.data.table import SPLITS
from ashnet.files import write_atomic

logger = logging.getLogger(__name__)

NPM_PACKAGE = "emoji-datasource-twitter@16.0.0"
BUILDER_VERSION = 1
NATIVE_SIZE = 64  # the package's largest single images: img/twitter/64/*.png
ATTRIBUTION = "Twemoji graphics by Twitter, Inc. and other contributors, licensed under CC-BY 4.0"


def default_source() -> Path:
    """Where ``make cross-style`` installs the package (``<venv>/share/ashnet/node_modules/...``)."""
    return Path(sys.prefix) / "share" / "ashnet" / "node_modules" / "emoji-datasource-twitter"


def _how_to_get(source: Path) -> str:
    return (
        f"Twemoji not found at {source}: run `make cross-style` (npm install --prefix "
        f"{Path(sys.prefix) / 'share' / 'ashnet'} {NPM_PACKAGE}) or pass --source DIR of that package"
    )


def build_twemoji(
    out_dir: str | Path,
    size: int = NATIVE_SIZE,
    source: str | Path | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> Path:
    """Write ``out_dir/images/<code points>.png`` (RGB on white, ``size`` px) and ``out_dir/pairs.csv``.

    Every emoji of the package's ``emoji.json`` (skin-tone variants included) that has a Twemoji
    image and that the ``emoji`` package names becomes one row: the image, its English name made
    readable as in OpenMoji, and its split from :func:`~ashnet.data.openmoji.emoji_split`. The
    package's images are 64 px; another ``size`` resamples them (LANCZOS), and a size above 64
    adds no detail. Cached like :func:`~ashnet.data.build_openmoji` (a manifest records the
    arguments and versions).

    Raises
    ------
    FileNotFoundError
        The package is not at ``source`` (default :func:`default_source`); the message says how
        to install it.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    source = Path(source) if source is not None else default_source()
    listing = source / "emoji.json"
    if not listing.is_file():
        raise FileNotFoundError(_how_to_get(source))
    out_dir = Path(out_dir)
    pairs, manifest_path, images_dir = out_dir / "pairs.csv", out_dir / "manifest.json", out_dir / "images"
    package = json.loads((source / "package.json").read_text(encoding="utf-8"))["version"]
    key = {
        "builder": BUILDER_VERSION,
        "size": size,
        "limit": limit,
        "twemoji": package,
        "emoji": version("emoji"),
    }
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        manifest = None
    if manifest and manifest.get("key") == key and pairs.is_file():
        if sum(1 for _ in images_dir.glob("*.png")) == manifest.get("n_images"):
            return pairs
    manifest_path.unlink(missing_ok=True)
    images_dir.mkdir(parents=True, exist_ok=True)
    entries = _entries(json.loads(listing.read_text(encoding="utf-8")))[:limit]
    rows = []
    for text, file in tqdm(entries, desc="Twemoji", unit="emoji", disable=not progress):
        path = source / "img" / "twitter" / str(NATIVE_SIZE) / file
        if not path.is_file():
            continue
        image = open_image(path)
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        name = "-".join(f"{ord(c):X}" for c in text)
        png = io.BytesIO()
        image.save(png, format="PNG")
        write_atomic(images_dir / f"{name}.png", png.getvalue())
        caption = _readable(emoji.EMOJI_DATA[text]["en"])
        rows.append(
            (f"images/{name}.png", f"flag of {caption}" if _is_flag(text) else caption, emoji_split(text))
        )
    _remove_stale_images(images_dir, {row[0] for row in rows})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([("image", "caption", "split"), *rows])
    write_atomic(pairs, buffer.getvalue().encode("utf-8"))
    summary = {
        "key": key,
        "n_images": len(rows),
        "splits": {s: sum(row[2] == s for row in rows) for s in SPLITS},
        "attribution": ATTRIBUTION,
    }
    write_atomic(manifest_path, json.dumps(summary, indent=1).encode("utf-8"))
    logger.info("Twemoji: %d images in %s", len(rows), out_dir)
    return pairs


def _entries(listing: list[dict]) -> list[tuple[str, str]]:
    """``(emoji text, image file)`` of every entry and skin-tone variation the ``emoji`` package names."""
    found = {}
    for entry in listing:
        for item in [entry, *entry.get("skin_variations", {}).values()]:
            if not item.get("has_img_twitter"):
                continue
            text = "".join(chr(int(part, 16)) for part in item["unified"].split("-"))
            if text in emoji.EMOJI_DATA and text not in found:
                found[text] = item["image"]
    return sorted(found.items())
