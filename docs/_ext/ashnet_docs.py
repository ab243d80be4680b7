"""Sphinx helpers for the ashnet docs: the CLI reference, a figure scraper for tutorials, Markdown pages."""

from __future__ import annotations

import argparse
import os

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


def setup(app):
    app.add_directive("ashnet-cli-help", CliHelp)
    return {"parallel_read_safe": True}
