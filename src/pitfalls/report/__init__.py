"""The study report: the evidence a reviewer asks for, computed from the manifest.

Work in progress (issue #16): :func:`study_report` computes every section and fills
the checklist; its renderers and the ``pitfalls report`` command are being added.
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
