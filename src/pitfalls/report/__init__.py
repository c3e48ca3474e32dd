"""The study report: the evidence a reviewer asks for, computed from the manifest.

Work in progress (issue #16): the data model is here; :func:`study_report`, its
renderers, the checklist and the ``pitfalls report`` command are being added.
"""

from ._model import SECTION_KEYS, STATUSES, ReportFigure, ReportTable, Section
from ._report import StudyReport

__all__ = ["SECTION_KEYS", "STATUSES", "ReportFigure", "ReportTable", "Section", "StudyReport"]
