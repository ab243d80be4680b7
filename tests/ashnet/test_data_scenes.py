"""Tests for the scenes builder: layout, boxes, splits, the truth of every generated text, cache, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ashnet.cli import main
from ashnet.data import build_scenes, load_manifest, load_pairs
from ashnet.data.scene_multilingual import EXTRA_TASKS
from ashnet.data.scene_text import POSITIONS
from ashnet.data.scenes import TASKS

OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


@pytest.fixture(scope="module")
def openmoji(tmp_path_factory):
    from ashnet.data import build_openmoji

    out = tmp_path_factory.mktemp("scenes_openmoji")
    build_openmoji(out, size=32, limit=300, progress=False)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, openmoji):
    out = tmp_path_factory.mktemp("scenes")
    path = build_scenes(out, n_scenes=60, size=64, seed=3, openmoji_dir=openmoji, progress=False)
    return path, json.loads(path.read_text(encoding="utf-8"))


class Facts:
    """What the JSON says each image holds, to check every text against."""

    def __init__(self, data, size):
        self.size = size
        self.names = {c["id"]: c["name"] for c in data["categories"]}
        self.objects: dict[int, list] = {}
        for obj in data["objects"]:
            self.objects.setdefault(obj["image_id"], []).append(obj)

    def count(self, image, category):
        return sum(o["category_id"] == category for o in self.objects[image])

    def only(self, image, category):
        (obj,) = [o for o in self.objects[image] if o["category_id"] == category]
        return obj

    def quadrant(self, image, category):
        x, y, w, h = self.only(image, category)["bbox"]
        return POSITIONS[2 * (y + h / 2 > self.size / 2) + (x + w / 2 > self.size / 2)]

    def relation(self, image, x, y, relation):
        (ax, ay, aw, ah), (bx, by, bw, bh) = (self.only(image, c)["bbox"] for c in (x, y))
        return {
            "left of": ax + aw < bx,
            "right of": bx + bw < ax,
            "above": ay + ah < by,
            "below": by + bh < ay,
        }[relation]

    def describes(self, image, template, slots):
        """Whether a caption is true: the whole inventory for a description, else the relation."""
        if template == "caption_relation":
            return self.relation(image, slots["x"], slots["y"], slots["relation"])
        named = {slots[k]: slots[n] for k, n in zip("xyzw", "nmkj", strict=True) if k in slots}
        inventory = {o["category_id"] for o in self.objects[image]}
        return set(named) == inventory and all(self.count(image, c) == n for c, n in named.items())

    def pair(self, left, right, template, slots):
        """The truth of a statement about two images."""
        if template == "pair_more":
            return len(self.objects[left]) > len(self.objects[right])
        n_left, n_right = self.count(left, slots["x"]), self.count(right, slots["x"])
        if template == "pair_both":
            return n_left > 0 and n_right > 0
        if template == "pair_total":
            return n_left + n_right == slots["n"]
        return (n_left > 0) != (n_right > 0) and (n_left if slots["side"] == "left" else n_right) > 0

    def holds(self, image, template, slots):
        """The truth of a one-image statement or yes/no question."""
        kind = template.removeprefix("ve_")
        if kind in ("count",):
            return self.count(image, slots["x"]) == slots["n"]
        if kind in ("exists",):
            return self.count(image, slots["x"]) > 0
        if kind == "position":
            return self.quadrant(image, slots["x"]) == slots["where"]
        return self.relation(image, slots["x"], slots["y"], slots["relation"])


@pytest.mark.slow  # builds the module's OpenMoji and scenes fixtures
def test_json_is_coco_style_with_every_task(built):
    path, data = built
    assert set(data) >= {"info", "images", "annotations", "categories", "objects", "tasks"}
    assert tuple(data["tasks"]) == (*TASKS, *EXTRA_TASKS) and all(data["tasks"][t] for t in TASKS)
    # 60 scenes plus up to 6 odd-one-out scenes (where a split's emoji hold a family of three)
    odd = {e["image_id"] for e in data["tasks"]["unrelated"]}
    assert len(data["images"]) == 60 + len(odd) and len(odd) <= 6 and min(odd, default=60) >= 60
    splits = [i["split"] for i in data["images"] if i["id"] < 60]
    assert splits.count("train") == 48 and splits.count("val") == 6 and splits.count("test") == 6
    for image in data["images"]:
        with Image.open(path.parent / image["file_name"]) as png:
            assert png.size == (64, 64) == (image["width"], image["height"])
    per_image = np.bincount([o["image_id"] for o in data["objects"]])[[i["id"] for i in data["images"]]]
    assert per_image.min() >= 1 and per_image.max() <= 6
    for task, examples in data["tasks"].items():
        assert [e["id"] for e in examples] == list(range(len(examples))), task
        assert all("template" in e and "slots" in e for e in examples)


def test_scenes_hold_only_emoji_of_their_own_split(built, openmoji):
    _, data = built
    emoji_split = {r.captions[0]: r.split for r in load_pairs(openmoji / "pairs.csv").images}  # the build
    category = {c["id"]: c for c in data["categories"]}
    image_split = {i["id"]: i["split"] for i in data["images"]}
    for obj in data["objects"]:
        c = category[obj["category_id"]]
        assert c["split"] == image_split[obj["image_id"]] == emoji_split[c["name"]]
    assert {c["split"] for c in data["categories"]} == {"train", "val", "test"}


def test_boxes_enclose_the_drawings(built):
    path, data = built
    for image in data["images"][:20]:
        with Image.open(path.parent / image["file_name"]) as png:
            ink = np.asarray(png.convert("L")) < 200
        inside = np.zeros_like(ink)
        for obj in data["objects"]:
            if obj["image_id"] != image["id"]:
                continue
            x, y, w, h = obj["bbox"]
            assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 64 and w > 1 and h > 1
            box = (slice(int(y), int(np.ceil(y + h))), slice(int(x), int(np.ceil(x + w))))
            assert ink[box].any()  # something is drawn in every box
            inside[box] = True
        assert not (ink & ~inside).any()  # and nothing outside them


def test_every_text_tells_the_truth(built):
    _, data = built
    facts = Facts(data, 64)
    tasks = data["tasks"]
    for q in tasks["vqa"]:
        image, slots, answer = q["image_id"], q["slots"], q["answer"]
        if q["type"] == "count_all":
            assert answer == str(len(facts.objects[image]))
        elif q["type"] == "count":
            assert answer == str(facts.count(image, slots["x"]))
        elif q["type"] == "position":
            assert answer == facts.quadrant(image, slots["x"])
        else:
            assert answer == ("yes" if facts.holds(image, q["template"], slots) else "no")
    for q in tasks["count"]:
        assert q["answer"] == facts.count(q["image_id"], q["slots"]["x"])
        assert facts.names[q["slots"]["x"]] in q["question"]
    for s in tasks["ve"]:
        if s["label"] != "neutral":
            assert facts.holds(s["image_id"], s["template"], s["slots"]) == (s["label"] == "entailment")
        else:
            assert s["template"].startswith("ve_neutral_")
    objects = {o["id"]: o for o in data["objects"]}
    for g in tasks["grounding"]:
        obj = objects[g["object_id"]]
        assert obj["image_id"] == g["image_id"] and obj["bbox"] == g["bbox"]
        assert obj["category_id"] == g["slots"]["x"] and facts.names[g["slots"]["x"]] in g["phrase"]
        if g["template"] == "phrase":
            assert facts.count(g["image_id"], g["slots"]["x"]) == 1
    for p in tasks["nlvr2"]:
        assert facts.pair(*p["image_ids"], p["template"], p["slots"]) == p["label"]
    for a in data["annotations"]:
        assert facts.describes(a["image_id"], a["template"], a["slots"])
    for m in tasks["itm"]:
        assert facts.describes(m["image_id"], m["template"], m["slots"]) == (m["label"] == 1)


def test_targets_are_balanced(built):
    _, data = built
    tasks = data["tasks"]
    assert sum(m["label"] for m in tasks["itm"]) * 2 == len(tasks["itm"])
    labels = [s["label"] for s in tasks["ve"]]
    assert labels.count("entailment") == labels.count("neutral") == labels.count("contradiction") == 60
    assert 0.3 < np.mean([p["label"] for p in tasks["nlvr2"]]) < 0.7
    yes_no = [q["answer"] for q in tasks["vqa"] if q["answer"] in ("yes", "no")]
    assert 0.3 < yes_no.count("yes") / len(yes_no) < 0.7
    assert {q["type"] for q in tasks["vqa"]} == {"count_all", "count", "exists", "position", "relation"}


def test_scenes_json_is_a_pairs_file_with_splits(built):
    path, data = built
    table = load_pairs(path, on_bad_row="error", verify_images=True)
    assert len(table) == len(data["images"]) and len(table.split("test")) >= 6
    assert table.n_captions == len(data["annotations"])


def test_same_seed_same_bytes_and_cache(tmp_path, openmoji, built):
    _, data = built
    again = build_scenes(tmp_path / "a", n_scenes=60, size=64, seed=3, openmoji_dir=openmoji, progress=False)
    assert json.loads(again.read_text(encoding="utf-8")) == data
    first_png = tmp_path / "a" / "images" / "000000.png"
    stamps = again.stat().st_mtime_ns, first_png.stat().st_mtime_ns
    assert build_scenes(tmp_path / "a", 60, 64, 3, openmoji, progress=False) == again
    assert (again.stat().st_mtime_ns, first_png.stat().st_mtime_ns) == stamps
    other = build_scenes(tmp_path / "a", n_scenes=20, size=64, seed=4, openmoji_dir=openmoji, progress=False)
    assert json.loads(other.read_text(encoding="utf-8"))["info"]["seed"] == 4
    n_pngs = len(list((tmp_path / "a" / "images").glob("*.png")))
    assert 20 <= n_pngs == load_manifest(tmp_path / "a")["n_images"] <= 22  # with up to 2 odd-one-out


def test_bad_arguments(tmp_path, openmoji):
    with pytest.raises(ValueError, match="n_scenes"):
        build_scenes(tmp_path, n_scenes=0, openmoji_dir=openmoji)
    with pytest.raises(ValueError, match="size"):
        build_scenes(tmp_path, size=16, openmoji_dir=openmoji)
    with pytest.raises(ValueError, match="at least 5 per split"):
        build_scenes(tmp_path / "few", n_scenes=5, size=64, emoji_limit=10, progress=False)


@pytest.mark.slow
def test_cli_builds_scenes(tmp_path, openmoji, capsys):
    argv = ["data", "build", "scenes", "--out", str(tmp_path / "s"), "--n-scenes", "12", "--size", "64"]
    assert main([*argv, "--openmoji", str(openmoji), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "13 scenes" in out and "1 of them odd-one-out" in out and "vqa" in out
    assert (tmp_path / "s" / "scenes.json").is_file()
    assert main(["data", "build", "openmoji", "--out", str(tmp_path / "o"), "--seed", "2"]) == 2
    assert "apply to 'scenes' only" in capsys.readouterr().err
