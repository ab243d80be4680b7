"""Captions in several languages: PairTable.in_languages, data.languages, evaluate_languages, eval --lang."""

import csv
import json

import pytest
import torch

from ashnet.cli import main
from ashnet.config import Config, ConfigError, load_config
from ashnet.data import ImageTextDataset, caption_index, load_pairs
from ashnet.evaluate import ZERO_SHOT_TEMPLATES, evaluate, evaluate_languages, zero_shot_accuracy
from ashnet.models import build_model

SWAHILI = {"red": "nyekundu", "green": "kijani", "blue": "bluu", "orange": "machungwa"}


@pytest.fixture(scope="module")
def multilingual_pairs(tiny_pairs):
    """The tiny pairs with a Swahili caption on every row and a Japanese one on every third image."""
    with tiny_pairs.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = tiny_pairs.parent / "pairs_multilingual.csv"
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "caption", "split", "caption_sw", "caption_ja"])
        seen = []
        for row in rows:
            colour = next(c for c in SWAHILI if c in row["caption"])
            first = row["image"] not in seen
            seen.append(row["image"])
            number = int(row["image"][3:5])
            japanese = f"{number}番の図形" if first and number % 3 == 0 else ""
            writer.writerow(
                [row["image"], row["caption"], row["split"], f"umbo {SWAHILI[colour]} {number}", japanese]
            )
    return out


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return build_model(load_config("tiny").model).eval()


def test_in_languages_pools_captions_and_drops_images_without_any(multilingual_pairs):
    table = load_pairs(multilingual_pairs)
    first = table.images[0]
    assert first.captions_in("en") == first.captions and first.captions_in("sw")[0].startswith("umbo ")
    both = table.in_languages(["en", "sw"])
    assert len(both) == len(table)
    assert both.images[0].captions == first.captions + first.extra["sw"]
    assert table.in_languages(["sw", "en"]).images[0].captions == first.extra["sw"] + first.captions
    japanese = table.in_languages(["ja"])
    assert 0 < len(japanese) < len(table)
    assert all(len(r.captions) == 1 and r.captions[0].endswith("番の図形") for r in japanese.images)
    assert len(table.in_languages(["xx"])) == 0
    with pytest.raises(ValueError, match="at least one language"):
        table.in_languages([])


def test_data_languages_are_validated():
    assert Config.from_dict({"data": {"languages": ["en", "sw"]}}).data.languages == ("en", "sw")
    with pytest.raises(ConfigError, match="'data.languages' must be free of repeats"):
        Config.from_dict({"data": {"languages": ["sw", "sw"]}})
    with pytest.raises(ConfigError, match="'data.languages' must be non-empty"):
        Config.from_dict({"data": {"languages": []}})
    with pytest.raises(ConfigError, match="'data.languages' must be language codes"):
        Config.from_dict({"data": {"languages": ["en", " "]}})


def test_evaluate_languages_scores_each_language_on_its_own_images(tiny_model, multilingual_pairs):
    table = load_pairs(multilingual_pairs).split("train")
    results = evaluate_languages(tiny_model, table, ["en", "sw", "ja"], 16, 5, zero_shot=True, progress=False)
    assert list(results) == ["en", "sw", "ja"]
    plain = evaluate(tiny_model, table, 16, 5, [r.captions[0] for r in table.images], progress=False)
    assert results["en"].i2t == pytest.approx(plain.i2t) and results["en"].t2i == pytest.approx(plain.t2i)
    assert results["en"].zero_shot == pytest.approx(plain.zero_shot)
    assert (results["en"].n_images, results["en"].n_texts) == (len(table), table.n_captions)
    assert (results["sw"].n_images, results["sw"].n_texts) == (len(table), table.n_captions)
    n_ja = sum(bool(r.extra.get("ja")) for r in table.images)
    assert results["ja"].n_images == results["ja"].n_texts == n_ja
    # The Swahili row: its images against its captions, zero-shot with the Swahili prompt.
    sw = table.in_languages(["sw"])
    index = caption_index(sw)
    with torch.no_grad():
        images = torch.stack([ImageTextDataset(sw, 16)[i][0] for i in range(len(sw))])
        embedded = tiny_model.encode_image(images).embedding
    labels = [r.captions[0] for r in sw.images]
    expected = zero_shot_accuracy(tiny_model, embedded, labels, ZERO_SHOT_TEMPLATES["sw"])
    assert results["sw"].zero_shot == pytest.approx(expected)
    assert len(index.texts) == results["sw"].n_texts


def test_evaluate_languages_names_a_missing_language(tiny_model, multilingual_pairs):
    table = load_pairs(multilingual_pairs).split("test")
    with pytest.raises(ValueError, match=r"no captions in \['ur'\]; the table has \['en', 'ja', 'sw'\]"):
        evaluate_languages(tiny_model, table, ["en", "ur"], 16, progress=False)


@pytest.mark.slow
def test_train_on_languages_then_eval_lang(multilingual_pairs, tmp_path, capsys):
    data, run = str(multilingual_pairs), tmp_path / "run"
    args = ["train", "--config", "tiny", "--data", data, "--out", str(run), "--set", "train.max_steps=2"]
    assert main([*args, "--set", "data.languages=[en, sw]"]) == 0
    capsys.readouterr()
    assert (
        main(["eval", "--checkpoint", str(run), "--data", data, "--lang", "all", "--zero-shot", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)["languages"]
    assert list(result) == ["en", "ja", "sw"]
    assert result["sw"]["n_images"] == 4 and 0 <= result["sw"]["zero_shot"] <= 100
    assert set(result["en"]) == {
        "i2t",
        "t2i",
        "n_images",
        "n_texts",
        "firing_rate",
        "zero_shot",
        "zero_shot_classes",
    }
    assert result["sw"]["zero_shot_classes"] == "caption"  # files not named by emoji
    assert main(["eval", "--checkpoint", str(run), "--data", data, "--split", "val", "--lang", "sw"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "val: 4 images; retrieval per caption language (recall in %)"
    assert lines[1].split()[:4] == ["lang", "images", "texts", "i2t"] and lines[2].split()[:3] == [
        "sw",
        "4",
        "5",
    ]
    assert main(["eval", "--checkpoint", str(run), "--data", data, "--lang", "en,ur"]) == 2
    assert "no captions in ['ur']" in capsys.readouterr().err
    assert main([*args[:-4], "--out", str(tmp_path / "b"), "--set", "data.languages=[ur]"]) == 2
    assert "no training images with captions in ['ur']" in capsys.readouterr().err


def test_zero_shot_classes_are_the_english_concepts_named_in_each_language(tmp_path, tiny_model):
    from PIL import Image

    from ashnet.evaluate import zero_shot_labels

    # thumbs up and a skin-tone variant of it (one concept), cat face. The classes are the concepts'
    # CLDR names, not the captions (here placeholders, so the two cannot be confused).
    rows = [
        ("1F44D.png", "thumbs up", "sw 1", "ja 1"),
        ("1F44D-1F3FD.png", "thumbs up: medium skin tone", "sw 2", "ja 2"),
        ("1F431.png", "cat face", "sw 3", ""),
    ]
    for name, *_ in rows:
        Image.new("RGB", (16, 16), "white").save(tmp_path / name)
    (tmp_path / "pairs.csv").write_text(
        "image,caption,split,caption_sw,caption_ja,caption_xx\n"
        + "".join(f"{n},{en},test,{sw},{ja},{n} xx\n" for n, en, sw, ja in rows),
        encoding="utf-8",
    )
    table = load_pairs(tmp_path / "pairs.csv")
    assert zero_shot_labels(table) == (["thumbs up", "thumbs up", "cat face"], "concept")
    assert zero_shot_labels(table, "sw") == (["dole gumba juu", "dole gumba juu", "uso wa paka"], "concept")
    ja = table.in_languages(["ja"])  # the images with a Japanese caption
    assert zero_shot_labels(ja, "ja") == (["サムズアップ", "サムズアップ"], "concept")
    # A language CLDR does not name: each image's first caption in it, one class per image.
    assert zero_shot_labels(table, "xx") == ([f"{n} xx" for n, *_ in rows], "caption")
    results = evaluate_languages(tiny_model, table, ["sw", "ja", "xx"], 16, zero_shot=True, progress=False)
    assert {k: r.zero_shot_classes for k, r in results.items()} == {
        "sw": "concept",
        "ja": "concept",
        "xx": "caption",
    }
    assert results["ja"].n_images == 2


@pytest.mark.slow
def test_compare_lang_ranks_each_language_as_eval_lang_does(multilingual_pairs, tmp_path, capsys):
    from ashnet.checkpoint import load_run
    from ashnet.compare import run_hits

    data = str(multilingual_pairs)
    for seed in (0, 1):
        args = ["train", "--config", "tiny", "--data", data, "--out", str(tmp_path / f"s{seed}" / "m")]
        assert main([*args, "--set", "train.max_steps=2", "--set", f"seed={seed}"]) == 0
    run = tmp_path / "s0" / "m"
    model, config = load_run(run)
    table = load_pairs(multilingual_pairs).split("train")
    expected = evaluate_languages(model.eval(), table, ["sw", "ja"], config.data.image_size, progress=False)
    for lang in ("sw", "ja"):
        h = run_hits(run, multilingual_pairs, "train", language=lang)
        assert (len(h.i2t), len(h.t2i)) == (expected[lang].n_images, expected[lang].n_texts)
        assert h.r1() == pytest.approx((expected[lang].i2t["r1"], expected[lang].t2i["r1"]))
    capsys.readouterr()
    runs = [str(tmp_path / f"s{seed}" / "m") for seed in (0, 1)]
    assert (
        main(["compare", *runs, "--data", f"tiny={data}", "--split", "train", "--lang", "sw,ja", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["tiny/sw", "tiny/ja"] and result["tiny/ja"]["m"]["seeds"] == 2
    per_seed = [run_hits(r, multilingual_pairs, "train", language="ja").r1()[0] for r in runs]
    assert result["tiny/ja"]["m"]["i2t"][0] == pytest.approx(sum(per_seed) / 2)
