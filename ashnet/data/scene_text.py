"""The English wording of the scenes data: templates of captions, questions, statements and phrases.

Every text of ``scenes.json`` is one template of :data:`TEMPLATES` filled with slots: ``x``, ``y``
(emoji names), ``n`` (a count), ``where`` (a quadrant) and ``side`` (``left``/``right``). The
JSON keeps the template name and the slots beside each text, so a builder for another language can
word the same example again without parsing English. Emoji names are invariant before "emoji"
("two dog face emoji"), which avoids pluralising CLDR names.
"""

from __future__ import annotations

__all__ = ["NUMBER_WORDS", "POSITIONS", "RELATIONS", "TEMPLATES", "render"]

# Quadrants of a square scene, named by where an object's box centre lies.
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
# Spatial relations between two objects, by their box centres.
RELATIONS = ("left of", "right of", "above", "below")
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six")

TEMPLATES: dict[str, str] = {
    # captions (COCO "annotations")
    "caption_one": "{n_word} {x} emoji",
    "caption_two": "{n_word} {x} emoji and {m_word} {y} emoji",
    "caption_three": "{n_word} {x} emoji, {m_word} {y} emoji and {k_word} {z} emoji",
    "caption_relation": "a {x} emoji {relation} a {y} emoji",
    # visual questions (answers: digits, yes/no, a quadrant)
    "count_all": "how many emoji are there?",
    "count": "how many {x} emoji are there?",
    "exists": "is there a {x} emoji?",
    "position": "where is the {x} emoji?",
    "relation": "is the {x} emoji {relation} the {y} emoji?",
    # statements about one image (visual entailment)
    "ve_count": "there are exactly {n} {x} emoji",
    "ve_exists": "there is a {x} emoji in the picture",
    "ve_position": "the {x} emoji is at the {where}",
    "ve_relation": "the {x} emoji is {relation} the {y} emoji",
    # neutral statements: what a picture cannot show
    "ve_neutral_order": "the {x} emoji was placed on the canvas before the {y} emoji",
    "ve_neutral_owner": "somebody picked the {x} emoji as a favourite",
    "ve_neutral_outside": "a {x} emoji lies just outside the picture",
    # statements about two images (NLVR2-style; "left"/"right" name the images)
    "pair_more": "the left image has more emoji than the right image",
    "pair_both": "both images contain a {x} emoji",
    "pair_total": "there are exactly {n} {x} emoji in the two images together",
    "pair_only": "only the {side} image contains a {x} emoji",
    # phrases to ground
    "phrase": "the {x} emoji",
    "phrase_extreme": "the {extreme} {x} emoji",
}


def render(template: str, **slots) -> str:
    """The English text of ``template`` with ``slots``; ``n``-like slots also get a ``*_word`` form."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown scene template {template!r}; known: {', '.join(TEMPLATES)}")
    text = TEMPLATES[template]
    words = {f"{k}_word": NUMBER_WORDS[v] for k, v in slots.items() if f"{{{k}_word}}" in text}
    return text.format(**slots, **words)
