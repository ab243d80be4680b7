"""Emoji names in many languages from the Unicode CLDR annotations, read offline (npm JSON or Debian XML)."""

from __future__ import annotations

import functools
import json
import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CldrSource", "cldr_source", "cldr_names", "emoji_key", "npm_roots", "NPM_PACKAGES", "ENV_VAR"]

# The npm packages `make test` / `make demo` install into <venv>/share/ashnet (see the Makefile).
NPM_PACKAGES = ("cldr-annotations-full", "cldr-annotations-derived-full")
ENV_VAR = "ASHNET_CLDR"
DEBIAN_ROOT = Path("/usr/share/unicode/cldr/common")
HOW_TO_GET = (
    f"run `npm install --prefix {Path(sys.prefix) / 'share' / 'ashnet'} {' '.join(NPM_PACKAGES)}` "
    f"(`make test` does), or `apt-get install unicode-cldr-core`, or set {ENV_VAR} to a folder holding either"
)


@dataclass(frozen=True)
class CldrSource:
    """Where the annotations are: ``kind`` ``"npm"`` (``root/<package>/...``) or ``"xml"`` (Debian's
    ``root/annotations/*.xml``); ``version`` identifies the data (for build caches)."""

    kind: str
    root: Path
    version: str

    def files(self, language: str) -> list[Path]:
        """The base and derived (skin tones, sequences, flags) annotation files of ``language``."""
        if self.kind == "npm":
            return [
                self.root / NPM_PACKAGES[0] / "annotations" / language / "annotations.json",
                self.root / NPM_PACKAGES[1] / "annotationsDerived" / language / "annotations.json",
            ]
        return [self.root / part / f"{language}.xml" for part in ("annotations", "annotationsDerived")]


def _npm_source(root: Path) -> CldrSource | None:
    packages = [root / name / "package.json" for name in NPM_PACKAGES]
    if not all(p.is_file() for p in packages):
        return None
    versions = {json.loads(p.read_text(encoding="utf-8"))["version"] for p in packages}
    return CldrSource("npm", root, "npm " + "/".join(sorted(versions)))


def _xml_source(root: Path) -> CldrSource | None:
    if not (root / "annotations").is_dir():
        return None
    stamp = max(p.stat().st_mtime_ns for p in (root / "annotations").glob("*.xml"))
    return CldrSource("xml", root, f"xml {stamp}")


def npm_roots() -> list[Path]:
    """Folders that may hold the npm packages: under ``$ASHNET_CLDR`` if set, else ``<venv>/share/ashnet``."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return [Path(chosen), Path(chosen) / "node_modules"]
    return [Path(sys.prefix) / "share" / "ashnet" / "node_modules"]


def _candidates() -> list[Path]:
    chosen = os.environ.get(ENV_VAR)
    return npm_roots() + [Path(chosen) / "common" if chosen else DEBIAN_ROOT]


def cldr_source() -> CldrSource:
    """The CLDR annotations to read: ``$ASHNET_CLDR`` if set, else ``<venv>/share/ashnet`` (npm), else
    Debian's ``unicode-cldr-core``.

    Raises
    ------
    FileNotFoundError
        None of them holds the annotations; the one-line message says how to get them.
    """
    for root in _candidates():
        source = _npm_source(root) or _xml_source(root)
        if source is not None:
            return source
    where = os.environ.get(ENV_VAR) or f"{_candidates()[0]} or {DEBIAN_ROOT}"
    raise FileNotFoundError(f"Unicode CLDR emoji annotations not found in {where}: {HOW_TO_GET}")


def emoji_key(text: str) -> str:
    """The form CLDR files emojis under: without the variation selector U+FE0F."""
    return text.replace("\ufe0f", "") or text


def _read(path: Path) -> dict[str, str]:
    """``emoji_key -> short (tts) name`` of one annotation file."""
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        (section,) = data.values()
        entries = section["annotations"]
        return {emoji_key(cp): v["tts"][0] for cp, v in entries.items() if v.get("tts")}
    names = {}
    for node in ET.parse(path).getroot().iter("annotation"):
        text = (node.text or "").strip()
        # "↑↑↑" marks a value inherited from the parent locale, i.e. none of its own.
        if node.get("type") == "tts" and text and text != "↑↑↑":
            names[emoji_key(node.get("cp", ""))] = text
    return names


@functools.cache
def _names(source: CldrSource, language: str) -> dict[str, str]:
    files = source.files(language)
    if not files[0].is_file():
        raise FileNotFoundError(f"CLDR has no emoji names in language {language!r}: {files[0]} missing")
    names: dict[str, str] = {}
    for path in files:
        if path.is_file():
            names.update(_read(path))
    return names


def cldr_names(language: str, source: CldrSource | None = None) -> dict[str, str]:
    """CLDR short names of emojis in ``language`` (``"sw"``, ``"ur"``, ``"ja"``, ``"en"``, ...).

    Keys are emojis without U+FE0F (see :func:`emoji_key`); values are the CLDR "tts" names as
    written (``"uso wa mbwa"``, ``"کتے کا چہرہ"``, ``"イヌの顔"``, ``"bendera: Ufaransa"``). Skin-tone
    variants, ZWJ sequences and flags come from the derived annotations. An emoji missing from the
    result has no name in that language.
    """
    return _names(source or cldr_source(), language)
