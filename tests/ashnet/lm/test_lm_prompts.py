"""Prompts: scored tokens, image slots, context-window and empty-question errors, normalisation."""

import pytest

from ashnet.lm.loader import load_language_model
from ashnet.lm.prompts import IGNORE, collate, encode_episode, exact_match, normalize_answer
from ashnet.lm.text_tasks import Example


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):
    return load_language_model(tiny_llama).tokenizer


def test_only_the_query_answer_is_scored(tokenizer):
    demos = [Example("what color?", "red", "a.png"), Example("what shape?", "circle", "b.png")]
    query = Example("what color is it?", "blue", "c.png")
    e = encode_episode(tokenizer, demos, query, n_image_tokens=3, context_length=256)
    scored = [t for t, label in zip(e.ids, e.labels, strict=True) if label != IGNORE]
    assert tokenizer.decode(scored) == " blue\n"
    assert sum(e.image_mask) == 9 and e.images == ["a.png", "b.png", "c.png"]
    assert len(e.ids) == len(e.labels) == len(e.image_mask)


def test_generation_prompt_stops_after_answer_marker(tokenizer):
    e = encode_episode(tokenizer, [], Example("what color?", "red"), 0, 256, with_answer=False)
    assert tokenizer.decode(e.ids).endswith("Answer:")
    assert all(label == IGNORE for label in e.labels)


def test_prompt_longer_than_context_names_both_lengths(tokenizer):
    demos = [Example("what color is the big shape on the left?", "red")] * 8
    with pytest.raises(
        ValueError, match=r"prompt is \d+ tokens \(8 demonstrations\).*context window is 40 tokens"
    ):
        encode_episode(tokenizer, demos, Example("what color?", "red"), 0, context_length=40)


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_refused(tokenizer, question):
    with pytest.raises(ValueError, match="empty question"):
        encode_episode(tokenizer, [], Example(question, "red"), 0, 256)


def test_collate_pads_on_the_requested_side(tokenizer):
    short = encode_episode(tokenizer, [], Example("a?", "b"), 0, 256)
    long = encode_episode(tokenizer, [], Example("what is the colour of it?", "b"), 0, 256)
    right = collate([short, long], pad_id=0)
    left = collate([short, long], pad_id=0, left=True)
    n = len(long) - len(short)
    assert right.attention_mask[0, -n:].sum() == 0 and left.attention_mask[0, :n].sum() == 0
    assert (right.labels[0, -n:] == IGNORE).all()


@pytest.mark.parametrize(
    ("prediction", "answer", "same"),
    [
        (" The Red.", "red", True),
        ("two", "2", True),
        ("gray", "grey", True),
        ("red\nblue", "red", True),
        ("a circle", "circle", True),
        ("red", "green", False),
        ("", "no", False),
    ],
)
def test_exact_match_after_normalisation(prediction, answer, same):
    assert exact_match(prediction, answer) is same


def test_normalize_answer_collapses_spaces_and_punctuation():
    assert normalize_answer("  Medium-Light   skin!! ") == "medium-light skin"
