"""Sphinx configuration of the fnn_numba documentation.

Build (what CI runs, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network access: no intersphinx, MathJax is loaded by the
reader's browser. Modules that need an optional dependency (GPU, MPI,
matplotlib) are documented where they import (:class:`OptionalAutomodule`),
so that a missing dependency never breaks the build. The command-line help
(:class:`CliHelp`), the equation table (:class:`EquationTable`) and the
performance tables (:class:`BenchmarkTables`) are generated from the parser,
from the equation registry and from the saved runs in ``benchmarks/results/``,
so that the pages cannot drift from the code and the data.
"""

import contextlib
import importlib
import os
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.nodes import nested_parse_with_titles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fnn_numba  # noqa: E402

project = "fnn_numba"
author = "fnn_numba contributors"
copyright = "2026, fnn_numba contributors (MIT licence)"
release = fnn_numba.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "numpydoc"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
nitpicky = False
html_theme = "alabaster"
html_static_path = []
autodoc_member_order = "bysource"
# numpydoc's per-class member tables would need autosummary stub pages
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

log = logging.getLogger(__name__)


def _run_nested(directive, lines):
    node = nodes.Element()
    node.document = directive.state.document
    source = directive.state.document.current_source
    nested_parse_with_titles(directive.state, StringList(lines, source=source), node)
    return node.children


class OptionalAutomodule(Directive):
    """A section titled with the module's name and its ``automodule``,
    when the module imports on this machine.

    Modules that need a GPU toolkit, MPI or matplotlib are documented where
    those import, and left out (with an info message) elsewhere.
    """

    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import failure means "not on this machine"
            log.info(f"optional-automodule: {name} left out ({type(exc).__name__}: {exc})")
            return []
        title = f"``{name}``"
        return _run_nested(
            self, [title, "-" * len(title), "", f".. automodule:: {name}", "   :members:", ""]
        )


@contextlib.contextmanager
def _columns(width):
    # argparse wraps its help to the terminal width; fix it so the page does
    # not depend on where the docs are built
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


class CliHelp(Directive):
    """The ``--help`` text of ``fnn-numba [COMMAND]``, generated from the
    parser itself so that the page cannot drift from the code."""

    optional_arguments = 1

    def run(self):
        from fnn_numba.cli import build_parser

        command = self.arguments[0] if self.arguments else None
        with _columns(88):
            parser = build_parser(command)
            if command is not None:
                sub = next(a for a in parser._actions if a.dest == "command")
                parser = sub.choices[command]
            text = parser.format_help()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


class BenchmarkTables(Directive):
    """The tables of a saved comparison run (a JSON file of
    ``benchmarks/results/``, path relative to this folder), rendered by
    ``benchmarks/report.py`` with the run's machine, versions and command as
    footnotes. ``:parts:`` lists the tables (default ``train infer``, the
    ratios; also ``train-absolute``, ``infer-absolute``, ``memory``,
    ``startup``)."""

    required_arguments = 1
    option_spec = {"parts": directives.unchanged}

    def run(self):
        from benchmarks import report

        env = self.state.document.settings.env
        path = (Path(env.srcdir) / self.arguments[0]).resolve()
        env.note_dependency(str(path))
        parts = tuple(self.options.get("parts", "train infer").split())
        try:
            lines = report.rst_tables(report.load(path), parts)
        except (OSError, ValueError, KeyError) as exc:
            raise self.error(f"benchmark-tables: {path}: {exc}") from exc
        return _run_nested(self, lines)


class EquationTable(Directive):
    """Every entry of the equation registry (:data:`fnn_numba.equations.EQUATIONS`)
    as one row: label, quantity, the activations, costs or fused pairs it
    covers, and its twins (CPU kernel, CUDA kernel, reference, NumPy form).
    Only names are read: numba-cuda is not imported."""

    def run(self):
        from fnn_numba.equations import table_rows

        def ref(name):
            return f":func:`~{name}`" if name else "-"

        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 8 10 14 16 18 16 16",
            "",
            "   * - label",
            "     - quantity",
            "     - covers",
            "     - CPU kernel",
            "     - CUDA kernel",
            "     - reference",
            "     - NumPy form",
        ]
        for label, quantity, variants, cpu, cuda, reference, numpy in table_rows():
            lines += [
                f"   * - {label}",
                f"     - ``{quantity}``",
                f"     - {variants or 'all'}",
                f"     - {ref(cpu)}",
                f"     - {ref(cuda)}",
                f"     - {ref(reference)}",
                f"     - {ref(numpy)}",
            ]
        return _run_nested(self, lines + [""])


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods on every estimator
    # subclass; their docstrings cross-reference scikit-learn's own
    # glossary, which does not exist here
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.add_directive("optional-automodule", OptionalAutomodule)
    app.add_directive("cli-help", CliHelp)
    app.add_directive("benchmark-tables", BenchmarkTables)
    app.add_directive("equation-table", EquationTable)
    return {"parallel_read_safe": True}
