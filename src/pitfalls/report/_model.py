"""The study report's data model: sections of computed tables, figures and sentences.

Every section of a :class:`~pitfalls.report.StudyReport` is a :class:`Section`: a
stable ``key``, a title, a status, the sentences computed for it, its tables, its
figures and ``data``, the machine-readable numbers that go into the JSON report and
that the checklist reads. Rendering (text, Markdown, HTML, JSON) only walks this
model; nothing is computed while rendering, so every format shows the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["SECTION_KEYS", "STATUSES", "ReportFigure", "ReportTable", "Section"]

# The sections in report order. A section that cannot be computed from the inputs
# given (no predictions, no site column, ...) is still present, with status
# "not_available" and a sentence saying what would make it available.
SECTION_KEYS: tuple[str, ...] = (
    "cohort",
    "audit",
    "performance",
    "curves",
    "calibration",
    "subgroups",
    "external",
    "leakage",
    "checklist",
)

# ok: computed, nothing to flag; attention: computed, something a reader must see
# (a finding of medium/low severity, a baseline not beaten, heterogeneity);
# failed: computed and a high-severity finding; not_available: inputs missing.
STATUSES: tuple[str, ...] = ("ok", "attention", "failed", "not_available")


@dataclass(frozen=True)
class ReportTable:
    """One computed table of a report section.

    Parameters
    ----------
    key : str
        Stable machine name, unique within its section (``"splits"``).
    caption : str
        One sentence saying what the table holds and where it came from.
    frame : pandas.DataFrame
        The table itself; rendered as is (index included when it is named).

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.report import ReportTable
    >>> table = ReportTable("splits", "Samples per split.", pd.DataFrame({"n": [3, 1]}))
    >>> table.key, len(table.frame)
    ('splits', 2)
    """

    key: str
    caption: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class ReportFigure:
    """One figure of a report section, drawn on demand.

    Parameters
    ----------
    key : str
        Stable machine name, unique within its section (``"roc"``).
    caption : str
        What the figure shows, including what the bands or bars mean.
    draw : callable
        Called with no argument, returns a new :class:`matplotlib.figure.Figure`. Kept
        as a callable so that a report that is only written as JSON or text never
        imports matplotlib.

    Examples
    --------
    >>> from pitfalls.report import ReportFigure
    >>> figure = ReportFigure("roc", "ROC curve.", draw=lambda: None)
    >>> figure.key
    'roc'
    """

    key: str
    caption: str
    draw: Callable[[], Any]


@dataclass(frozen=True)
class Section:
    """One section of a study report.

    Parameters
    ----------
    key : str
        One of :data:`SECTION_KEYS`.
    title : str
        Heading shown in every format.
    status : str
        One of :data:`STATUSES`.
    text : tuple of str
        Sentences computed from the data (each states a number and where it came
        from), shown before the tables.
    tables : tuple of ReportTable
    figures : tuple of ReportFigure
    data : dict
        JSON-serialisable numbers of the section, documented in the report guide's
        JSON schema; the checklist reads its evidence from here.

    Examples
    --------
    >>> from pitfalls.report import Section
    >>> section = Section("cohort", "Cohort", "ok", text=("12 patients.",))
    >>> section.key, section.status, section.tables
    ('cohort', 'ok', ())
    """

    key: str
    title: str
    status: str
    text: tuple[str, ...] = ()
    tables: tuple[ReportTable, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.key not in SECTION_KEYS:
            raise ValueError(
                f"key={self.key!r} is not a report section; use one of {', '.join(SECTION_KEYS)}."
            )
        if self.status not in STATUSES:
            raise ValueError(
                f"status={self.status!r} is not a section status; use one of {', '.join(STATUSES)}."
            )
