"""Greedy generation with shared demonstrations: equal to decoding each full prompt alone; images matter."""

import pytest
import torch

from ashnet.lm.generate import generate_answers, kshot_accuracy
from ashnet.lm.loader import load_language_model
from ashnet.lm.prefix import Projector, VisionPrefixLM
from ashnet.lm.prompts import collate, encode_episode
from ashnet.lm.text_tasks import Example


@pytest.fixture(scope="module")
def vlm(tiny_llama):
    lm = load_language_model(tiny_llama)
    torch.manual_seed(1)
    with torch.no_grad():  # larger weights than the init, so greedy answers differ between prompts
        for p in lm.model.parameters():
            p.mul_(8.0) if p.ndim > 1 else None
    return VisionPrefixLM(
        lm.model, lm.tokenizer, Projector(6, lm.model.config.hidden_size, 2, from_vector=False)
    )


def _features():
    g = torch.Generator().manual_seed(0)
    table = {k: torch.randn(2, 6, generator=g) for k in "abcdef"}
    return lambda keys: torch.stack([table[k] for k in keys]) if keys else None


@torch.no_grad()
def _reference(vlm, demos, query, features, steps):
    """Greedy decoding of demos + query as one sequence, recomputed from scratch at every step."""
    e = encode_episode(vlm.tokenizer, demos, query, 2, 256, with_answer=False)
    batch = collate([e], vlm.pad_id)
    embeds = vlm.embed(batch.ids, batch.image_mask, features(batch.images))
    out = []
    for _ in range(steps):
        hidden = vlm.base.model(inputs_embeds=embeds).last_hidden_state
        token = vlm.base.lm_head(hidden[:, -1]).argmax(-1)
        out.append(int(token))
        if "\n" in vlm.tokenizer.decode(out).lstrip():
            break
        embeds = torch.cat([embeds, vlm.base.get_input_embeddings()(token[:, None])], dim=1)
    return vlm.tokenizer.decode(out, skip_special_tokens=True).strip().split("\n")[0].strip()


@pytest.mark.parametrize("n_demos", [0, 2])
def test_batched_shared_context_equals_each_prompt_alone(vlm, n_demos):
    features = _features()
    demos = [Example("what color?", "red", "a"), Example("what shape is it?", "circle", "b")][:n_demos]
    queries = [
        Example("what color is the shape?", "x", "c"),
        Example("is it?", "y", "d"),
        Example("count?", "z"),
    ]
    answers = generate_answers(vlm, demos, queries, features, max_new_tokens=5, batch_size=2)
    expected = [_reference(vlm, demos, q, features, 5) for q in queries]
    assert answers == expected
    assert len(set(answers)) > 1  # the check is not vacuous


def test_the_image_changes_the_prediction(vlm):
    e = encode_episode(vlm.tokenizer, [], Example("what color?", "red", "a"), 2, 256)
    batch = collate([e, e], vlm.pad_id)
    logits, _ = vlm.answer_logits(batch, torch.randn(2, 2, 6))
    n = len(logits) // 2
    assert not torch.allclose(logits[:n], logits[n:])


def test_context_window_error_counts_demonstrations_and_answer(vlm):
    demos = [Example("what color is the shape on the left of the image?", "red", "a")] * 12
    with pytest.raises(ValueError, match=r"12 demonstrations.*context window is 256 tokens"):
        generate_answers(vlm, demos, [Example("what?", "x", "b")], _features())


def test_kshot_accuracy_scores_exact_matches(vlm):
    features = _features()
    queries = [Example("what color?", "x", "c"), Example("what shape?", "y", "d")]
    predicted = generate_answers(vlm, [], queries, features)
    truth = [Example(q.question, p or "none", q.image) for q, p in zip(queries, predicted, strict=True)]
    truth[1] = Example(truth[1].question, "certainly not this", truth[1].image)
    result = kshot_accuracy(vlm, truth, truth, 0, features)
    assert result["accuracy"] == pytest.approx(50.0 if predicted[0] else 0.0)
    assert result["per_seed"] == [result["accuracy"]]  # 0-shot needs one pass only
    assert result["correct"] == [bool(predicted[0]), False]
