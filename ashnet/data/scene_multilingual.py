"""The scenes data in Japanese, Swahili and Urdu, a rationale for every answer, and the colour, recognition,
unrelatedness and rationale-choice tasks.

:func:`enrich` works on the ``scenes.json`` content alone (texts keep their ``template`` and
``slots``; objects their ``bbox`` and ``category_id``): it adds ``<field>_<lang>`` beside each text
(and ``answer_<lang>`` beside a word answer), ``rationale`` and ``rationale_<lang>`` on every
example, and the examples of the tasks :data:`EXTRA_TASKS`. A language without a template for an
example gets no text for it (see :func:`ashnet.data.scene_languages.word`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ashnet.data.cldr import cldr_names, emoji_key
from ashnet.data.emoji_groups import emoji_groups
from ashnet.data.scene_examples import EMOJI_SLOTS
from ashnet.data.scene_languages import FAMILY_SUBGROUPS, LANGUAGES, answer_word, word

__all__ = [
    "EXTRA_TASKS",
    "OTHER_LANGUAGES",
    "TEXT_FIELDS",
    "enrich",
    "family",
    "main_colour",
    "odd_one_out",
    "unrelated_example",
]

OTHER_LANGUAGES = tuple(lang for lang in LANGUAGES if lang != "en")
EXTRA_TASKS = ("unrelated", "colour", "recognise", "rationale")
TEXT_FIELDS = ("caption", "question", "statement", "phrase")
SLOTS = (*EMOJI_SLOTS, "w")
# A colour is an emoji's main colour when it covers this share of its coloured pixels.
COLOUR_SHARE = 0.6
N_CHOICES = 4
_FAMILY_OF = {sub: fam for fam, subs in FAMILY_SUBGROUPS.items() for sub in subs}


def family(text: str) -> str | None:
    """The unrelatedness family of an emoji (``"fruit"``, ``"mammal"``, ...) from its Unicode subgroup."""
    group = emoji_groups().get(emoji_key(text))
    return None if group is None else _FAMILY_OF.get(group[1])


def main_colour(path) -> str | None:
    """The colour covering at least 60% of an emoji image's coloured pixels, or None.

    Pixels count as coloured with HSV saturation > 0.25 and value > 0.3 (OpenMoji's black outline and
    the white canvas do not); hues are binned into red, orange, yellow, green, blue, purple and pink,
    with dark orange/red read as brown and pale red as pink.
    """
    with Image.open(path) as image:
        hsv = np.asarray(image.convert("RGB").convert("HSV"), dtype=float).reshape(-1, 3) / 255
    h, s, v = hsv[:, 0] * 360, hsv[:, 1], hsv[:, 2]
    coloured = (s > 0.25) & (v > 0.3)
    if coloured.sum() < 0.05 * len(h):
        return None
    h, s, v = h[coloured], s[coloured], v[coloured]
    names = np.select(
        [(h < 15) | (h >= 340), h < 45, h < 70, h < 170, h < 260, h < 300],
        ["red", "orange", "yellow", "green", "blue", "purple"],
        "pink",
    )
    names = np.where(((names == "orange") & (v < 0.7)) | ((names == "red") & (v < 0.5)), "brown", names)
    names = np.where((names == "red") & (s < 0.5), "pink", names)
    labels, counts = np.unique(names, return_counts=True)
    best = int(counts.argmax())
    return str(labels[best]) if counts[best] >= COLOUR_SHARE * counts.sum() else None


def _location(bbox, side: float) -> str:
    """The cell of a 3 x 3 grid holding a box's centre: "top left", "top", ..., "centre", ..."""
    cx, cy = bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2
    col, row = min(int(3 * cx / side), 2), min(int(3 * cy / side), 2)
    if (row, col) == (1, 1):
        return "centre"
    vertical = ("top", "", "bottom")[row]
    horizontal = ("left", "", "right")[col]
    return " ".join(p for p in (vertical, horizontal) if p)


class _Image:
    """The facts of one scene image: its objects' categories and grid locations, in reading order."""

    def __init__(self, image: dict, objects: list[dict]):
        side = image["width"]
        ordered = sorted(objects, key=lambda o: (o["bbox"][1] + o["bbox"][3] / 2, o["bbox"][0]))
        self.locations: dict[int, list[str]] = {}
        for obj in ordered:
            self.locations.setdefault(obj["category_id"], []).append(_location(obj["bbox"], side))
        self.n = len(objects)

    def count_rationale(self, cid: int) -> tuple[str, dict]:
        locs = self.locations.get(cid)
        if not locs:
            return "r_none", {"x": cid}
        return "r_count", {"x": cid, "n": len(locs), "locs": locs}

    def inventory(self) -> list[tuple[int, int]]:
        return [(len(locs), cid) for cid, locs in self.locations.items()]


def _rationale(task: str, example: dict, facts: dict[int, _Image]) -> tuple[str, dict]:
    """The template and slots of the rationale of one example (emoji slots as category ids)."""
    template, slots = example.get("template"), example.get("slots", {})
    if template == "unrelated":
        return "r_unrelated", slots
    if task == "nlvr2":
        left, right = (facts[i] for i in example["image_ids"])
        return "r_pair", {"inventory": left.inventory(), "inventory_right": right.inventory()}
    scene = facts[example["image_id"]]
    if template.startswith("ve_neutral"):
        return "r_neutral", {}
    if template in ("count_all", "caption_one", "caption_two", "caption_three", "caption_four"):
        return "r_total", {"n": scene.n, "inventory": scene.inventory()}
    if template in ("relation", "ve_relation", "caption_relation"):
        x, y = slots["x"], slots["y"]
        return "r_relation", {"x": x, "y": y, "wx": scene.locations[x][0], "wy": scene.locations[y][0]}
    return scene.count_rationale(slots["x"])


def _localised(slots: dict, names: dict[int, str]) -> dict | None:
    out = dict(slots)
    for key in SLOTS:
        if key in out:
            if out[key] not in names:
                return None
            out[key] = names[out[key]]
    for key in ("inventory", "inventory_right"):
        if key in out:
            if any(cid not in names for _, cid in out[key]):
                return None
            out[key] = [(n, names[cid]) for n, cid in out[key]]
    return out


def _words(template: str, slots: dict, names: dict[str, dict[int, str]]) -> dict[str, str]:
    """``template`` with ``slots`` in every language that has both the template and the names."""
    out = {}
    for lang in LANGUAGES:
        filled = _localised(slots, names[lang])
        text = None if filled is None else word(lang, template, **filled)
        if text is not None:
            out[lang] = text
    return out


def _put(example: dict, field: str, texts: dict[str, str]) -> None:
    for lang, text in texts.items():
        example[field if lang == "en" else f"{field}_{lang}"] = text


def odd_one_out(rng: np.random.Generator, pool: list[str]) -> tuple[list[int], str, str] | None:
    """Three emoji of one family and one of another (pool indices, odd one last) and the two families,
    or None if no family has three members in ``pool``."""
    members: dict[str, list[int]] = {}
    for i, text in enumerate(pool):
        if (name := family(text)) is not None:
            members.setdefault(name, []).append(i)
    big = sorted(f for f, m in members.items() if len(m) >= 3)
    if not big or len(members) < 2:
        return None
    odd = big[int(rng.integers(len(big)))]
    other = sorted(f for f in members if f != odd)
    other = other[int(rng.integers(len(other)))]
    three = rng.choice(members[odd], 3, replace=False).tolist()
    return [*three, members[other][int(rng.integers(len(members[other])))]], odd, other


def unrelated_example(image_id: int, ids: list[int], odd_family: str, other: str, rng) -> dict:
    """The unrelatedness example of an odd-one-out scene: ``ids`` are the category ids, odd one last."""
    candidates = [ids[i] for i in rng.permutation(len(ids))]
    slots = {"x": ids[0], "y": ids[1], "z": ids[2], "w": ids[3], "family": odd_family, "other": other}
    return {
        "image_id": image_id,
        "question": None,
        "template": "unrelated",
        "slots": slots,
        "candidates": candidates,
        "answer": ids[3],
    }


def enrich(data: dict, seed: int) -> None:
    """Add the other languages, rationales and the :data:`EXTRA_TASKS` to ``data`` (a scenes.json dict).

    Categories get ``name_<lang>`` (CLDR); their ``colour`` (:func:`main_colour`) feeds the colour task.
    """
    names = {"en": {c["id"]: c["name"] for c in data["categories"]}}
    for lang in OTHER_LANGUAGES:
        cldr = cldr_names(lang)
        names[lang] = {
            c["id"]: cldr[emoji_key(c["emoji"])] for c in data["categories"] if emoji_key(c["emoji"]) in cldr
        }
        for c in data["categories"]:
            if c["id"] in names[lang]:
                c[f"name_{lang}"] = names[lang][c["id"]]
    by_image: dict[int, list[dict]] = {}
    for obj in data["objects"]:
        by_image.setdefault(obj["image_id"], []).append(obj)
    facts = {image["id"]: _Image(image, by_image.get(image["id"], [])) for image in data["images"]}

    def reword(task: str, example: dict) -> None:
        field = next(f for f in TEXT_FIELDS if f in example)
        _put(example, field, _words(example["template"], example["slots"], names))
        if isinstance(example.get("answer"), str) and not example["answer"].isdigit():
            for lang in OTHER_LANGUAGES:
                example[f"answer_{lang}"] = answer_word(lang, example["answer"])
        _put(example, "rationale", _words(*_rationale(task, example, facts), names))

    for example in data["annotations"]:
        reword("annotations", example)
    for task, examples in data["tasks"].items():
        for example in examples:
            reword(task, example)
    rng = np.random.default_rng([seed, 14])
    colours = {c["id"]: c.get("colour") for c in data["categories"]}
    data["tasks"]["colour"] = _colour(data, facts, colours, names)
    data["tasks"]["recognise"] = _recognise(data, facts, names, rng)
    data["tasks"]["rationale"] = _rationale_choices(data, facts, names, rng)


def _example(task_list: list, **fields) -> dict:
    return {"id": len(task_list), **fields}


def _colour(data, facts, colours, names) -> list[dict]:
    out: list[dict] = []
    for image in data["images"]:
        for cid in facts[image["id"]].locations:
            if colours.get(cid) is None:
                continue
            example = _example(
                out, image_id=image["id"], template="colour", slots={"x": cid}, answer=colours[cid]
            )
            _put(example, "question", _words("colour", {"x": cid}, names))
            for lang in OTHER_LANGUAGES:
                example[f"answer_{lang}"] = answer_word(lang, colours[cid])
            _put(example, "rationale", _words("r_colour", {"x": cid, "colour": colours[cid]}, names))
            out.append(example)
    return out


def _others(rng, pool: list[int], exclude: set[int], k: int) -> list[int]:
    choices = [c for c in pool if c not in exclude]
    return [choices[i] for i in rng.choice(len(choices), min(k, len(choices)), replace=False)]


def _recognise(data, facts, names, rng) -> list[dict]:
    """Scenes of one kind of emoji: which one is it, among it and three others of the same split."""
    by_split: dict[str, list[int]] = {}
    for c in data["categories"]:
        by_split.setdefault(c["split"], []).append(c["id"])
    out: list[dict] = []
    for image in data["images"]:
        kinds = list(facts[image["id"]].locations)
        if len(kinds) != 1:
            continue
        candidates = [kinds[0], *_others(rng, by_split[image["split"]], set(kinds), N_CHOICES - 1)]
        rng.shuffle(candidates)
        example = _example(
            out, image_id=image["id"], template="recognise", slots={}, candidates=candidates, answer=kinds[0]
        )
        _put(example, "question", _words("recognise", {}, names))
        _put(example, "rationale", _words(*facts[image["id"]].count_rationale(kinds[0]), names))
        out.append(example)
    return out


def _rationale_choices(data, facts, names, rng) -> list[dict]:
    """One count question per scene with four rationales to choose from: the true one and three that
    change the count, the places or the emoji (every candidate worded in every language it can be)."""
    out: list[dict] = []
    for image in data["images"]:
        scene = facts[image["id"]]
        cid = list(scene.locations)[int(rng.integers(len(scene.locations)))]
        locs = scene.locations[cid]
        cells = [
            "top left",
            "top",
            "top right",
            "left",
            "centre",
            "right",
            "bottom left",
            "bottom",
            "bottom right",
        ]
        free = [c for c in cells if c not in locs]
        fewer = locs[:-1]
        more = [*locs, free[int(rng.integers(len(free)))]] if free else None
        moved = (
            [free[i] for i in rng.choice(len(free), len(locs), replace=False)]
            if len(free) >= len(locs)
            else None
        )
        other = [c for c in scene.locations if c != cid]
        options = [
            ("r_count", {"x": cid, "n": len(fewer), "locs": fewer}) if fewer else ("r_none", {"x": cid})
        ]
        if more is not None and len(more) <= 6:
            options.append(("r_count", {"x": cid, "n": len(more), "locs": more}))
        if moved is not None:
            options.append(("r_count", {"x": cid, "n": len(locs), "locs": moved}))
        if other:
            y = other[int(rng.integers(len(other)))]
            options.append(
                ("r_count", {"x": y, "n": len(locs), "locs": locs})
                if len(scene.locations[y]) != len(locs) or scene.locations[y] != locs
                else ("r_none", {"x": y})
            )
        rng.shuffle(options)
        candidates = [("r_count", {"x": cid, "n": len(locs), "locs": locs}), *options[: N_CHOICES - 1]]
        if len(candidates) < N_CHOICES:
            continue
        order = rng.permutation(N_CHOICES).tolist()
        worded = [_words(*candidates[i], names) for i in order]
        languages = [lang for lang in LANGUAGES if all(lang in w for w in worded)]
        example = _example(
            out, image_id=image["id"], template="count", slots={"x": cid}, answer=order.index(0)
        )
        _put(
            example,
            "question",
            {k: v for k, v in _words("count", {"x": cid}, names).items() if k in languages},
        )
        for lang in languages:
            example["candidates" if lang == "en" else f"candidates_{lang}"] = [w[lang] for w in worded]
        out.append(example)
    return out
