"""The examples of one scene (captions, ITM, VQA, counting, entailment, grounding) and of scene pairs (NLVR2).

Each example is a dict with its text, its target, ``template`` and ``slots`` (emoji slots hold
category ids); ``id`` and ``image_id`` are added by the builder. Targets are balanced where the
task has a natural balance (yes/no, match/no match, the three entailment labels, true/false).
"""

from __future__ import annotations

import numpy as np

from ashnet.data.scene_text import POSITIONS, render

__all__ = ["scene_examples", "split_pairs", "VE_LABELS", "EMOJI_SLOTS"]

VE_LABELS = ("entailment", "neutral", "contradiction")
# Slots that name an emoji: the text gets its name, the JSON its category id.
EMOJI_SLOTS = ("x", "y", "z")
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
# extreme word -> (axis of the box centre, sign: +1 smallest first, -1 largest first)
EXTREMES = {"leftmost": (0, 1), "rightmost": (0, -1), "topmost": (1, 1), "bottommost": (1, -1)}


def _text(scene, template: str, **slots) -> tuple[str, dict]:
    """The English text of a template and its JSON record (emoji slots as category ids)."""
    words = {k: scene.pool[v].name if k in EMOJI_SLOTS else v for k, v in slots.items()}
    record = {k: scene.category(v) if k in EMOJI_SLOTS else v for k, v in slots.items()}
    return render(template, **words), {"template": template, "slots": record}


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def _description(scene, counts: dict[int, int]) -> tuple[str, dict]:
    kinds = list(counts)
    template = ("caption_one", "caption_two", "caption_three")[len(kinds) - 1]
    slots = dict(zip(EMOJI_SLOTS, kinds, strict=False))
    slots.update(zip(("n", "m", "k"), counts.values(), strict=False))
    return _text(scene, template, **slots)


def _with(key: str, text_meta: tuple[str, dict], **extra) -> dict:
    text, meta = text_meta
    return {key: text, **extra, **meta}


def _captions(scene, rng) -> list[dict]:
    out = [_with("caption", _description(scene, {k: scene.count(k) for k in scene.kinds}))]
    pairs = scene.related_pairs()
    if pairs:
        x, y, r = _pick(rng, pairs)
        out.append(_with("caption", _text(scene, "caption_relation", x=x, y=y, relation=r)))
    return out


def _itm(scene, rng) -> list[dict]:
    """A true caption and a hard false one of the same form (a count, an emoji or a relation changed)."""
    counts = {k: scene.count(k) for k in scene.kinds}
    n = sum(counts.values())
    options = ["swap"]
    recount = [k for k in scene.kinds if 6 - (n - counts[k]) > 1]  # another count fits in six objects
    if recount:
        options.append("count")
    pairs = scene.related_pairs()
    if pairs:
        options.append("relation")
    option = _pick(rng, options)
    if option == "relation":
        x, y, r = _pick(rng, pairs)
        true = _text(scene, "caption_relation", x=x, y=y, relation=r)
        false = _text(scene, "caption_relation", x=x, y=y, relation=OPPOSITE[r])
    else:
        true = _description(scene, counts)
        wrong = dict(counts)
        if option == "count":
            kind = _pick(rng, recount)
            wrong[kind] = _pick(rng, [c for c in range(1, 7 - (n - counts[kind])) if c != counts[kind]])
        else:
            kind = _pick(rng, scene.kinds)
            wrong = {scene.absent(rng) if k == kind else k: c for k, c in counts.items()}
        false = _description(scene, wrong)
    return [_with("caption", true, label=1), _with("caption", false, label=0)]


def _quadrants(scene) -> list[tuple[int, str]]:
    return [(k, q) for k in scene.unique if (q := scene.quadrant(scene.by_kind[k][0])) is not None]


def _vqa(scene, rng) -> list[dict]:
    n = len(scene.objects)
    out = [_with("question", _text(scene, "count_all"), answer=str(n), type="count_all")]
    kind = _pick(rng, scene.kinds) if rng.random() < 0.7 else scene.absent(rng)
    out.append(_with("question", _text(scene, "count", x=kind), answer=str(scene.count(kind)), type="count"))
    kind = _pick(rng, scene.kinds) if rng.random() < 0.5 else scene.absent(rng)
    answer = "yes" if scene.count(kind) else "no"
    out.append(_with("question", _text(scene, "exists", x=kind), answer=answer, type="exists"))
    quadrants = _quadrants(scene)
    if quadrants:
        kind, where = _pick(rng, quadrants)
        out.append(_with("question", _text(scene, "position", x=kind), answer=where, type="position"))
    pairs = scene.related_pairs()
    if pairs:
        x, y, r = _pick(rng, pairs)
        truth = rng.random() < 0.5
        text = _text(scene, "relation", x=x, y=y, relation=r if truth else OPPOSITE[r])
        out.append(_with("question", text, answer="yes" if truth else "no", type="relation"))
    return out


def _count(scene, rng) -> list[dict]:
    kinds = list(scene.kinds) + ([scene.absent(rng)] if rng.random() < 0.3 else [])
    return [_with("question", _text(scene, "count", x=k), answer=scene.count(k)) for k in kinds]


def _statement(scene, rng, truth: bool) -> tuple[str, dict]:
    """A true (entailed) or false (contradicted) statement of a randomly chosen family."""
    families = ["count", "exists"]
    quadrants, pairs = _quadrants(scene), scene.related_pairs()
    families += ["position"] * bool(quadrants) + ["relation"] * bool(pairs)
    family = _pick(rng, families)
    if family == "count":
        kind = _pick(rng, scene.kinds)
        n = scene.count(kind)
        if not truth:
            n = _pick(rng, [c for c in range(1, 7) if c != n])
        return _text(scene, "ve_count", x=kind, n=n)
    if family == "exists":
        return _text(scene, "ve_exists", x=_pick(rng, scene.kinds) if truth else scene.absent(rng))
    if family == "position":
        kind, where = _pick(rng, quadrants)
        where = where if truth else _pick(rng, [p for p in POSITIONS if p != where])
        return _text(scene, "ve_position", x=kind, where=where)
    x, y, r = _pick(rng, pairs)
    return _text(scene, "ve_relation", x=x, y=y, relation=r if truth else OPPOSITE[r])


def _ve(scene, rng) -> list[dict]:
    neutral = [("ve_neutral_owner", {"x": _pick(rng, scene.kinds)}), ("ve_neutral_outside", {"x": None})]
    if len(scene.kinds) > 1:
        x, y = rng.choice(scene.kinds, 2, replace=False).tolist()
        neutral.append(("ve_neutral_order", {"x": x, "y": y}))
    template, slots = _pick(rng, neutral)
    if slots["x"] is None:
        slots["x"] = scene.absent(rng)
    return [
        _with("statement", _statement(scene, rng, True), label="entailment"),
        _with("statement", _text(scene, template, **slots), label="neutral"),
        _with("statement", _statement(scene, rng, False), label="contradiction"),
    ]


def _grounding(scene, rng) -> list[dict]:
    """Up to two phrases naming one object: a unique emoji, or the clearly left/right/top/bottom-most one."""
    options = [(k, None, scene.by_kind[k][0]) for k in scene.unique]
    for kind in scene.kinds:
        members = scene.by_kind[kind]
        if len(members) < 2:
            continue
        for extreme, (axis, sign) in EXTREMES.items():
            ranked = sorted(members, key=lambda o, a=axis, s=sign: s * o.centre[a])
            if abs(ranked[1].centre[axis] - ranked[0].centre[axis]) > scene.margin:
                options.append((kind, extreme, ranked[0]))
    out = []
    for i in rng.permutation(len(options))[:2].tolist():
        kind, extreme, obj = options[i]
        text = (
            _text(scene, "phrase", x=kind)
            if extreme is None
            else _text(scene, "phrase_extreme", x=kind, extreme=extreme)
        )
        out.append(_with("phrase", text, bbox=obj.bbox, object_id=scene.object_ids[id(obj)]))
    return out


def scene_examples(scene, rng: np.random.Generator) -> dict[str, list[dict]]:
    """Captions (``annotations``) and the examples of every one-image task for ``scene``."""
    examples = {
        "annotations": _captions(scene, rng),
        "itm": _itm(scene, rng),
        "vqa": _vqa(scene, rng),
        "ve": _ve(scene, rng),
        "grounding": _grounding(scene, rng),
        "count": _count(scene, rng),
    }
    for items in examples.values():
        for item in items:
            item["image_id"] = scene.id
    return examples


def _pair_statement(left, right, rng, truth: bool) -> tuple[str, dict]:
    """A statement about two scenes with the wanted truth value (a random kind among those that fit)."""
    in_left, in_right = set(left.kinds), set(right.kinds)
    n_left, n_right = len(left.objects), len(right.objects)
    kinds = ["more", "both", "total", "only"]
    for kind in rng.permutation(kinds).tolist():
        if kind == "more" and n_left != n_right and (n_left > n_right) == truth:
            return _text(left, "pair_more")
        if kind == "both":
            pool = sorted(in_left & in_right) if truth else sorted(in_left - in_right)
            if pool:
                return _text(left, "pair_both", x=_pick(rng, pool))
        if kind == "total":
            x = _pick(rng, sorted(in_left | in_right))
            total = left.count(x) + right.count(x)
            n = total if truth else _pick(rng, [t for t in range(1, 13) if 0 < abs(t - total) <= 2])
            return _text(left, "pair_total", x=x, n=n)
        if kind == "only":
            alone = sorted(in_left ^ in_right)
            if alone:
                x = _pick(rng, alone)
                side = "left" if x in in_left else "right"
                if not truth:
                    side = "right" if side == "left" else "left"
                return _text(left, "pair_only", x=x, side=side)
    raise AssertionError("unreachable: a 'total' statement always fits")


def split_pairs(scenes: list, rng: np.random.Generator) -> list[dict]:
    """One NLVR2-style example per scene of a split: it and a partner (half the time one sharing an emoji)."""
    holders: dict[int, list] = {}
    for scene in scenes:
        for kind in scene.kinds:
            holders.setdefault(kind, []).append(scene)
    out = []
    if len(scenes) < 2:
        return out
    for left in scenes:
        sharing = [s for k in left.kinds for s in holders[k] if s is not left]
        if sharing and rng.random() < 0.5:
            right = _pick(rng, sharing)
        else:
            right = left
            while right is left:
                right = _pick(rng, scenes)
        truth = bool(rng.random() < 0.5)
        text, meta = _pair_statement(left, right, rng, truth)  # "total" always fits
        out.append({"image_ids": [left.id, right.id], "statement": text, "label": truth, **meta})
    return out
