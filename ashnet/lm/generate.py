"""Answering with the language model: greedy generation after shared demonstrations, and k-shot accuracy."""

from __future__ import annotations

import inspect
import random
import statistics
from collections.abc import Callable
from functools import cache

import torch
from transformers import DynamicCache

from .prefix import VisionPrefixLM
from .prompts import Encoded, collate, encode_episode, exact_match
from .text_tasks import Example

__all__ = ["generate_answers", "kshot_accuracy"]

Features = Callable[[list], "torch.Tensor | None"]


@cache
def _cache_argument(forward) -> str:
    """The key/value cache argument's name (5.x: ``cache``; before: ``past_key_values``)."""
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _context(vlm: VisionPrefixLM, demos: list[Example]) -> Encoded:
    if not demos:
        return Encoded()
    # The length is checked once the queries are known (see generate_answers).
    return encode_episode(vlm.tokenizer, demos[:-1], demos[-1], vlm.n_image_tokens, context_length=2**62)


@torch.no_grad()
def generate_answers(
    vlm: VisionPrefixLM,
    demos: list[Example],
    queries: list[Example],
    features: Features = lambda keys: None,
    max_new_tokens: int = 6,
    batch_size: int = 32,
) -> list[str]:
    """Greedy answers to ``queries``, each after the same ``demos`` (the first line of each answer).

    The demonstrations are run once per batch and their key/value cache is shared by every query
    in it; queries are left-padded after the demonstrations (padding masked, positions counted
    from the real tokens), so each answer equals the one generated from ``demos + query`` alone.
    ``features(keys)`` returns the image features ``[n, M, d]`` for image keys (see
    :func:`ashnet.lm.prefix.image_features`).

    Raises
    ------
    ValueError
        An empty question, or demonstrations + query + ``max_new_tokens`` longer than the context window.
    """
    vlm.eval()
    context = _context(vlm, demos)
    encoded = [
        encode_episode(vlm.tokenizer, [], q, vlm.n_image_tokens, vlm.context_length, with_answer=False)
        for q in queries
    ]
    longest = len(context) + max((len(e) for e in encoded), default=0) + max_new_tokens
    if longest > vlm.context_length:
        raise ValueError(
            f"the prompt is {longest} tokens ({len(demos)} demonstrations, the longest query and "
            f"{max_new_tokens} answer tokens) but the language model's context window is "
            f"{vlm.context_length} tokens; use fewer shots"
        )
    base = vlm.base
    name = _cache_argument(type(base.model).forward)
    answers: list[str] = []
    for start in range(0, len(encoded), batch_size):
        chunk = encoded[start : start + batch_size]
        n = len(chunk)
        kv = DynamicCache()  # filled in place by every forward pass below
        if len(context):
            c = collate([context], vlm.pad_id)
            vlm.hidden(c, features(c.images), use_cache=True, **{name: kv})
            kv.batch_repeat_interleave(n)
        q = collate(chunk, vlm.pad_id, left=True)
        mask = torch.cat([torch.ones(n, len(context), dtype=torch.long), q.attention_mask], dim=1)
        positions = len(context) + (q.attention_mask.cumsum(1) - 1).clamp(min=0)
        embeds = vlm.embed(q.ids, q.image_mask, features(q.images))
        tokens = [[] for _ in range(n)]
        done = torch.zeros(n, dtype=torch.bool)
        for _ in range(max_new_tokens):
            out = base.model(
                inputs_embeds=embeds,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **{name: kv},
            )
            nxt = base.lm_head(out.last_hidden_state[:, -1]).argmax(-1)
            for i in range(n):
                if not done[i]:
                    tokens[i].append(int(nxt[i]))
                    text = vlm.tokenizer.decode(tokens[i])
                    done[i] = "\n" in text.lstrip() or nxt[i] == vlm.tokenizer.eos_token_id
            if bool(done.all()):
                break
            embeds = base.get_input_embeddings()(nxt[:, None])
            mask = torch.cat([mask, torch.ones(n, 1, dtype=torch.long)], dim=1)
            positions = positions[:, -1:] + 1
        for t in tokens:
            text = vlm.tokenizer.decode(t, skip_special_tokens=True).strip()
            answers.append(text.split("\n")[0].strip())
    return answers


def kshot_accuracy(
    vlm: VisionPrefixLM,
    pool: list[Example],
    queries: list[Example],
    shots: int,
    features: Features = lambda keys: None,
    seeds: tuple[int, ...] = (0, 1, 2),
    batch_size: int = 32,
) -> dict:
    """Exact-match accuracy (percent, after :func:`~ashnet.lm.prompts.normalize_answer`) of
    ``shots``-shot in-context answering.

    For each seed one set of ``shots`` demonstrations is drawn from ``pool`` (the training split)
    and shared by every query. Returns ``accuracy`` (mean over seeds), ``sd``, ``per_seed`` and
    the first seed's ``predictions`` and ``correct`` (per question: for paired comparisons of runs).
    """
    if not queries:
        raise ValueError("no questions to evaluate")
    per_seed, first = [], None
    for seed in seeds if shots else seeds[:1]:  # without demonstrations every seed gives the same answers
        demos = random.Random(seed).sample(pool, shots) if shots else []
        predicted = generate_answers(vlm, demos, queries, features, batch_size=batch_size)
        correct = [exact_match(p, q.answer) for p, q in zip(predicted, queries, strict=True)]
        per_seed.append(100.0 * sum(correct) / len(queries))
        first = first or (predicted, correct)
    return {
        "shots": shots,
        "accuracy": statistics.mean(per_seed),
        "sd": statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0,
        "per_seed": per_seed,
        "predictions": first[0],
        "correct": first[1],
    }
