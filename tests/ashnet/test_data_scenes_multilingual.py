"""The scenes data in en/ja/sw/ur: wording, plurals, skipped templates, rationales, colour, unrelatedness."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ashnet.data import build_openmoji, build_scenes, load_pairs
from ashnet.data.scene_languages import FAMILIES, LANGUAGES, TEMPLATES, answer_word, word
from ashnet.data.scene_multilingual import EXTRA_TASKS, family, main_colour, odd_one_out
from ashnet.data.scene_text import TEMPLATES as ENGLISH
from ashnet.data.scenes import TASKS

DOG = {"en": "dog face", "ja": "イヌの顔", "sw": "uso wa mbwa", "ur": "کتے کا چہرہ"}
PILL = {"en": "pill", "ja": "錠剤", "sw": "kidonge", "ur": "گولی"}


@pytest.mark.parametrize(
    ("lang", "n", "expected"),
    [
        ("en", 1, "one dog face emoji and two pill emoji"),
        ("ja", 1, "イヌの顔の絵文字1個と錠剤の絵文字2個"),
        ("sw", 1, "emoji moja ya uso wa mbwa na emoji mbili za kidonge"),  # class 9 ya, class 10 za
        ("sw", 3, "emoji tatu za uso wa mbwa na emoji mbili za kidonge"),
        ("ur", 1, "ایک ایموجی «کتے کا چہرہ» اور دو ایموجی «گولی»"),
    ],
)
def test_counted_captions_agree_with_the_number(lang, n, expected):
    assert word(lang, "caption_two", x=DOG[lang], y=PILL[lang], n=n, m=2) == expected


def test_verbs_and_questions_follow_each_language():
    assert word("ur", "ve_count", x=DOG["ur"], n=1) == "ٹھیک ایک ایموجی «کتے کا چہرہ» ہے"
    assert word("ur", "ve_count", x=DOG["ur"], n=4) == "ٹھیک چار ایموجی «کتے کا چہرہ» ہیں"
    assert word("ja", "relation", x=DOG["ja"], y=PILL["ja"], relation="left of") == (
        "イヌの顔の絵文字は錠剤の絵文字の左にありますか？"
    )
    assert word("sw", "position", x=DOG["sw"]) == "emoji ya uso wa mbwa iko wapi?"
    assert word("en", "count", x="dog face") == "how many dog face emoji are there?"  # scene_text's own
    assert word("en", "r_count", x="pill", n=1, locs=["centre"]) == "there is one pill emoji: at the centre"
    assert word("en", "r_count", x="pill", n=2, locs=["top left", "bottom"]) == (
        "there are two pill emoji: at the top left and the bottom"
    )
    assert word("sw", "r_count", x="kidonge", n=2, locs=["top left", "bottom"]) == (
        "kuna emoji mbili za kidonge: juu kushoto na chini"
    )
    assert answer_word("ur", "yes") == "ہاں" and answer_word("ja", "top left") == "左上"
    assert answer_word("sw", "red") == "nyekundu" and answer_word("sw", "3") == "3"


def test_every_language_words_every_task_template_and_skips_what_it_lacks():
    for lang in LANGUAGES[1:]:
        assert set(ENGLISH) <= set(TEMPLATES[lang]), lang
        assert set(TEMPLATES["en"]) <= set(TEMPLATES[lang]), lang
    # No Swahili word for "reptile" was written, so that rationale is skipped, not made up.
    slots = {"x": "a", "y": "b", "z": "c", "w": "d", "family": "reptile", "other": "bird"}
    assert word("sw", "r_unrelated", **slots) is None and word("ur", "r_unrelated", **slots) is not None
    assert "reptile" not in FAMILIES["sw"]
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        word("fr", "count", x="chien")


def test_families_come_from_unicode_subgroups():
    assert family("\N{RED APPLE}") == "fruit" and family("\N{DOG FACE}") == "mammal"
    assert family("\N{SPOUTING WHALE}") == "sea animal" and family("\N{HEAVY BLACK HEART}\ufe0f") is None
    rng = np.random.default_rng(0)
    pool = ["\N{RED APPLE}", "\N{BANANA}", "\N{GRAPES}", "\N{DOG FACE}", "\N{HEAVY BLACK HEART}"]
    members, odd, other = odd_one_out(rng, pool)
    assert sorted(members[:3]) == [0, 1, 2] and members[3] == 3 and (odd, other) == ("fruit", "mammal")
    assert odd_one_out(rng, pool[:2] + pool[3:]) is None  # no family of three


def test_main_colour(tmp_path):
    Image.new("RGB", (32, 32), (230, 30, 30)).save(tmp_path / "red.png")
    Image.new("RGB", (32, 32), "white").save(tmp_path / "white.png")
    half = Image.new("RGB", (32, 32), (40, 70, 220))
    half.paste((30, 180, 60), (0, 0, 16, 32))
    half.save(tmp_path / "half.png")
    assert main_colour(tmp_path / "red.png") == "red"
    assert main_colour(tmp_path / "white.png") is None  # nothing coloured
    assert main_colour(tmp_path / "half.png") is None  # no colour covers 60 %


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    openmoji = tmp_path_factory.mktemp("om")
    build_openmoji(openmoji, size=32, limit=1200, progress=False)  # holds food, plants and animals
    path = build_scenes(
        tmp_path_factory.mktemp("sc"), n_scenes=50, size=64, seed=1, openmoji_dir=openmoji, progress=False
    )
    return path, json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_scenes_carry_four_languages_rationales_and_new_tasks(scenes):
    path, data = scenes
    assert tuple(data["tasks"]) == (*TASKS, *EXTRA_TASKS) and all(data["tasks"][t] for t in EXTRA_TASKS)
    assert all(f"name_{lang}" in c for c in data["categories"] for lang in ("ja", "ur"))
    for task, examples in data["tasks"].items():
        for example in examples:
            assert example.get("rationale") or task == "rationale", (task, example)
            for lang in ("ja", "sw", "ur"):
                for field in ("question", "caption", "statement", "phrase"):
                    if field in example and f"{field}_{lang}" not in example:
                        # skipped only where the language has no template or family word for it
                        assert task == "unrelated" and lang == "sw", (task, field, lang)
    # The pairs reader sees the captions in every language.
    table = load_pairs(path, on_bad_row="error")
    assert table.languages == ["ja", "sw", "ur"] and len(table) == len(data["images"])


@pytest.mark.slow
def test_rationales_and_new_tasks_tell_the_truth(scenes):
    _, data = scenes
    names = {c["id"]: c["name"] for c in data["categories"]}
    per_image: dict[int, list[int]] = {}
    for obj in data["objects"]:
        per_image.setdefault(obj["image_id"], []).append(obj["category_id"])
    for q in data["tasks"]["count"]:
        n = per_image[q["image_id"]].count(q["slots"]["x"])
        assert q["rationale"].startswith(
            f"there is no {names[q['slots']['x']]} emoji" if n == 0 else f"there {'is' if n == 1 else 'are'} "
        )
    for ex in data["tasks"]["unrelated"]:
        objects = per_image[ex["image_id"]]
        assert sorted(objects) == sorted(ex["candidates"]) and ex["answer"] in objects
        odd = ex["slots"]["family"]
        emoji = {c["id"]: c["emoji"] for c in data["categories"]}
        assert [family(emoji[c]) == odd for c in objects].count(True) == 3 and family(
            emoji[ex["answer"]]
        ) != odd
        assert ex["rationale"].endswith(
            f"but the {names[ex['answer']]} emoji shows {FAMILIES['en'][ex['slots']['other']][1]}"
        )
    for ex in data["tasks"]["rationale"]:
        truth = ex["candidates"][ex["answer"]]
        n = per_image[ex["image_id"]].count(ex["slots"]["x"])
        assert len(set(ex["candidates"])) == 4 and f" {names[ex['slots']['x']]} emoji" in truth
        assert truth.startswith(f"there {'is' if n == 1 else 'are'} ")
        assert len(ex["candidates_ur"]) == 4
    colours = {c["id"]: c["colour"] for c in data["categories"]}
    assert all(colours[q["slots"]["x"]] == q["answer"] for q in data["tasks"]["colour"])
    for q in data["tasks"]["recognise"]:
        assert set(per_image[q["image_id"]]) == {q["answer"]} and q["answer"] in q["candidates"]


@pytest.mark.slow
def test_scene_choices_hold_one_true_candidate(scenes):
    from ashnet.evaluate_choices import CHOICE_TASKS, scene_choices

    path, data = scenes
    for lang in LANGUAGES:
        for task in CHOICE_TASKS:
            choices = scene_choices(path, task, lang, "train")
            assert choices or task == "unrelated", (task, lang)
            for choice in choices:
                assert 0 <= choice.answer < len(choice.candidates) and len(set(choice.candidates)) == len(
                    choice.candidates
                )
    counts = scene_choices(path, "count", "sw", "train")
    question = next(q for q in data["tasks"]["count"] if q["answer"] >= 1)
    assert (
        counts[0]
        .candidates[question["answer"] - 1]
        .startswith(f"emoji {['moja', 'mbili', 'tatu', 'nne', 'tano', 'sita'][question['answer'] - 1]} ")
    )


@pytest.mark.slow
def test_choice_accuracy_picks_the_closest_candidate(scenes):
    import torch

    from ashnet.evaluate_choices import choice_accuracy, scene_choices

    path, _ = scenes
    choices = scene_choices(path, "rationale", "ja", "train")
    texts = sorted({t for c in choices for t in c.candidates})
    truth = {c.image: c.candidates[c.answer] for c in choices}

    class OneHot(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def encode_text(self, batch):
            return torch.eye(len(texts))[[texts.index(t) for t in batch]]

    model = OneHot()
    right = choice_accuracy(
        model,
        path,
        ("rationale",),
        ("ja",),
        "train",
        embed_images=lambda ps: model.encode_text([truth[p] for p in ps]),
    )
    assert right == {"ja": {"rationale": (100.0, len(choices))}}
    wrong = {c.image: c.candidates[(c.answer + 1) % 4] for c in choices}
    none = choice_accuracy(
        model,
        path,
        ("rationale",),
        ("ja",),
        "train",
        embed_images=lambda ps: model.encode_text([wrong[p] for p in ps]),
    )
    assert none["ja"]["rationale"][0] == 0.0


@pytest.mark.slow
def test_train_on_scene_captions_in_four_languages_then_eval_scene_tasks(scenes, tmp_path, capsys):
    from ashnet.cli import main

    path, _ = scenes
    run = str(tmp_path / "run")
    args = ["train", "--config", "tiny", "--data", str(path), "--out", run, "--set", "train.max_steps=2"]
    assert main([*args, "--set", "data.languages=[en, ja, sw, ur]"]) == 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", run, "--data", str(path), "--lang", "all", "--scene-tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == [
        "lang",
        "recognise",
        "colour",
        "count",
        "relation",
        "itm",
        "unrelated",
        "rationale",
    ]
    assert [line.split()[0] for line in lines[2:]] == ["en", "ja", "sw", "ur", "chance"]
