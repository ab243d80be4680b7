"""The scenes data's wording in English, Japanese, Swahili and Urdu: templates, rationales, category names.

:func:`word` fills a template of one language with slots: emoji names already in that language
(``x``, ``y``, ``z``, ``w``), counts (``n``, ``m``, ``k``), and English keys that each language
translates (``relation``, ``where``, ``side``, ``extreme``, ``colour``, ``family``; ``locs`` a list
of locations, ``inventory`` a list of ``(count, name)``). English task templates are those of
:mod:`ashnet.data.scene_text`; this module adds the other languages and the templates of the
multilingual tasks (colour, unrelatedness, recognition) and of the rationales.

Choices that keep the sentences grammatical without inflecting CLDR names:

* English and Japanese put the name before "emoji" / 「の絵文字」 (no plural forms needed).
* Swahili treats *emoji* as a class 9/10 noun (*emoji moja ya X*, *emoji mbili za X*): numbers
  and possessives agree with it, never with the name.
* Urdu quotes the name after the noun (*ایموجی «X»*), the usual way of naming a title, so
  postpositions attach to the masculine *ایموجی* (invariant in the oblique) and never force an
  oblique form of the name; verbs agree with the count (ہے / ہیں).

A template a language does not have returns ``None``: the builder then skips that language for
the example instead of emitting a sentence nobody checked.
"""

from __future__ import annotations

from ashnet.data.scene_text import NUMBER_WORDS
from ashnet.data.scene_text import TEMPLATES as ENGLISH_TASKS
from ashnet.data.scene_text import render as render_english

__all__ = ["LANGUAGES", "FAMILIES", "FAMILY_SUBGROUPS", "COLOURS", "LOCATIONS", "word", "answer_word"]

LANGUAGES = ("en", "ja", "sw", "ur")
# Where an object is, on a 3 x 3 grid of the canvas (rationales); the four quadrants of the
# English task templates are among them.
LOCATIONS = (
    "top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right",
)  # fmt: skip
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "pink")

# Categories for unrelatedness: Unicode subgroups -> family, and each family's plural and
# singular (with article) per language. Subgroups that mix unlike things are left out.
FAMILY_SUBGROUPS = {
    "fruit": ("food-fruit",),
    "vegetable": ("food-vegetable",),
    "dish": ("food-prepared", "food-asian"),
    "sweet": ("food-sweet",),
    "drink": ("drink",),
    "mammal": ("animal-mammal",),
    "bird": ("animal-bird",),
    "sea animal": ("animal-marine",),
    "bug": ("animal-bug",),
    "reptile": ("animal-reptile",),
    "flower": ("plant-flower",),
    "plant": ("plant-other",),
    "thing to wear": ("clothing",),
    "tool": ("tool",),
    "building": ("place-building",),
    "flag": ("country-flag",),
    "face": (
        "face-smiling", "face-affection", "face-tongue", "face-hand", "face-neutral-skeptical",
        "face-sleepy", "face-unwell", "face-hat", "face-glasses", "face-concerned", "face-negative",
    ),
}  # fmt: skip
FAMILIES: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "fruit": ("fruits", "a fruit"), "vegetable": ("vegetables", "a vegetable"),
        "dish": ("dishes", "a dish"), "sweet": ("sweets", "a sweet"), "drink": ("drinks", "a drink"),
        "mammal": ("mammals", "a mammal"), "bird": ("birds", "a bird"),
        "sea animal": ("sea animals", "a sea animal"), "bug": ("bugs", "a bug"),
        "reptile": ("reptiles", "a reptile"), "flower": ("flowers", "a flower"),
        "plant": ("plants", "a plant"), "thing to wear": ("things to wear", "a thing to wear"),
        "tool": ("tools", "a tool"), "building": ("buildings", "a building"),
        "flag": ("flags", "a flag"), "face": ("faces", "a face"),
    },
    "ja": {  # no plural: one form
        "fruit": ("果物",) * 2, "vegetable": ("野菜",) * 2, "dish": ("料理",) * 2, "sweet": ("お菓子",) * 2,
        "drink": ("飲み物",) * 2, "mammal": ("哺乳類",) * 2, "bird": ("鳥",) * 2,
        "sea animal": ("海の生き物",) * 2, "bug": ("虫",) * 2, "reptile": ("爬虫類",) * 2,
        "flower": ("花",) * 2, "plant": ("植物",) * 2, "thing to wear": ("身に着けるもの",) * 2,
        "tool": ("道具",) * 2, "building": ("建物",) * 2, "flag": ("旗",) * 2, "face": ("顔",) * 2,
    },
    "sw": {  # plural, singular (noun classes: matunda/tunda, wadudu/mdudu, ...); no reptile word we trust
        "fruit": ("matunda", "tunda"), "vegetable": ("mboga", "mboga"), "dish": ("vyakula", "chakula"),
        "sweet": ("vitamu", "kitamu"), "drink": ("vinywaji", "kinywaji"), "mammal": ("mamalia", "mamalia"),
        "bird": ("ndege", "ndege"), "sea animal": ("wanyama wa baharini", "mnyama wa baharini"),
        "bug": ("wadudu", "mdudu"), "flower": ("maua", "ua"), "plant": ("mimea", "mmea"),
        "thing to wear": ("vitu vya kuvaa", "kitu cha kuvaa"), "tool": ("zana", "zana"),
        "building": ("majengo", "jengo"), "flag": ("bendera", "bendera"), "face": ("nyuso", "uso"),
    },
    "ur": {  # plural, singular with ایک
        "fruit": ("پھل", "ایک پھل"), "vegetable": ("سبزیاں", "ایک سبزی"), "dish": ("پکوان", "ایک پکوان"),
        "sweet": ("مٹھائیاں", "ایک مٹھائی"), "drink": ("مشروبات", "ایک مشروب"),
        "mammal": ("ممالیہ جانور", "ایک ممالیہ جانور"), "bird": ("پرندے", "ایک پرندہ"),
        "sea animal": ("سمندری جانور", "ایک سمندری جانور"), "bug": ("کیڑے", "ایک کیڑا"),
        "reptile": ("رینگنے والے جانور", "ایک رینگنے والا جانور"), "flower": ("پھول", "ایک پھول"),
        "plant": ("پودے", "ایک پودا"), "thing to wear": ("پہننے کی چیزیں", "پہننے کی ایک چیز"),
        "tool": ("اوزار", "ایک اوزار"), "building": ("عمارتیں", "ایک عمارت"), "flag": ("جھنڈے", "ایک جھنڈا"),
        "face": ("چہرے", "ایک چہرہ"),
    },
}  # fmt: skip

# English keys -> words, per language (English uses the keys themselves).
_WORDS = {
    "ja": {
        "relation": {"left of": "左", "right of": "右", "above": "上", "below": "下"},
        "side": {"left": "左", "right": "右"},
        "extreme": {"leftmost": "一番左", "rightmost": "一番右", "topmost": "一番上", "bottommost": "一番下"},
        "where": {
            "top left": "左上", "top": "上", "top right": "右上", "left": "左", "centre": "中央",
            "right": "右", "bottom left": "左下", "bottom": "下", "bottom right": "右下",
        },
        "colour": {
            "red": "赤", "orange": "オレンジ", "yellow": "黄色", "green": "緑", "blue": "青", "purple": "紫",
            "brown": "茶色", "pink": "ピンク",
        },
        "answer": {"yes": "はい", "no": "いいえ"},
    },
    "sw": {
        "relation": {
            "left of": "kushoto mwa", "right of": "kulia mwa", "above": "juu ya", "below": "chini ya",
        },
        "side": {"left": "kushoto", "right": "kulia"},
        "extreme": {
            "leftmost": "kushoto kabisa", "rightmost": "kulia kabisa", "topmost": "juu kabisa",
            "bottommost": "chini kabisa",
        },
        "where": {
            "top left": "juu kushoto", "top": "juu", "top right": "juu kulia", "left": "kushoto",
            "centre": "katikati", "right": "kulia", "bottom left": "chini kushoto", "bottom": "chini",
            "bottom right": "chini kulia",
        },
        "colour": {
            "red": "nyekundu", "orange": "machungwa", "yellow": "njano", "green": "kijani", "blue": "bluu",
            "purple": "zambarau", "brown": "kahawia", "pink": "waridi",
        },
        "answer": {"yes": "ndiyo", "no": "hapana"},
    },
    "ur": {
        "relation": {
            "left of": "کے بائیں جانب", "right of": "کے دائیں جانب", "above": "کے اوپر", "below": "کے نیچے",
        },
        "side": {"left": "بائیں", "right": "دائیں"},
        "extreme": {
            "leftmost": "سب سے بائیں والا", "rightmost": "سب سے دائیں والا", "topmost": "سب سے اوپر والا",
            "bottommost": "سب سے نیچے والا",
        },
        "where": {
            "top left": "اوپر بائیں جانب", "top": "اوپر", "top right": "اوپر دائیں جانب",
            "left": "بائیں جانب",
            "centre": "درمیان میں", "right": "دائیں جانب", "bottom left": "نیچے بائیں جانب", "bottom": "نیچے",
            "bottom right": "نیچے دائیں جانب",
        },
        "colour": {
            "red": "سرخ", "orange": "نارنجی", "yellow": "پیلا", "green": "سبز", "blue": "نیلا",
            "purple": "جامنی",
            "brown": "بھورا", "pink": "گلابی",
        },
        "answer": {"yes": "ہاں", "no": "نہیں"},
    },
}  # fmt: skip
_NUMBERS = {
    "sw": ("sifuri", "moja", "mbili", "tatu", "nne", "tano", "sita", "saba", "nane", "tisa", "kumi",
           "kumi na moja", "kumi na mbili"),
    "ur": ("صفر", "ایک", "دو", "تین", "چار", "پانچ", "چھ", "سات", "آٹھ", "نو", "دس", "گیارہ", "بارہ"),
}  # fmt: skip

# The multilingual tasks' and the rationales' templates. {cx}: x counted ("two dog face emoji"),
# {n_word}: n as a word, {locs}: joined locations, {inventory}: joined counted names, {is}: the
# verb agreeing with n where a language needs one. English tasks come from scene_text.
TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "caption_four": "{cx}, {cy}, {cz} and {cw}",
        "recognise": "which emoji is in the picture?",
        "colour": "what is the main colour of the {x} emoji?",
        "unrelated": "which emoji does not belong with the others?",
        "r_none": "there is no {x} emoji in the picture",
        "r_count": "there {is} {cx}: at the {locs}",
        "r_total": "there {is} {n_word} emoji in all: {inventory}",
        "r_position": "the {x} emoji is at the {where}",
        "r_relation": "the {x} emoji is at the {wx} and the {y} emoji at the {wy}",
        "r_colour": "the main colour of the {x} emoji is {colour}",
        "r_unrelated": "the {x}, {y} and {z} emoji show {family_pl}, but the {w} emoji shows {other_sg}",
        "r_neutral": "the picture cannot show whether this is true",
        "r_pair": "the left image holds {inventory}; the right image holds {inventory_right}",
    },
    "ja": {
        "caption_four": "{cx}、{cy}、{cz}と{cw}",
        "caption_one": "{cx}",
        "caption_two": "{cx}と{cy}",
        "caption_three": "{cx}、{cy}と{cz}",
        "caption_relation": "{y}の絵文字の{relation}にある{x}の絵文字",
        "count_all": "絵文字はいくつありますか？",
        "count": "{x}の絵文字はいくつありますか？",
        "exists": "{x}の絵文字はありますか？",
        "position": "{x}の絵文字はどこにありますか？",
        "relation": "{x}の絵文字は{y}の絵文字の{relation}にありますか？",
        "ve_count": "{x}の絵文字はちょうど{n}個ある",
        "ve_exists": "絵の中に{x}の絵文字がある",
        "ve_position": "{x}の絵文字は{where}にある",
        "ve_relation": "{x}の絵文字は{y}の絵文字の{relation}にある",
        "ve_neutral_order": "{x}の絵文字は{y}の絵文字より先にキャンバスに置かれた",
        "ve_neutral_owner": "誰かが{x}の絵文字をお気に入りに選んだ",
        "ve_neutral_outside": "{x}の絵文字が絵のすぐ外にある",
        "pair_more": "左の画像には右の画像より多くの絵文字がある",
        "pair_both": "両方の画像に{x}の絵文字がある",
        "pair_total": "二つの画像を合わせると{x}の絵文字はちょうど{n}個ある",
        "pair_only": "{side}の画像だけに{x}の絵文字がある",
        "phrase": "{x}の絵文字",
        "phrase_extreme": "{extreme}の{x}の絵文字",
        "recognise": "絵の中の絵文字はどれですか？",
        "colour": "{x}の絵文字の主な色は何ですか？",
        "unrelated": "他と仲間ではない絵文字はどれですか？",
        "r_none": "絵の中に{x}の絵文字はありません",
        "r_count": "{cx}が{locs}にあります",
        "r_total": "絵文字は全部で{n}個あります：{inventory}",
        "r_position": "{x}の絵文字は{where}にあります",
        "r_relation": "{x}の絵文字は{wx}に、{y}の絵文字は{wy}にあります",
        "r_colour": "{x}の絵文字の主な色は{colour}です",
        "r_unrelated": "{x}、{y}、{z}の絵文字は{family_pl}を表していますが、"
        "{w}の絵文字は{other_sg}を表しています",
        "r_neutral": "この絵からはそれが本当かどうか分かりません",
        "r_pair": "左の画像には{inventory}、右の画像には{inventory_right}があります",
    },
    "sw": {
        "caption_four": "{cx}, {cy}, {cz} na {cw}",
        "caption_one": "{cx}",
        "caption_two": "{cx} na {cy}",
        "caption_three": "{cx}, {cy} na {cz}",
        "caption_relation": "emoji ya {x} iliyo {relation} emoji ya {y}",
        "count_all": "kuna emoji ngapi?",
        "count": "kuna emoji ngapi za {x}?",
        "exists": "je, kuna emoji ya {x}?",
        "position": "emoji ya {x} iko wapi?",
        "relation": "je, emoji ya {x} iko {relation} emoji ya {y}?",
        "ve_count": "idadi ya emoji za {x} ni {n}",
        "ve_exists": "kuna emoji ya {x} katika picha",
        "ve_position": "emoji ya {x} iko {where}",
        "ve_relation": "emoji ya {x} iko {relation} emoji ya {y}",
        "ve_neutral_order": "emoji ya {x} iliwekwa kwenye picha kabla ya emoji ya {y}",
        "ve_neutral_owner": "emoji ya {x} ni kipenzi cha mtu fulani",
        "ve_neutral_outside": "emoji ya {x} iko nje kidogo ya picha",
        "pair_more": "picha ya kushoto ina emoji nyingi kuliko picha ya kulia",
        "pair_both": "picha zote mbili zina emoji ya {x}",
        "pair_total": "idadi ya emoji za {x} katika picha zote mbili kwa pamoja ni {n}",
        "pair_only": "picha ya {side} pekee ina emoji ya {x}",
        "phrase": "emoji ya {x}",
        "phrase_extreme": "emoji ya {x} iliyo {extreme}",
        "recognise": "ni emoji ipi iliyo kwenye picha?",
        "colour": "rangi kuu ya emoji ya {x} ni ipi?",
        "unrelated": "ni emoji ipi isiyoendana na nyingine?",
        "r_none": "hakuna emoji ya {x} kwenye picha",
        "r_count": "kuna {cx}: {locs}",
        "r_total": "kuna {c_emoji} kwa jumla: {inventory}",
        "r_position": "emoji ya {x} iko {where}",
        "r_relation": "emoji ya {x} iko {wx} na emoji ya {y} iko {wy}",
        "r_colour": "rangi kuu ya emoji ya {x} ni {colour}",
        "r_unrelated": "emoji za {x}, {y} na {z} zinaonyesha {family_pl}, "
        "lakini emoji ya {w} inaonyesha {other_sg}",
        "r_neutral": "picha haiwezi kuonyesha kama hili ni kweli",
        "r_pair": "picha ya kushoto ina {inventory}; picha ya kulia ina {inventory_right}",
    },
    "ur": {
        "caption_four": "{cx}، {cy}، {cz} اور {cw}",
        "caption_one": "{cx}",
        "caption_two": "{cx} اور {cy}",
        "caption_three": "{cx}، {cy} اور {cz}",
        "caption_relation": "ایموجی «{y}» {relation} ایک ایموجی «{x}»",
        "count_all": "کتنے ایموجی ہیں؟",
        "count": "ایموجی «{x}» کتنے ہیں؟",
        "exists": "کیا تصویر میں ایموجی «{x}» ہے؟",
        "position": "ایموجی «{x}» کہاں ہے؟",
        "relation": "کیا ایموجی «{x}»، ایموجی «{y}» {relation} ہے؟",
        "ve_count": "ٹھیک {cx} {is}",
        "ve_exists": "تصویر میں ایک ایموجی «{x}» ہے",
        "ve_position": "ایموجی «{x}» {where} ہے",
        "ve_relation": "ایموجی «{x}»، ایموجی «{y}» {relation} ہے",
        "ve_neutral_order": "ایموجی «{x}» کو ایموجی «{y}» سے پہلے رکھا گیا تھا",
        "ve_neutral_owner": "کسی نے ایموجی «{x}» کو اپنا پسندیدہ چنا",
        "ve_neutral_outside": "ایک ایموجی «{x}» تصویر کے بالکل باہر ہے",
        "pair_more": "بائیں تصویر میں دائیں تصویر سے زیادہ ایموجی ہیں",
        "pair_both": "دونوں تصویروں میں ایموجی «{x}» ہے",
        "pair_total": "دونوں تصویروں میں مل کر ٹھیک {cx} {is}",
        "pair_only": "صرف {side} تصویر میں ایموجی «{x}» ہے",
        "phrase": "ایموجی «{x}»",
        "phrase_extreme": "{extreme} ایموجی «{x}»",
        "recognise": "تصویر میں کون سا ایموجی ہے؟",
        "colour": "ایموجی «{x}» کا غالب رنگ کیا ہے؟",
        "unrelated": "کون سا ایموجی باقیوں سے میل نہیں کھاتا؟",
        "r_none": "تصویر میں کوئی ایموجی «{x}» نہیں ہے",
        "r_count": "تصویر میں {cx} {is}: {locs}",
        "r_total": "کل {c_emoji} {is}: {inventory}",
        "r_position": "ایموجی «{x}» {where} ہے",
        "r_relation": "ایموجی «{x}» {wx} ہے اور ایموجی «{y}» {wy}",
        "r_colour": "ایموجی «{x}» کا غالب رنگ {colour} ہے",
        "r_unrelated": "ایموجی «{x}»، «{y}» اور «{z}» {family_pl} دکھاتے ہیں، "
        "لیکن ایموجی «{w}» {other_sg} دکھاتا ہے",
        "r_neutral": "تصویر سے معلوم نہیں ہو سکتا کہ یہ سچ ہے یا نہیں",
        "r_pair": "بائیں تصویر: {inventory}؛ دائیں تصویر: {inventory_right}",
    },
}


def _join(lang: str, items: list[str]) -> str:
    """``a, b and c`` in ``lang``."""
    if lang == "ja":
        return "、".join(items)
    if len(items) == 1:
        return items[0]
    comma, conjunction = {"en": (", ", " and "), "sw": (", ", " na "), "ur": ("، ", " اور ")}[lang]
    return comma.join(items[:-1]) + conjunction + items[-1]


def _counted(lang: str, n: int, name: str | None) -> str:
    """``n`` emoji (of ``name``): "two X emoji", "Xの絵文字2個", "emoji mbili za X", "دو ایموجی «X»"."""
    if lang == "en":
        return f"{NUMBER_WORDS[n]} {name} emoji" if name else f"{NUMBER_WORDS[n]} emoji"
    if lang == "ja":
        return f"{name}の絵文字{n}個" if name else f"絵文字{n}個"
    if lang == "sw":
        number = _NUMBERS["sw"][n]
        if not name:
            return f"emoji {number}"
        return f"emoji {number} {'ya' if n == 1 else 'za'} {name}"
    number = _NUMBERS["ur"][n]
    return f"{number} ایموجی «{name}»" if name else f"{number} ایموجی"


def answer_word(lang: str, answer: str) -> str:
    """A one-word answer in ``lang``: yes/no, a location or a colour; digits pass through."""
    if lang == "en" or answer.isdigit():
        return answer
    for kind in ("answer", "where", "colour"):
        if answer in _WORDS[lang][kind]:
            return _WORDS[lang][kind][answer]
    raise ValueError(f"no {lang} word for the answer {answer!r}")


def translate(lang: str, kind: str, key: str) -> str:
    """An English key (``kind``: where, relation, side, extreme, colour) in ``lang``."""
    return key if lang == "en" else _WORDS[lang][kind][key]


def word(lang: str, template: str, **slots) -> str | None:
    """The text of ``template`` in ``lang`` filled with ``slots``, or None if ``lang`` lacks the template.

    ``x``/``y``/``z``/``w`` are names already in ``lang``; ``n``/``m``/``k``/``j`` counts (pairing with
    ``x``/``y``/``z``/``w`` in ``{cx}`` ...); ``relation``, ``where``, ``wx``, ``wy``, ``side``, ``extreme``,
    ``colour`` English keys; ``locs`` a list of location keys; ``inventory`` / ``inventory_right``
    lists of ``(count, name)``; ``family`` and ``other`` unrelatedness family keys.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; scenes are worded in {', '.join(LANGUAGES)}")
    if lang == "en" and template in ENGLISH_TASKS:
        return render_english(template, **slots)
    text = TEMPLATES[lang].get(template)
    if text is None:
        return None
    filled = dict(slots)
    for count, name in (("n", "x"), ("m", "y"), ("k", "z"), ("j", "w")):
        if count in slots:
            filled[f"c{name}"] = _counted(lang, slots[count], slots.get(name))
    if "n" in slots:
        filled["n_word"] = NUMBER_WORDS[slots["n"]] if lang == "en" else slots["n"]
        filled["c_emoji"] = _counted(lang, slots["n"], None)
        filled["is"] = {
            "en": "is" if slots["n"] == 1 else "are",
            "ur": "ہے" if slots["n"] == 1 else "ہیں",
        }.get(lang, "")
    for key, kind in (("relation", "relation"), ("where", "where"), ("wx", "where"), ("wy", "where"),
                      ("side", "side"), ("extreme", "extreme"), ("colour", "colour")):  # fmt: skip
        if key in slots:
            filled[key] = translate(lang, kind, slots[key])
    if "locs" in slots:
        places = [translate(lang, "where", loc) for loc in slots["locs"]]
        filled["locs"] = _join(
            lang, places if lang != "en" else places[:1] + [f"the {p}" for p in places[1:]]
        )
    for key in ("inventory", "inventory_right"):
        if key in slots:
            filled[key] = _join(lang, [_counted(lang, n, name) for n, name in slots[key]])
    if "family" in slots:
        family = FAMILIES[lang].get(slots["family"])
        other = FAMILIES[lang].get(slots["other"])
        if family is None or other is None:
            return None
        filled["family_pl"], filled["other_sg"] = family[0], other[1]
    return text.format(**filled)
