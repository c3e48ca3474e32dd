"""The study report: the evidence a reviewer asks for, computed from the manifest.

:func:`study_report` computes every section from a manifest and a model's
predictions; the :class:`StudyReport` it returns renders as text, Markdown, JSON and
one self-contained HTML page, and ``pitfalls report`` runs it on the command line
(the report guide, :doc:`/report`, documents the sections and the JSON schema).
"""

from ._checklist import RULES, VERDICTS, fill_checklist
from ._guidelines import (
    GUIDELINE_ITEMS,
    GUIDELINES,
    Guideline,
    GuidelineItem,
    format_guideline,
    guideline_items,
)
from ._model import SECTION_KEYS, STATUSES, ReportFigure, ReportTable, Section
from ._report import StudyReport
from ._study import study_report

__all__ = [
    "GUIDELINES",
    "GUIDELINE_ITEMS",
    "RULES",
    "SECTION_KEYS",
    "STATUSES",
    "VERDICTS",
    "Guideline",
    "GuidelineItem",
    "ReportFigure",
    "ReportTable",
    "Section",
    "StudyReport",
    "fill_checklist",
    "format_guideline",
    "guideline_items",
    "study_report",
]
