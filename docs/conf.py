"""Sphinx configuration: API reference (autodoc + numpydoc), the method, benchmarks and
experiments.  Build: ``python -m sphinx -W -b html docs docs/_build/html``."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from alignxpert_fast import __version__  # noqa: E402

project = "alignxpert_fast"
author = "the alignxpert_fast developers"
copyright = "2026, " + author
version = release = __version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc", "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
autodoc_default_options = {"members": False}
exclude_patterns = ["_build"]
html_theme = "alabaster"
