"""StudyReport: the computed sections of a study report and their renderings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..audit import Finding
from ..audit._report import check_fail_on
from ._model import SECTION_KEYS, Section

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

    Examples
    --------
    >>> from pitfalls.report import Section, StudyReport
    >>> report = StudyReport([Section("cohort", "Cohort", "ok")], [], fail_on="high",
    ...                      settings={})
    >>> report.passed, list(report.sections)
    (True, ['cohort'])
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
    def passed(self) -> bool:
        """True when no finding reaches :attr:`fail_on`."""
        if self.fail_on == "never":
            return True
        return all(_RANK[f.severity] > _RANK[self.fail_on] for f in self._findings)

    def __repr__(self) -> str:
        statuses = ", ".join(f"{key}={s.status}" for key, s in self._sections.items())
        return f"StudyReport({statuses}; {len(self._findings)} findings, passed={self.passed})"
