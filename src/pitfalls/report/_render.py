"""Text, Markdown and JSON renderings of a :class:`~pitfalls.report.StudyReport`.

Every format walks the same sections and writes every table cell through
:func:`cell`, so the numbers a reader sees in the terminal, in Markdown and in the
HTML page are the same strings; JSON keeps the numbers themselves (NaN as null).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._tables import format_number, frame_to_markdown, text_table
from .._version import __version__
from ..audit._checks import SEVERITIES
from ..audit._report import finding_json, findings_markdown, findings_text, markdown_escape
from ._model import STATUSES

if TYPE_CHECKING:
    from ..audit import Finding
    from ._model import ReportTable, Section
    from ._report import StudyReport

__all__ = [
    "JSON_SCHEMA_VERSION",
    "cell",
    "display_frame",
    "headline",
    "plain",
    "render_markdown",
    "render_text",
    "report_dict",
]

JSON_SCHEMA_VERSION = 1
MISSING = "n/a"  # how every format but JSON writes a missing value
# Where the items a finding does not show are listed, in a study report.
ITEMS_HINT = "the JSON report's findings[].affected lists all"
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


# --- cells and tables ---------------------------------------------------------------------


def cell(value: Any) -> str:
    """A table cell as every text format writes it.

    Floats with 3 decimals (below 0.001, two significant digits in scientific
    notation, so a small p-value does not read as 0), missing values as ``n/a``,
    lists joined by commas.

    Examples
    --------
    >>> from pitfalls.report._render import cell
    >>> cell(0.81249), cell(3.2e-05), cell(float("nan")), cell(7), cell(["a", "b"])
    ('0.812', '3.2e-05', 'n/a', '7', 'a, b')
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items())
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.1e}"
    return format_number(value)


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as text cells: a named index becomes the first column(s), names flattened."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    out = pd.DataFrame(
        [[cell(v) for v in row] for row in frame.itertuples(index=False, name=None)],
        columns=[_column_name(c) for c in frame.columns],
    )
    return out


def _column_name(column: Any) -> str:
    if isinstance(column, tuple):
        return " ".join(str(part) for part in column if str(part))
    return str(column)


def table_records(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as JSON: its column names and one record per row (named index included)."""
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    columns = [_column_name(c) for c in frame.columns]
    records = [
        dict(zip(columns, (plain(v) for v in row), strict=True))
        for row in frame.itertuples(index=False, name=None)
    ]
    return {"columns": columns, "records": records}


# --- JSON values --------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A value as plain JSON data: numpy scalars and arrays unwrapped, NaN and inf as None.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.report._render import plain
    >>> plain({"auc": np.float64(0.9), "ci": (np.nan, 1.0), 3: np.arange(2)})
    {'auc': 0.9, 'ci': [None, 1.0], '3': [0, 1]}
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, pd.Index, pd.Series)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [plain(v) for v in items]
    if isinstance(value, pd.DataFrame):
        return table_records(value)["records"]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


# --- the report as a whole ----------------------------------------------------------------


def ordered_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Findings most severe first, then by code (the order of every rendering)."""
    return sorted(findings, key=lambda f: (_SEVERITY_RANK[f.severity], f.code))


def finding_section(finding: Finding) -> str | None:
    """The key of the section a finding belongs to (None for a code of neither registry).

    ``"audit"`` for the audit's codes; a report check's own section otherwise
    (:data:`~pitfalls.report._findings.REPORT_CHECKS`).
    """
    from ..audit import CHECKS
    from ._findings import REPORT_CHECKS

    if finding.code in CHECKS:
        return "audit"
    check = REPORT_CHECKS.get(finding.code)
    return None if check is None else check.section


def severity_counts(findings: Sequence[Finding]) -> dict[str, int]:
    """Number of findings per severity, every severity present."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def headline(report: StudyReport) -> str:
    """``pitfalls study report: PASSED (1 medium) - 9 sections: 6 ok, 3 not available``."""
    verdict = "PASSED" if report.passed else "FAILED"
    counts = severity_counts(report.finding_objects)
    found = ", ".join(f"{n} {severity}" for severity, n in counts.items() if n)
    gate = "" if report.fail_on == "high" else f", failing on {report.fail_on}"
    statuses = [section.status for section in report.sections.values()]
    states = ", ".join(
        f"{statuses.count(status)} {status.replace('_', ' ')}"
        for status in STATUSES
        if status in statuses
    )
    n_sections = len(report.sections)
    return (
        f"pitfalls study report: {verdict} ({found or 'no findings'}{gate}) - "
        f"{n_sections} section{'' if n_sections == 1 else 's'}" + (f": {states}" if states else "")
    )


def settings_text(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each setting as (name, value as text); lists and mappings written as JSON."""
    out = []
    for name, value in settings.items():
        value = plain(value)
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append((str(name), shown))
    return out


def render_text(report: StudyReport) -> str:
    """The plain-text report (see ``StudyReport.to_text``)."""
    lines = [headline(report), "", "Findings", "--------"]
    lines += findings_text(ordered_findings(report.finding_objects), hint=ITEMS_HINT)
    for section in report.sections.values():
        lines += ["", *_section_text(section)]
    if report.settings:
        lines += ["", "Settings", "--------"]
        lines += [f"{name}: {value}" for name, value in settings_text(report.settings)]
    return "\n".join(lines) + "\n"


def _section_text(section: Section) -> list[str]:
    title = f"{section.title} [{section.status.replace('_', ' ')}]"
    lines = [title, "-" * len(title), *section.text]
    for table in section.tables:
        shown = display_frame(table.frame)
        rows = shown.to_numpy().tolist()
        lines += ["", f"Table: {table.caption}"]
        lines.append(text_table(list(shown.columns), rows) if rows else "(no rows)")
    for figure in section.figures:
        lines += ["", f"Figure (in the HTML report): {figure.caption}"]
    return lines


def render_markdown(report: StudyReport) -> str:
    """The Markdown report (see ``StudyReport.to_markdown``)."""
    verdict = "PASSED" if report.passed else "FAILED"
    out = [f"# pitfalls study report: {verdict}", "", headline(report), "", "## Contents", ""]
    out += ["1. Findings"]
    out += [f"1. {s.title} ({_status(s)})" for s in report.sections.values()]
    out += ["", "## Findings", ""]
    out += findings_markdown(ordered_findings(report.finding_objects), hint=ITEMS_HINT)
    for section in report.sections.values():
        out += _section_markdown(section)
    if report.settings:
        frame = pd.DataFrame(settings_text(report.settings), columns=["setting", "value"])
        out += ["## Settings", "", frame_to_markdown(frame), ""]
    return "\n".join(out)


def _status(section: Section) -> str:
    return section.status.replace("_", " ")


def _section_markdown(section: Section) -> list[str]:
    out = [f"## {_md(section.title)} ({_status(section)})", ""]
    for sentence in section.text:
        out += [_md(sentence), ""]
    for table in section.tables:
        out += [f"*Table: {_md(table.caption)}*", "", _markdown_table(table), ""]
    for figure in section.figures:
        out += [f"*Figure (in the HTML report): {_md(figure.caption)}*", ""]
    return out


def _markdown_table(table: ReportTable) -> str:
    shown = display_frame(table.frame)
    if shown.empty:
        return "(no rows)"
    shown = shown.map(_markdown_text)
    shown.columns = [_markdown_text(c) for c in shown.columns]
    return frame_to_markdown(shown)  # escapes "|" itself


def _markdown_text(text: Any) -> str:
    # A cell: markdown_escape without "|", which markdown_table escapes itself.
    text = str(text)
    for char in "\\<>":
        text = text.replace(char, "\\" + char)
    return text


def _md(text: Any) -> str:
    """One line of Markdown text (see ``markdown_escape``), runs of white space as one."""
    return markdown_escape(" ".join(str(text).split()))


# --- JSON ---------------------------------------------------------------------------------


def report_dict(report: StudyReport) -> dict[str, Any]:
    """The JSON document (see ``StudyReport.to_dict``), plain values only."""
    findings = ordered_findings(report.finding_objects)
    return {
        "schema": "pitfalls.report",
        "schema_version": JSON_SCHEMA_VERSION,
        "pitfalls_version": __version__,
        "passed": report.passed,
        "fail_on": report.fail_on,
        "counts": severity_counts(findings),
        "settings": plain(report.settings),
        "sections": {key: section_dict(s) for key, s in report.sections.items()},
        "findings": [plain({**finding_json(f), "section": finding_section(f)}) for f in findings],
    }


def section_dict(section: Section) -> dict[str, Any]:
    """One section as JSON: key, title, status, sentences, data, tables, figure captions."""
    return {
        "key": section.key,
        "title": section.title,
        "status": section.status,
        "text": list(section.text),
        "data": plain(section.data),
        "tables": [
            {"key": t.key, "caption": t.caption, **table_records(t.frame)} for t in section.tables
        ],
        "figures": [{"key": f.key, "caption": f.caption} for f in section.figures],
    }
