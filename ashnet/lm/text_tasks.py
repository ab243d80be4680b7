"""Offline text for the language model: in-context tasks over emoji names (MetaICL) and held-out prose."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

__all__ = [
    "Example",
    "TextTask",
    "text_tasks",
    "emoji_names",
    "sample_episode",
    "prose",
    "HELD_OUT_TASKS",
]

COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "black", "white", "grey", "pink")
SHAPES = ("circle", "square", "triangle", "diamond", "heart", "star", "rectangle")
SKIN_TONES = ("medium-light", "medium-dark", "light", "medium", "dark")
PEOPLE = ("man", "woman", "person")
NUMBERS = {n: str(n) for n in range(1, 10)}
# Tasks kept out of meta-training, to measure in-context text skill before and after vision training.
HELD_OUT_TASKS = ("colour", "last word", "is a face")


@dataclass(frozen=True)
class Example:
    """One question and its answer; ``image`` is ``None`` for text, else an image key (path or id)."""

    question: str
    answer: str
    image: object = None


@dataclass(frozen=True)
class TextTask:
    """A named task: its examples on the train split and on the test split of the emoji names."""

    name: str
    train: tuple[Example, ...]
    test: tuple[Example, ...]


@cache
def emoji_names() -> dict[str, tuple[str, ...]]:
    """Readable English names of the fully-qualified emojis, per split (the OpenMoji split by concept)."""
    import emoji

    from ..data.openmoji import _is_flag, _readable, emoji_split

    names: dict[str, set[str]] = {"train": set(), "val": set(), "test": set()}
    for text, data in emoji.EMOJI_DATA.items():
        if data["status"] == emoji.STATUS["fully_qualified"]:
            name = _readable(data["en"])
            names[emoji_split(text)].add(f"flag of {name}" if _is_flag(text) else name)
    return {split: tuple(sorted(n)) for split, n in names.items()}


def _only(words: list[str], vocabulary) -> str | None:
    found = [w for w in vocabulary if w in words]
    return found[0] if len(found) == 1 else None


def _colour(name, rng):
    w = name.replace("gray", "grey").split()
    c = _only(w, COLOURS)
    return (f"what color is mentioned in '{name}'?", c) if c else None


def _shape(name, rng):
    s = _only(name.split(), SHAPES)
    return (f"what shape is mentioned in '{name}'?", s) if s else None


def _has_colour(name, rng):
    w = name.replace("gray", "grey").split()
    named = [x for x in COLOURS if x in w]
    if not named:
        return None
    c = rng.choice(named) if rng.random() < 0.5 else rng.choice(COLOURS)
    return f"does '{name}' mention the color {c}?", "yes" if c in w else "no"


def _first(name, rng):
    return f"what is the first word of '{name}'?", name.split()[0]


def _last(name, rng):
    return f"what is the last word of '{name}'?", name.split()[-1]


def _count(name, rng):
    n = len(name.split())
    return (f"how many words are in '{name}'?", NUMBERS[n]) if n in NUMBERS else None


def _tone(name, rng):
    m = re.search(r"(medium-light|medium-dark|light|medium|dark) skin tone", name)
    return (f"what skin tone is in '{name}'?", m.group(1)) if m else None


def _who(name, rng):
    p = _only(name.split(), PEOPLE)
    return (f"who is shown in '{name}'?", p) if p else None


def _face(name, rng):
    return f"is '{name}' a face?", "yes" if "face" in name.split() else "no"


def _flag(name, rng):
    return (f"which flag is '{name}'?", name[len("flag of ") :]) if name.startswith("flag of ") else None


_MAKERS: dict[str, Callable] = {
    "colour": _colour,
    "shape": _shape,
    "mentions colour": _has_colour,
    "first word": _first,
    "last word": _last,
    "word count": _count,
    "skin tone": _tone,
    "who": _who,
    "is a face": _face,
    "flag": _flag,
}


@cache
def text_tasks(seed: int = 0) -> tuple[TextTask, ...]:
    """The in-context text tasks (question-answer templates over emoji names), built offline.

    Colour, shape, yes/no and counting questions echo the question types of VQA; first/last word,
    skin tone, who and flag are extraction tasks. Train and test examples come from disjoint emoji
    names (the OpenMoji split), so in-context evaluation never sees a training name.
    """
    names = emoji_names()
    tasks = []
    for task, make in _MAKERS.items():
        rng = random.Random(f"{seed}-{task}")
        parts = {}
        for split in ("train", "test"):
            made = (make(n, rng) for n in names[split])
            parts[split] = _balanced([Example(q, a) for q, a in (m for m in made if m is not None)], rng)
        tasks.append(TextTask(task, parts["train"], parts["test"]))
    return tuple(tasks)


def _balanced(examples: list[Example], rng: random.Random) -> tuple[Example, ...]:
    """Yes/no tasks keep as many "no" as "yes" examples (a random subset of the larger side)."""
    answers = {e.answer for e in examples}
    if answers != {"yes", "no"}:
        return tuple(examples)
    yes = [e for e in examples if e.answer == "yes"]
    no = [e for e in examples if e.answer == "no"]
    n = min(len(yes), len(no))
    kept = set(rng.sample(yes, n) + rng.sample(no, n))
    return tuple(e for e in examples if e in kept)


def sample_episode(
    examples: tuple[Example, ...], shots: int, rng: random.Random
) -> tuple[list[Example], Example]:
    """``shots`` demonstrations and one query, all distinct, drawn from ``examples``."""
    if len(examples) < shots + 1:
        raise ValueError(f"a {shots}-shot episode needs {shots + 1} examples, the task has {len(examples)}")
    picked = rng.sample(examples, shots + 1)
    return picked[:-1], picked[-1]


@cache
def prose(split: str) -> tuple[str, ...]:
    """English prose that ships with Python (the ``pydoc_data`` reference topics), split by topic.

    ``"test"``: every fifth topic in name order (held-out perplexity); ``"train"``: the rest (text
    rehearsal). Paragraphs, whitespace collapsed, those under 80 characters dropped.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    from pydoc_data.topics import topics

    keys = sorted(topics)
    chosen = keys[0::5] if split == "test" else [k for i, k in enumerate(keys) if i % 5]
    paragraphs = []
    for key in chosen:
        for block in topics[key].split("\n\n"):
            text = " ".join(block.split())
            if len(text) >= 80 and not text.startswith((">>>", "...")):
                paragraphs.append(text)
    return tuple(paragraphs)
