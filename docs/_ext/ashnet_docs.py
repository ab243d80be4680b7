"""Sphinx helpers for the ashnet docs: the CLI reference, a figure scraper for tutorials, Markdown pages."""

from __future__ import annotations

import argparse
import os
import re

from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


class CliHelp(Directive):
    """``.. ashnet-cli-help::`` renders ``ashnet --help`` and every (nested) subcommand's help."""

    has_content = False

    def run(self):
        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width: make it fixed
        from ashnet.cli import build_parser

        lines: list[str] = []
        _render(build_parser(), ["ashnet"], lines, depth=0)
        self.state_machine.insert_input(StringList(lines, source="ashnet-cli-help"), "ashnet-cli-help")
        return []


def _render(parser: argparse.ArgumentParser, path: list[str], lines: list[str], depth: int) -> None:
    """Append a section (below the top level) with the parser's help, then its subcommands'."""
    if depth:
        title = " ".join(path)
        underline = "-" if depth == 1 else "~"
        lines += ["", title, underline * len(title)]
    lines += ["", ".. code-block:: text", ""]
    lines += ["   " + line if line else "" for line in parser.format_help().rstrip().splitlines()]
    lines.append("")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases map to the same parser
                    seen.add(id(sub))
                    _render(sub, [*path, name], lines, depth + 1)


def figure_scraper(block, block_vars, gallery_conf):
    """Show the matplotlib Figures a tutorial made without pyplot (``neuro.viz`` returns those).

    sphinx-gallery's own scraper only sees pyplot's figures. This one looks for ``Figure`` objects
    without a pyplot manager among the tutorial's variables (and the items of its dicts, lists
    and tuples) and shows each once, after the code block that made it. It runs before the
    matplotlib scraper and marks pyplot's figures as shown too: once that scraper closes them
    they have no manager either.
    """
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    paths = []
    values = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, dict):
            values += list(value.values())
        elif isinstance(value, (list, tuple)):
            values += list(value)
        else:
            values.append(value)
    for value in values:
        if not isinstance(value, Figure) or getattr(value, "_shown", False):
            continue
        value._shown = True
        if value.canvas.manager is None:
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=100, bbox_inches="tight")
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


# ---------------------------------------------------------------------------------------------
# Pages that other parts of the project write in Markdown (docs/*.md, benchmarks/README.md) become
# reStructuredText under docs/generated/ at build time: myst-parser is not a dependency, and these
# pages use only headings, paragraphs, fenced code, pipe tables, bullet lists, `code`, **bold**
# and [links](url).

# Page name under docs/generated/ -> its Markdown source, relative to the repository root.
MARKDOWN_PAGES = {
    "peers": "docs/peers.md",
    "nir_importers": "docs/nir_importers.md",
    "benchmarks": "benchmarks/README.md",
}
_HEADING_CHARS = "=-~^"


def _inline(text: str) -> str:
    """Markdown inline markup to reST: code spans, links; bold and italics are the same.

    reST cannot nest markup, so bold text that holds a code span loses its bold.
    """
    text = re.sub(r"\*\*([^*]*`[^*]*)\*\*", r"\1", text)
    out, i = [], 0
    while i < len(text):
        if text[i] == "`":
            end = text.find("`", i + 1)
            if end == -1:
                raise ValueError(f"unclosed code span in: {text}")
            before = out[-1][-1] if out and out[-1] else " "
            after = text[end + 1] if end + 1 < len(text) else " "
            out.append(("\\ " if before.isalnum() else "") + f"``{text[i + 1 : end]}``")
            if after.isalnum():
                out.append("\\ ")
            i = end + 1
        elif text[i] == "[" and "](" in text[i:]:
            close = text.index("](", i)
            end = text.index(")", close)
            out.append(f"`{text[i + 1 : close]} <{text[close + 2 : end]}>`__")
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _table(rows: list[str]) -> list[str]:
    cells = [[_inline(c.strip()) for c in row.strip().strip("|").split("|")] for row in rows]
    header, body = cells[0], cells[2:]  # cells[1] is the |---| separator
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *body]:
        lines += [f"   * - {row[0] or ' '}"] + [f"     - {c or ' '}" for c in row[1:]]
    return lines + [""]


def markdown_to_rst(markdown: str) -> str:
    """Convert the small Markdown subset of the project's docs pages to reStructuredText."""
    lines, out, i = markdown.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            title = _inline(line[level:].strip())
            out += [title, _HEADING_CHARS[level - 1] * len(title), ""]
            i += 1
        elif line.startswith("```"):
            language = line[3:].strip() or "text"
            out += [f".. code-block:: {language}", ""]
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(f"   {lines[i]}" if lines[i] else "")
                i += 1
            out.append("")
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            out += _table(rows)
        elif not line.strip():
            out.append("")
            i += 1
        else:  # a paragraph or list: code spans may run across its lines
            block = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "```")):
                block.append(lines[i])
                i += 1
            out += _inline("\n".join(block)).splitlines() + [""]
    return "\n".join(out) + "\n"


def convert_markdown_pages(app) -> None:
    """Write docs/generated/<page>.rst for every Markdown source in MARKDOWN_PAGES that exists."""
    from pathlib import Path

    folder = Path(app.srcdir) / "generated"
    folder.mkdir(exist_ok=True)
    root = Path(app.srcdir).parent
    for page, source in MARKDOWN_PAGES.items():
        md = root / source
        if md.is_file():
            text = markdown_to_rst(md.read_text(encoding="utf-8"))
            target = folder / f"{page}.rst"
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")


def setup(app):
    app.add_directive("ashnet-cli-help", CliHelp)
    app.connect("builder-inited", convert_markdown_pages)
    return {"parallel_read_safe": True}
