"""Unicode emoji groups and subgroups ("Food & Drink", "food-fruit"), offline from npm's emoji-datasource."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from ashnet.data.cldr import emoji_key, npm_roots

__all__ = ["PACKAGE", "emoji_groups"]

PACKAGE = "emoji-datasource"


@functools.cache
def _load(path: Path) -> dict[str, tuple[str, str]]:
    groups = {}
    for entry in json.loads(path.read_text(encoding="utf-8")):
        text = "".join(chr(int(code, 16)) for code in entry["unified"].split("-"))
        groups[emoji_key(text)] = (entry["category"], entry["subcategory"])
    return groups


def emoji_groups() -> dict[str, tuple[str, str]]:
    """``emoji_key -> (group, subgroup)`` of every base emoji (skin-tone variants are not listed).

    Raises
    ------
    FileNotFoundError
        The npm package is missing; the one-line message says how to install it.
    """
    for root in npm_roots():
        path = root / PACKAGE / "emoji.json"
        if path.is_file():
            return _load(path)
    raise FileNotFoundError(
        f"Unicode emoji groups not found ({PACKAGE} in {' or '.join(map(str, npm_roots()))}): "
        f"run `npm install --prefix {npm_roots()[-1].parent} {PACKAGE}` (`make test` does)"
    )
