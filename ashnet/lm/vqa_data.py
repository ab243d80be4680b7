"""Question-answer data with images for the language model: the scenes VQA task and easy-vqa, as examples."""

from __future__ import annotations

import json
import random
from pathlib import Path

from ..data import load_pairs
from .text_tasks import Example

__all__ = ["load_vqa", "load_captions"]


def load_vqa(source: str | Path, split: str, limit: int | None = None, seed: int = 0) -> list[Example]:
    """VQA examples (question, answer, image path) of ``split``.

    ``source``: ``"easy-vqa"`` (the packaged set; its ``val`` is carved from the end of train) or a
    scenes file (``ashnet data build scenes``; its ``vqa`` task). ``limit``: a seeded random subset.
    """
    if str(source) == "easy-vqa":
        import easy_vqa

        if split == "test":
            questions, answers, ids = easy_vqa.get_test_questions()
            paths = easy_vqa.get_test_image_paths()
        else:
            questions, answers, ids = easy_vqa.get_train_questions()
            paths = easy_vqa.get_train_image_paths()
            cut = int(0.9 * len(questions))
            sl = slice(None, cut) if split == "train" else slice(cut, None)
            questions, answers, ids = questions[sl], answers[sl], ids[sl]
        items = [Example(q, a, paths[i]) for q, a, i in zip(questions, answers, ids, strict=True)]
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"VQA source {source!r} is neither 'easy-vqa' nor a scenes file")
        data = json.loads(path.read_text(encoding="utf-8"))
        images = {im["id"]: im for im in data["images"]}
        items = [
            Example(
                ex["question"],
                str(ex["answer"]),
                str(path.parent / images[ex["image_id"]]["file_name"]),
            )
            for ex in data["tasks"]["vqa"]
            if images[ex["image_id"]]["split"] == split
        ]
    if not items:
        raise ValueError(f"{source} has no VQA examples in split {split!r}")
    if limit is not None and limit < len(items):
        items = random.Random(seed).sample(items, limit)
    return items


def load_captions(
    pairs: str | Path, split: str = "train", limit: int | None = None, seed: int = 0
) -> list[Example]:
    """Caption examples (``question=None``, the caption as answer) of a pairs file, one per caption."""
    table = load_pairs(pairs).split(split)
    items = [Example(None, c, str(r.path)) for r in table.images for c in r.captions]
    if not items:
        raise ValueError(f"{pairs} has no captions in split {split!r}")
    if limit is not None and limit < len(items):
        items = random.Random(seed).sample(items, limit)
    return items
