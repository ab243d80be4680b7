"""Tests for ashnet.data.cldr: CLDR emoji names from the npm JSON or Debian XML, coverage, missing source."""

from __future__ import annotations

import emoji
import pytest

from ashnet.data.cldr import ENV_VAR, cldr_names, cldr_source, emoji_key

FOUR = ("en", "ja", "sw", "ur")


@pytest.mark.parametrize("language", FOUR)
def test_every_emoji_up_to_emoji_16_has_a_name(language):
    names = cldr_names(language)
    qualified = [e for e, d in emoji.EMOJI_DATA.items() if d["status"] == emoji.STATUS["fully_qualified"]]
    older = [e for e in qualified if emoji.EMOJI_DATA[e]["E"] <= 16]
    assert len(older) > 3700
    assert [e for e in older if emoji_key(e) not in names] == []
    # Skin tones, ZWJ sequences and flags come from the derived annotations.
    assert emoji_key("\N{WOMAN}\N{EMOJI MODIFIER FITZPATRICK TYPE-6}\u200d\N{PERSONAL COMPUTER}") in names
    assert "\N{REGIONAL INDICATOR SYMBOL LETTER K}\N{REGIONAL INDICATOR SYMBOL LETTER E}" in names


def test_known_names():
    dog = "\N{DOG FACE}"
    assert cldr_names("sw")[dog] == "uso wa mbwa"
    assert cldr_names("ur")[dog] == "کتے کا چہرہ"
    assert cldr_names("ja")[dog] == "イヌの顔"
    assert cldr_names("en")[dog] == "dog face"
    kenya = "\N{REGIONAL INDICATOR SYMBOL LETTER K}\N{REGIONAL INDICATOR SYMBOL LETTER E}"
    assert cldr_names("sw")[kenya] == "bendera: Kenya"
    assert emoji_key("\N{HEAVY BLACK HEART}\ufe0f") == "\N{HEAVY BLACK HEART}"


def test_debian_xml_layout(tmp_path, monkeypatch):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotationsDerived").mkdir()
    (tmp_path / "annotations" / "sw.xml").write_text(
        """<?xml version="1.0" encoding="UTF-8" ?>
<ldml><annotations>
  <annotation cp="🐶">mbwa | uso</annotation>
  <annotation cp="🐶" type="tts">uso wa mbwa</annotation>
  <annotation cp="❤️" type="tts">moyo mwekundu</annotation>
  <annotation cp="🐱" type="tts">↑↑↑</annotation>
</annotations></ldml>""",
        encoding="utf-8",
    )
    (tmp_path / "annotationsDerived" / "sw.xml").write_text(
        '<ldml><annotations><annotation cp="🇰🇪" type="tts">bendera: Kenya</annotation></annotations></ldml>',
        encoding="utf-8",
    )
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    source = cldr_source()
    assert source.kind == "xml" and source.root == tmp_path
    assert cldr_names("sw") == {"🐶": "uso wa mbwa", "❤": "moyo mwekundu", "🇰🇪": "bendera: Kenya"}
    with pytest.raises(FileNotFoundError, match="no emoji names in language 'ur'"):
        cldr_names("ur")


def test_missing_source_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        cldr_source()
    message = str(err.value)
    assert "\n" not in message and str(tmp_path) in message
    assert "npm install --prefix" in message and "cldr-annotations-full" in message
    assert "unicode-cldr-core" in message


def test_npm_layout_under_env_var(monkeypatch):
    npm = cldr_source()
    assert npm.kind == "npm"
    # ASHNET_CLDR may name the prefix (holding node_modules) or node_modules itself.
    for root in (npm.root.parent, npm.root):
        monkeypatch.setenv(ENV_VAR, str(root))
        assert cldr_source() == npm
