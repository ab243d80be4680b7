"""Sphinx configuration: furo theme, API reference from docstrings, executed tutorials from examples/."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: tutorials and diagrams draw to files

from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tutorials stay polite on small CI machines
os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the rendered tutorial output

import ashnet  # noqa: E402

project = "ashnet"
author = "the ashnet developers"
copyright = "2026, the ashnet developers"
release = ashnet.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "matplotlib.sphinxext.plot_directive",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "furo"
html_title = f"ashnet {release}"
html_static_path = ["_static"]

# API reference: one page per module, generated into api/generated/ (not committed).
autosummary_generate = True
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # torch.nn.Module's long docstrings would drown ours
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# Diagrams drawn with matplotlib at build time (concepts page).
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("svg", 100)]

# Tutorials: every examples/tutorial_*.py runs at build time; its figures are generated, not pasted.
# examples/neuron_basics.py is the `make demo` script of the neuro core, not a tutorial page.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/tutorial_",
    "ignore_pattern": r"__init__\.py|neuron_basics\.py",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
}


class CliHelp(Directive):
    """``.. ashnet-cli-help::`` renders ``ashnet --help`` and every (nested) subcommand's help."""

    has_content = False

    def run(self):
        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width: make it fixed
        from ashnet.cli import build_parser

        lines: list[str] = []
        self._render(build_parser(), ["ashnet"], lines, depth=0)
        self.state_machine.insert_input(StringList(lines, source="ashnet-cli-help"), "ashnet-cli-help")
        return []

    def _render(self, parser: argparse.ArgumentParser, path: list[str], lines: list[str], depth: int):
        title = " ".join(path)
        if depth:
            underline = "-" if depth == 1 else "~"
            lines += ["", title, underline * len(title)]
        lines += ["", ".. code-block:: text", ""]
        lines += ["   " + line if line else "" for line in parser.format_help().rstrip().splitlines()]
        lines.append("")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                seen = set()
                for name, sub in action.choices.items():
                    if id(sub) in seen:  # aliases map to the same parser
                        continue
                    seen.add(id(sub))
                    self._render(sub, [*path, name], lines, depth + 1)


def setup(app):
    app.add_directive("ashnet-cli-help", CliHelp)
