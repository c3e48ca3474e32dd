"""StudyReport: the computed sections of a study report and their renderings."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..audit import Finding
from ..audit._report import check_fail_on, findings_frame
from ._model import SECTION_KEYS, Section
from ._render import (
    finding_section,
    ordered_findings,
    render_markdown,
    render_text,
    report_dict,
)

__all__ = ["StudyReport"]

_RANK = {"high": 0, "medium": 1, "low": 2, "info": 3}


class StudyReport:
    """The evidence of one study, section by section (returned by :func:`study_report`).

    Parameters
    ----------
    sections : sequence of Section
        One per key of :data:`SECTION_KEYS`, in any order.
    findings : sequence of pitfalls.audit.Finding
        The audit's findings and the report's own (codes ``PF4xx``).
    fail_on : {"high", "medium", "low", "info", "never"}
        Least severe finding that makes :attr:`passed` False.
    settings : mapping
        What the report was computed with (columns, evaluation splits, bootstrap
        replicates, confidence, random state, pitfalls version); JSON-serialisable.

    Attributes
    ----------
    sections : dict of str -> Section
        The sections by key, in report order.
    findings : pandas.DataFrame
        One row per finding, most severe first: the columns of
        :attr:`pitfalls.audit.AuditReport.findings` and ``section``, the key of the
        section it belongs to.
    passed : bool
        No finding reaches ``fail_on``.

    See Also
    --------
    pitfalls.audit.AuditReport : The audit's report, whose findings this one holds.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.report import ReportTable, Section, StudyReport
    >>> splits = ReportTable("splits", "Patients per split.",
    ...                      pd.DataFrame({"split": ["train", "test"], "patients": [8, 2]}))
    >>> cohort = Section("cohort", "Cohort", "ok", text=("10 patients.",), tables=(splits,))
    >>> report = StudyReport([cohort], [], fail_on="high", settings={"group": "pid"})
    >>> report.passed, list(report.sections), report.exit_code()
    (True, ['cohort'], 0)
    >>> report.to_frame()
          key   title status  n_tables  n_figures
    0  cohort  Cohort     ok         1          0
    """

    def __init__(
        self,
        sections: Sequence[Section],
        findings: Sequence[Finding],
        *,
        fail_on: str = "high",
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        by_key = {section.key: section for section in sections}
        if len(by_key) != len(sections):
            keys = [section.key for section in sections]
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise ValueError(f"sections repeat the keys {twice}; give each section once.")
        self._sections = {key: by_key[key] for key in SECTION_KEYS if key in by_key}
        self._findings = list(findings)
        self.fail_on = check_fail_on(fail_on)
        self.settings = dict(settings or {})

    @property
    def sections(self) -> dict[str, Section]:
        """The sections by key, in report order."""
        return dict(self._sections)

    @property
    def finding_objects(self) -> list[Finding]:
        """The findings as :class:`pitfalls.audit.Finding` objects, as given."""
        return list(self._findings)

    @property
    def findings(self) -> pd.DataFrame:
        """Findings as a DataFrame, most severe first (see the class docstring)."""
        ordered = ordered_findings(self._findings)
        frame = findings_frame(ordered)
        frame["section"] = pd.Series([finding_section(f) for f in ordered], dtype=object)
        return frame

    @property
    def passed(self) -> bool:
        """True when no finding reaches :attr:`fail_on`."""
        if self.fail_on == "never":
            return True
        return all(_RANK[f.severity] > _RANK[self.fail_on] for f in self._findings)

    def exit_code(self) -> int:
        """The exit status of ``pitfalls report``: 0 when :attr:`passed`, else 1.

        Returns
        -------
        int

        Examples
        --------
        >>> from pitfalls.audit import Finding
        >>> from pitfalls.report import Section, StudyReport
        >>> leak = Finding("PF101", "group-in-several-splits", "high", "t", "d", 2)
        >>> StudyReport([Section("audit", "Audit", "failed")], [leak]).exit_code()
        1
        >>> StudyReport([Section("audit", "Audit", "failed")], [leak], fail_on="never").exit_code()
        0
        """
        return 0 if self.passed else 1

    def _section(self, key: str) -> Section:
        if key not in self._sections:
            raise ValueError(
                f"section={key!r} is not a section of this report; use one of "
                f"{', '.join(self._sections) or '(none: the report is empty)'}."
            )
        return self._sections[key]

    # --- tables -------------------------------------------------------------------

    def to_frame(self, section: str | None = None, table: str | None = None) -> pd.DataFrame:
        """The sections at a glance, or the tables of one section.

        Parameters
        ----------
        section : str, optional
            A section key. Without it, one row per section: ``key``, ``title``,
            ``status``, ``n_tables`` and ``n_figures``.
        table : str, optional
            A table key of that section: that table alone.

        Returns
        -------
        pandas.DataFrame
            With ``section`` only: its one table as it is, or its tables one after
            the other with a first column ``table`` (the table's key; a named index
            becomes a column); no rows (only the ``table`` column) when it has none.

        Raises
        ------
        ValueError
            If the section or table is not in the report, or ``table`` is given
            without ``section``.

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.report import ReportTable, Section, StudyReport
        >>> a = ReportTable("a", "First.", pd.DataFrame({"n": [1, 2]}))
        >>> b = ReportTable("b", "Second.", pd.DataFrame({"n": [3]}))
        >>> report = StudyReport([Section("cohort", "Cohort", "ok", tables=(a, b))], [])
        >>> report.to_frame("cohort")
          table  n
        0     a  1
        1     a  2
        2     b  3
        >>> report.to_frame("cohort", "b")
           n
        0  3
        """
        if section is None:
            if table is not None:
                raise ValueError(
                    f"table={table!r} was given without a section; use "
                    f"to_frame(section, table={table!r})."
                )
            return self._overview()
        tables = self._section(section).tables
        if table is not None:
            by_key = {t.key: t for t in tables}
            if table not in by_key:
                raise ValueError(
                    f"table={table!r} is not a table of section {section!r}; use one of "
                    f"{', '.join(by_key) or '(none: the section has no table)'}."
                )
            return by_key[table].frame.copy()
        if len(tables) == 1:
            return tables[0].frame.copy()
        return _stack_tables([(t.key, t.frame) for t in tables])

    def _overview(self) -> pd.DataFrame:
        rows = [
            (s.key, s.title, s.status, len(s.tables), len(s.figures))
            for s in self._sections.values()
        ]
        columns = ["key", "title", "status", "n_tables", "n_figures"]
        return pd.DataFrame(rows, columns=columns).astype(
            {"n_tables": "int64", "n_figures": "int64"}
        )

    # --- renderings ---------------------------------------------------------------

    def to_text(self) -> str:
        """Plain-text report: verdict, findings, then each section's sentences and tables.

        Figures are named by their caption (they are drawn in :meth:`to_html` and
        :meth:`plot`).

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.report import ReportTable, Section, StudyReport
        >>> splits = ReportTable("splits", "Patients per split.",
        ...                      pd.DataFrame({"split": ["train", "test"], "patients": [8, 2]}))
        >>> cohort = Section("cohort", "Cohort", "ok", text=("10 patients.",), tables=(splits,))
        >>> print(StudyReport([cohort], []).to_text())
        pitfalls study report: PASSED (no findings) - 1 section: 1 ok
        <BLANKLINE>
        Findings
        --------
        No findings.
        <BLANKLINE>
        Cohort [ok]
        -----------
        10 patients.
        <BLANKLINE>
        Table: Patients per split.
        split  patients
        train         8
        test          2
        <BLANKLINE>
        """
        return render_text(self)

    def to_markdown(self) -> str:
        """Markdown report: contents, findings, then each section with pipe tables.

        Figures are left out, each replaced by its caption.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.report import ReportTable, Section, StudyReport
        >>> splits = ReportTable("splits", "Patients per split.",
        ...                      pd.DataFrame({"split": ["train", "test"], "patients": [8, 2]}))
        >>> md = StudyReport([Section("cohort", "Cohort", "ok", tables=(splits,))], []).to_markdown()
        >>> md.splitlines()[0], "| train | 8 |" in md
        ('# pitfalls study report: PASSED', True)
        """
        return render_markdown(self)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON data (the document :meth:`to_json` writes).

        Keys: ``schema`` (``"pitfalls.report"``), ``schema_version``,
        ``pitfalls_version``, ``passed``, ``fail_on``, ``counts`` (findings per
        severity), ``settings``, ``sections`` (by key, in report order: ``key``,
        ``title``, ``status``, ``text``, ``data``, ``tables`` with ``key``,
        ``caption``, ``columns`` and ``records``, ``figures`` with ``key`` and
        ``caption``) and ``findings`` (as in the audit's JSON, plus ``section``).
        Every value is a plain Python value; NaN and infinities are None. The
        report guide (:doc:`/report`) documents each key; a key is never removed
        or changed in meaning without incrementing ``schema_version``.

        Returns
        -------
        dict

        Examples
        --------
        >>> from pitfalls.report import Section, StudyReport
        >>> doc = StudyReport([Section("cohort", "Cohort", "ok", data={"n_patients": 10})],
        ...                   []).to_dict()
        >>> doc["schema_version"], doc["sections"]["cohort"]["data"]
        (1, {'n_patients': 10})
        """
        return report_dict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON text (see :meth:`to_dict` for the keys).

        Parameters
        ----------
        indent : int or None, default=2

        Returns
        -------
        str
            ASCII text (other characters escaped as JSON allows).

        Examples
        --------
        >>> import json
        >>> from pitfalls.report import Section, StudyReport
        >>> section = Section("calibration", "Calibration", "ok", data={"slope": float("nan")})
        >>> json.loads(StudyReport([section], []).to_json())["sections"]["calibration"]["data"]
        {'slope': None}
        """
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """One self-contained HTML page: contents, findings, every section.

        The style sheet is inline and every figure is embedded as a base64 PNG, so
        the file has no external reference and can be attached to a submission or
        a CI run as it is.

        Parameters
        ----------
        path : path-like, optional
            Where to write the page (UTF-8). The HTML is returned either way.

        Returns
        -------
        str

        Examples
        --------
        >>> from pitfalls.report import Section, StudyReport
        >>> page = StudyReport([Section("cohort", "Cohort", "ok")], []).to_html()
        >>> page.startswith("<!DOCTYPE html>"), 'id="cohort"' in page
        (True, True)
        """
        from ._html import render_html

        page = render_html(self)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def plot(self, section: str | None = None) -> Any:
        """The first figure of a section (by default, of the first section with one).

        Parameters
        ----------
        section : str, optional
            A section key (``"curves"``, ``"calibration"``...).

        Returns
        -------
        matplotlib.figure.Figure or None
            A new figure; None when no section has a figure and ``section`` is not
            given.

        Raises
        ------
        ValueError
            If that section is not in the report or has no figure.

        Examples
        --------
        >>> from matplotlib.figure import Figure
        >>> from pitfalls.report import ReportFigure, Section, StudyReport
        >>> def draw():
        ...     figure = Figure()
        ...     figure.add_subplot().plot([0, 1], [0, 1])
        ...     return figure
        >>> curves = Section("curves", "Curves", "ok", figures=(ReportFigure("roc", "ROC.", draw),))
        >>> report = StudyReport([curves], [])
        >>> len(report.plot("curves").axes), len(report.plot().axes)
        (1, 1)
        """
        if section is None:
            with_figures = [s for s in self._sections.values() if s.figures]
            return with_figures[0].figures[0].draw() if with_figures else None
        figures = self._section(section).figures
        if not figures:
            drawn = [key for key, s in self._sections.items() if s.figures]
            raise ValueError(
                f"section={section!r} has no figure; sections with figures: "
                f"{', '.join(drawn) or 'none'}."
            )
        return figures[0].draw()

    def __repr__(self) -> str:
        statuses = ", ".join(f"{key}={s.status}" for key, s in self._sections.items())
        return f"StudyReport({statuses}; {len(self._findings)} findings, passed={self.passed})"


def _stack_tables(tables: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Tables one after the other, a first column ``table`` naming each row's table.

    Built from records rather than ``pd.concat`` so that columns one table lacks
    are simply missing (no dtype guessing from all-missing blocks).
    """
    rows: list[dict[Any, Any]] = []
    columns: dict[Any, None] = {"table": None}
    for key, frame in tables:
        if any(name is not None for name in frame.index.names):
            frame = frame.reset_index()
        columns.update(dict.fromkeys(frame.columns))
        rows += [{"table": key, **record} for record in frame.to_dict(orient="records")]
    return pd.DataFrame(rows, columns=list(columns))
