"""The study report: the evidence a reviewer asks for, computed from the manifest.

Work in progress (issue #16): :func:`study_report` computes every section; its
renderers, the checklist and the ``pitfalls report`` command are being added.
"""

from ._model import SECTION_KEYS, STATUSES, ReportFigure, ReportTable, Section
from ._report import StudyReport
from ._study import study_report

__all__ = [
    "SECTION_KEYS",
    "STATUSES",
    "ReportFigure",
    "ReportTable",
    "Section",
    "StudyReport",
    "study_report",
]
