"""Multiple-choice scene tasks scored by image-text similarity, per language: recognition, colour, counting,
spatial relation, image-text matching, unrelatedness and rationale choice.

A dual encoder (ASH-Net or its ANN-only baseline) answers by picking the candidate text closest to
the image. Every task is worded in the language asked (:mod:`ashnet.data.scene_languages`); an
example a language cannot word is left out of that language's score.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .data.scene_examples import OPPOSITE
from .data.scene_languages import COLOURS, LANGUAGES, word

__all__ = ["CHOICE_TASKS", "CHANCE", "Choice", "scene_choices", "choice_accuracy"]

CHOICE_TASKS = ("recognise", "colour", "count", "relation", "itm", "unrelated", "rationale")


@dataclass(frozen=True)
class Choice:
    """One question: the image file, the candidate texts and the index of the right one."""

    image: Path
    candidates: tuple[str, ...]
    answer: int


def _names(data: dict, lang: str) -> dict[int, str]:
    key = "name" if lang == "en" else f"name_{lang}"
    return {c["id"]: c[key] for c in data["categories"] if key in c}


def _worded(lang: str, options: list[tuple[str, dict]], names: dict[int, str]) -> tuple[str, ...] | None:
    """Every option worded (emoji slots named), or None if one cannot be."""
    texts = []
    for template, slots in options:
        filled = dict(slots)
        for key in ("x", "y", "z", "w"):
            if key in filled:
                if filled[key] not in names:
                    return None
                filled[key] = names[filled[key]]
        text = word(lang, template, **filled)
        if text is None:
            return None
        texts.append(text)
    return tuple(texts)


def _options(task: str, example: dict, data: dict) -> tuple[list[tuple[str, dict]], int] | None:
    slots = example.get("slots", {})
    if task == "recognise":
        options = [("phrase", {"x": c}) for c in example["candidates"]]
        return options, example["candidates"].index(example["answer"])
    if task == "colour":
        return [("r_colour", {"x": slots["x"], "colour": c}) for c in COLOURS], COLOURS.index(
            example["answer"]
        )
    if task == "count":
        if example["answer"] < 1:
            return None
        return [("caption_one", {"x": slots["x"], "n": n}) for n in range(1, 7)], example["answer"] - 1
    if task == "unrelated":
        ids = example["candidates"]
        options = []
        for odd in ids:
            rest = [c for c in ids if c != odd]
            claim = {"x": rest[0], "y": rest[1], "z": rest[2], "w": odd}
            options.append(("r_unrelated", {**claim, "family": slots["family"], "other": slots["other"]}))
        return options, ids.index(example["answer"])
    raise ValueError(f"unknown choice task {task!r}; known: {', '.join(CHOICE_TASKS)}")


def scene_choices(path: str | Path, task: str, lang: str, split: str = "test") -> list[Choice]:
    """The questions of one choice task in one language and split of a ``scenes.json``."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; scenes are worded in {', '.join(LANGUAGES)}")
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    images = {i["id"]: path.parent / i["file_name"] for i in data["images"] if i["split"] == split}
    names = _names(data, lang)
    out = []
    if task == "rationale":
        key = "candidates" if lang == "en" else f"candidates_{lang}"
        for ex in data["tasks"]["rationale"]:
            if ex["image_id"] in images and key in ex:
                out.append(Choice(images[ex["image_id"]], tuple(ex[key]), ex["answer"]))
        return out
    if task == "itm":  # the true caption against its hard negative, per scene
        pairs: dict[int, dict[int, dict]] = {}
        for ex in data["tasks"]["itm"]:
            pairs.setdefault(ex["image_id"], {})[ex["label"]] = ex
        for image_id, pair in pairs.items():
            texts = [pair[label].get("caption" if lang == "en" else f"caption_{lang}") for label in (1, 0)]
            if image_id in images and None not in texts and len(set(texts)) == 2:
                out.append(Choice(images[image_id], tuple(texts), 0))
        return out
    if task == "relation":  # the asked relation against its opposite; the true one is the answer
        for ex in data["tasks"]["vqa"]:
            if ex.get("type") != "relation" or ex["image_id"] not in images:
                continue
            asked = ex["slots"]["relation"]
            options = [("caption_relation", {**ex["slots"], "relation": r}) for r in (asked, OPPOSITE[asked])]
            texts = _worded(lang, options, names)
            if texts is not None:
                out.append(Choice(images[ex["image_id"]], texts, 0 if ex["answer"] == "yes" else 1))
        return out
    source = "count" if task == "count" else task
    for ex in data["tasks"][source]:
        if ex["image_id"] not in images:
            continue
        made = _options(task, ex, data)
        if made is None:
            continue
        texts = _worded(lang, made[0], names)
        if texts is not None:
            out.append(Choice(images[ex["image_id"]], texts, made[1]))
    return out


# Chance accuracy of each task (percent).
CHANCE = {
    "recognise": 25.0,
    "colour": 100 / len(COLOURS),
    "count": 100 / 6,
    "relation": 50.0,
    "itm": 50.0,
    "unrelated": 25.0,
    "rationale": 25.0,
}


@torch.no_grad()
def choice_accuracy(
    model,
    path: str | Path,
    tasks: tuple[str, ...] = CHOICE_TASKS,
    languages: tuple[str, ...] = LANGUAGES,
    split: str = "test",
    image_size: int = 128,
    embed_images: Callable | None = None,
) -> dict[str, dict[str, tuple[float, int]]]:
    """``{lang: {task: (accuracy in percent, n questions)}}`` of a dual encoder on a scenes file.

    Each question is right when the image embedding is closest to the right candidate's text
    embedding. ``embed_images``: ``paths -> [n, E]`` (default: load and encode with ``model``).
    """
    from .data.images import load_image

    model.eval()
    device = next(model.parameters()).device
    cache: dict[Path, torch.Tensor] = {}

    def image_embeddings(paths: list[Path]) -> torch.Tensor:
        missing = [p for p in dict.fromkeys(paths) if p not in cache]
        for s in range(0, len(missing), 64):
            part = missing[s : s + 64]
            if embed_images is not None:
                embedded = embed_images(part)
            else:
                batch = torch.stack([load_image(p, image_size) for p in part]).to(device)
                embedded = model.encode_image(batch).embedding.float().cpu()
            cache.update(zip(part, embedded, strict=True))
        return torch.stack([cache[p] for p in paths])

    results: dict[str, dict[str, tuple[float, int]]] = {}
    for lang in languages:
        results[lang] = {}
        for task in tasks:
            choices = scene_choices(path, task, lang, split)
            if not choices:
                continue
            images = image_embeddings([c.image for c in choices])
            texts = sorted({t for c in choices for t in c.candidates})
            index = {t: i for i, t in enumerate(texts)}
            embedded = torch.cat(
                [model.encode_text(texts[s : s + 256]).float().cpu() for s in range(0, len(texts), 256)]
            )
            right = 0
            for image, choice in zip(images, choices, strict=True):
                scores = embedded[[index[t] for t in choice.candidates]] @ image
                right += int(scores.argmax()) == choice.answer
            results[lang][task] = (100.0 * right / len(choices), len(choices))
    return results
