"""Sphinx configuration of the pitfalls documentation.

Build: ``.venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html``.

The example gallery: every script in ``examples/`` is rendered, but only the fast
ones are *executed* during the docs build (``filename_pattern`` below: the accuracy
example, the segmentation baseline, the unit-of-inference statistics example and the
study-report workflow, a few seconds each on a CPU), so the whole
build stays under three minutes on two cores. The deep-learning and repeated
radiomics examples are shown with their code and narrative; run them with
``python examples/plot_<name>.py`` (or ``pitfalls reproduce``) to see their output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, ClassVar

from docutils.parsers.rst import Directive, directives

import pitfalls

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "pitfalls"
author = "pitfalls developers"
copyright = "pitfalls developers, BSD-3-Clause"
release = pitfalls.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "**.codeobj.json"]
default_role = "py:obj"
nitpicky = False
suppress_warnings = ["config.cache"]

# -- autodoc / autosummary / numpydoc -------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- sphinx-gallery ---------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Execute only the fast examples during the docs build (documented above).
    "filename_pattern": r"plot_(accuracy|segmentation_baseline|unit_of_inference|study_report)\.py$",
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "reset_argv": lambda gallery_conf, script_vars: [],
    "show_memory": False,
}

# -- HTML --------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "pitfalls"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False


# -- the paper's checklist (Table 4), from pitfalls.audit ------------------------------
class ChecklistDirective(Directive):
    """``.. pitfalls-checklist::`` with ``:items: 1,4`` renders Table 4 items from the code.

    The text comes from :data:`pitfalls.audit.CHECKLIST`, the same data the
    ``pitfalls checklist`` command prints, so the docs cannot drift from it.
    """

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"items": directives.unchanged}

    def run(self):  # type: ignore[no-untyped-def]
        from pitfalls.audit import CHECKLIST

        wanted = self.options.get("items")
        numbers = {int(n) for n in wanted.split(",")} if wanted else {i.number for i in CHECKLIST}
        lines = []
        for item in CHECKLIST:
            if item.number in numbers:
                codes = ", ".join(item.audit_codes) or "none (read the code)"
                lines += [
                    f"- **Table 4, item {item.number}:** {item.text} ({item.pitfall})",
                    "",
                    f"  *How:* {item.how} *Audit codes:* {codes}.",
                    "",
                ]
        self.state_machine.insert_input(lines, "pitfalls.audit.CHECKLIST")
        return []


class ReportChecksDirective(Directive):
    """``.. pitfalls-report-checks::`` lists the study report's own findings (``PF4xx``).

    From :data:`pitfalls.report._findings.REPORT_CHECKS`, the registry the report's
    sections raise their findings from, so the guide cannot drift from it.
    """

    has_content = False

    def run(self):  # type: ignore[no-untyped-def]
        from pitfalls.report._findings import REPORT_CHECKS

        lines = []
        for check in REPORT_CHECKS.values():
            items = ", ".join(str(i) for i in check.checklist)
            table4 = f" Table 4, item {items}." if items else ""
            lines += [
                f"- **{check.code}** ``{check.name}`` ({check.severity}, section "
                f"``{check.section}``): {check.meaning}{table4}",
                "",
            ]
        self.state_machine.insert_input(lines, "pitfalls.report._findings.REPORT_CHECKS")
        return []


# -- the sample study report (docs/report.rst links it) ----------------------------------
def write_sample_report(app, exception):  # type: ignore[no-untyped-def]
    """Write the sample report's HTML page into the built site's ``_static`` folder.

    Computed from a synthetic cohort at every build (docs/_sample_report.py), so the
    page always shows what this version of pitfalls writes; no generated file is kept
    in the repository.
    """
    if exception is not None or app.builder.format != "html":
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _sample_report import write_sample_report as write

    write(Path(app.outdir) / "_static" / "sample_report.html")


def setup(app):  # type: ignore[no-untyped-def]
    app.add_directive("pitfalls-checklist", ChecklistDirective)
    app.add_directive("pitfalls-report-checks", ReportChecksDirective)
    app.connect("build-finished", write_sample_report)
