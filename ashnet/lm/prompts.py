"""Prompts for the language model: examples (image, question, answer) as token ids with image slots."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from .text_tasks import Example

__all__ = ["Encoded", "Batch", "encode_episode", "collate", "normalize_answer", "exact_match"]

IGNORE = -100


@dataclass
class Encoded:
    """One token sequence: ``ids`` (image slots hold the pad id), ``labels`` (``-100`` outside the
    scored answer), ``image_mask`` (true on image slots) and the keys of its images in order."""

    ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    image_mask: list[bool] = field(default_factory=list)
    images: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def add_text(self, ids: list[int], scored: bool) -> None:
        self.ids += ids
        self.labels += ids if scored else [IGNORE] * len(ids)
        self.image_mask += [False] * len(ids)

    def add_image(self, key, n_tokens: int, pad_id: int) -> None:
        self.ids += [pad_id] * n_tokens
        self.labels += [IGNORE] * n_tokens
        self.image_mask += [True] * n_tokens
        self.images.append(key)


@dataclass
class Batch:
    """Padded sequences ``[B, L]``: ids, attention mask, labels, image mask; image keys row by row."""

    ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    image_mask: torch.Tensor
    images: list


def _prompt(example: Example) -> str:
    if example.question is None:
        return "Caption:"
    if not isinstance(example.question, str) or not example.question.strip():
        raise ValueError(f"empty question (answer {example.answer!r}); every question needs some text")
    return f"Question: {example.question.strip()}\nAnswer:"


def encode_episode(
    tokenizer,
    demos: list[Example],
    query: Example,
    n_image_tokens: int,
    context_length: int,
    with_answer: bool = True,
) -> Encoded:
    """Demonstrations then the query, each ``[image] Question: q\\nAnswer: a\\n``.

    A caption example (``question=None``) reads ``[image] Caption: c\\n``. Only the query's answer
    is scored (the labels), as in MetaICL. ``with_answer=False`` stops after the query's
    ``Answer:`` (for generation).

    Raises
    ------
    ValueError
        An empty question, or a prompt longer than ``context_length`` tokens (the message names both).
    """
    out = Encoded()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for i, example in enumerate([*demos, query]):
        is_query = i == len(demos)
        if example.image is not None:
            out.add_image(example.image, n_image_tokens, pad)
        out.add_text(tokenizer(_prompt(example), add_special_tokens=False).input_ids, scored=False)
        if with_answer or not is_query:
            answer = tokenizer(f" {example.answer.strip()}\n", add_special_tokens=False).input_ids
            out.add_text(answer, scored=is_query)
    if len(out) > context_length:
        raise ValueError(
            f"the prompt is {len(out)} tokens ({len(demos)} demonstrations) but the language model's "
            f"context window is {context_length} tokens; use fewer shots or shorter questions"
        )
    return out


def collate(sequences: list[Encoded], pad_id: int, left: bool = False) -> Batch:
    """Pad to the longest sequence, on the right (training) or on the left (generation)."""
    length = max(len(s) for s in sequences)
    rows = {"ids": [], "mask": [], "labels": [], "image": []}
    for s in sequences:
        n = length - len(s)

        def padded(values, fill, n=n):
            return [fill] * n + values if left else values + [fill] * n

        rows["ids"].append(padded(s.ids, pad_id))
        rows["mask"].append(padded([1] * len(s), 0))
        rows["labels"].append(padded(s.labels, IGNORE))
        rows["image"].append(padded(s.image_mask, False))
    return Batch(
        ids=torch.tensor(rows["ids"]),
        attention_mask=torch.tensor(rows["mask"]),
        labels=torch.tensor(rows["labels"]),
        image_mask=torch.tensor(rows["image"]),
        images=[key for s in sequences for key in s.images],
    )


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = re.compile(r"[^\w\s-]")
_NUMBER_WORDS = dict(
    zip("zero one two three four five six seven eight nine ten".split(), map(str, range(11)), strict=True)
)


def normalize_answer(text: str) -> str:
    """VQA-style normalisation: the first line, lower case, no punctuation or articles, number words as
    digits, single spaces (``" The Red."`` -> ``"red"``, ``"two"`` -> ``"2"``)."""
    line = text.strip().split("\n")[0].lower().replace("gray", "grey")
    words = _ARTICLES.sub(" ", _PUNCTUATION.sub(" ", line)).split()
    return " ".join(_NUMBER_WORDS.get(w, w) for w in words)


def exact_match(prediction: str, answer: str) -> bool:
    """Whether the normalised prediction equals the normalised answer."""
    return normalize_answer(prediction) == normalize_answer(answer)
