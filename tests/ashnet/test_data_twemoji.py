"""The Twemoji cross-style set: rows from emoji.json with skin tones, the shared split, cache, no source."""

import json

import pytest
from PIL import Image

from ashnet.cli import main
from ashnet.data import load_pairs
from ashnet.data.openmoji import emoji_split
from ashnet.data.twemoji import build_twemoji


def fake_package(root):
    """A tiny emoji-datasource-twitter: thumbs up (+ one tone), a cat, and an entry without image."""
    images = root / "img" / "twitter" / "64"
    images.mkdir(parents=True)
    listing = [
        {
            "unified": "1F44D",
            "image": "1f44d.png",
            "has_img_twitter": True,
            "skin_variations": {
                "1F3FD": {"unified": "1F44D-1F3FD", "image": "1f44d-1f3fd.png", "has_img_twitter": True}
            },
        },
        {"unified": "1F431", "image": "1f431.png", "has_img_twitter": True},
        {"unified": "1F600", "image": "1f600.png", "has_img_twitter": False},
    ]
    (root / "emoji.json").write_text(json.dumps(listing))
    (root / "package.json").write_text(json.dumps({"version": "16.0.0"}))
    for name in ("1f44d.png", "1f44d-1f3fd.png", "1f431.png"):
        Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(images / name)  # transparent: becomes white
    return root


def test_build_rows_split_and_cache(tmp_path):
    source = fake_package(tmp_path / "pkg")
    pairs = build_twemoji(tmp_path / "out", size=32, source=source, progress=False)
    table = load_pairs(pairs, on_bad_row="error", verify_images=True)
    captions = sorted(r.captions[0] for r in table.images)
    assert captions == ["cat face", "thumbs up", "thumbs up medium skin tone"]
    for record in table.images:
        with Image.open(record.path) as image:
            assert (
                image.size == (32, 32) and image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)
            )
        text = "".join(chr(int(p, 16)) for p in record.path.stem.split("-"))
        assert record.split == emoji_split(text)
    stamp = pairs.stat().st_mtime_ns
    assert build_twemoji(tmp_path / "out", size=32, source=source, progress=False) == pairs
    assert pairs.stat().st_mtime_ns == stamp  # cached


def test_missing_package_says_how_to_get_it(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="make cross-style"):
        build_twemoji(tmp_path / "out", source=tmp_path / "nowhere")
    assert (
        main(["data", "build", "twemoji", "--out", str(tmp_path / "o"), "--source", str(tmp_path / "x")]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("ashnet data: error: Twemoji not found") and "\n" not in err


def test_cli_build(tmp_path, capsys):
    source = fake_package(tmp_path / "pkg")
    assert main(["data", "build", "twemoji", "--out", str(tmp_path / "o"), "--source", str(source)]) == 0
    printed = capsys.readouterr().out
    assert "3 images" in printed and "CC-BY 4.0" in printed
