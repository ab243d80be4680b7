"""Evaluating the language side: k-shot VQA, held-out perplexity and in-context text skill."""

from __future__ import annotations

import math
import random

import torch

from .generate import kshot_accuracy
from .prefix import VisionPrefixLM
from .prompts import Encoded, collate
from .text_tasks import HELD_OUT_TASKS, prose, text_tasks

__all__ = ["perplexity", "text_skill", "language_skill", "prose_chunks"]


def prose_chunks(tokenizer, split: str, n: int, length: int, seed: int = 0) -> list[Encoded]:
    """``n`` paragraphs of :func:`~ashnet.lm.text_tasks.prose` (``split``), each cut to ``length`` tokens,
    every token scored (plain language modelling)."""
    paragraphs = list(prose(split))
    random.Random(seed).shuffle(paragraphs)
    chunks = []
    for text in paragraphs[:n]:
        e = Encoded()
        e.add_text(tokenizer(text, add_special_tokens=False).input_ids[:length], scored=True)
        chunks.append(e)
    return chunks


@torch.no_grad()
def perplexity(vlm: VisionPrefixLM, chunks: list[Encoded], batch_size: int = 8) -> float:
    """Token-level perplexity of ``chunks`` (exp of the mean next-token cross-entropy)."""
    vlm.eval()
    total, count = 0.0, 0
    for s in range(0, len(chunks), batch_size):
        batch = collate(chunks[s : s + batch_size], vlm.pad_id)
        logits, targets = vlm.answer_logits(batch)
        total += float(torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum"))
        count += len(targets)
    return math.exp(total / count)


def text_skill(vlm: VisionPrefixLM, shots: int = 4, n_queries: int = 20, seeds=(0, 1, 2)) -> dict[str, float]:
    """``shots``-shot exact-match accuracy (percent) on the held-out text tasks, test names only."""
    scores = {}
    for task in text_tasks():
        if task.name in HELD_OUT_TASKS:
            queries = list(task.test[:n_queries])
            scores[task.name] = kshot_accuracy(vlm, list(task.train), queries, shots, seeds=seeds)["accuracy"]
    return scores


def language_skill(
    vlm: VisionPrefixLM,
    n_chunks: int = 24,
    length: int = 64,
    shots: int = 4,
    n_queries: int = 20,
    seeds: tuple[int, ...] = (0, 1, 2),
) -> dict:
    """Held-out perplexity (Python reference prose, test topics) and in-context text accuracy."""
    chunks = prose_chunks(vlm.tokenizer, "test", n_chunks, length)
    tasks = text_skill(vlm, shots, n_queries, seeds)
    return {
        "perplexity": perplexity(vlm, chunks),
        "text_tasks": tasks,
        "text_accuracy": sum(tasks.values()) / len(tasks),
    }
