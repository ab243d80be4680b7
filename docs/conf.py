"""Sphinx configuration: furo theme, API reference from docstrings, executed tutorials from examples/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: tutorials and diagrams draw to files

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))  # ashnet_docs: CLI reference, figure scraper
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
    "myst_parser",  # pages written in Markdown: docs/*.md and benchmarks/README.md
    "ashnet_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "furo"
html_title = f"ashnet {release}"

# API reference: one page per module, generated into api/generated/ (not committed).
autosummary_generate = True
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # torch.nn.Module's long docstrings would drown ours
autodoc_member_order = "bysource"
# The neuron modules' class attributes that point at their functional core are plumbing.
autodoc_default_options = {"exclude-members": "step_fn, multi_step_fn, params_cls"}
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
    "capture_repr": (),  # show printed output only, not the value of a block's last line
    "image_scrapers": ("ashnet_docs.figure_scraper", "matplotlib"),  # standalone figures first
}
