"""The result of an audit and its renderings (text, Markdown, HTML, JSON, CSV details).

Every rendering is built from the same :class:`~pitfalls.audit.Finding` objects: the
examples a text or Markdown report shows are the first items of the records that
:meth:`AuditReport.to_frame`, the JSON ``affected`` lists, the HTML detail tables
and ``pitfalls audit --details`` hold in full.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._tables import frame_to_markdown
from .._version import __version__
from ._checklist import CHECKLIST
from ._checks import AFFECTED_COLUMNS, CHECKS, SEVERITIES, Finding

__all__ = ["FAIL_ON", "JSON_SCHEMA_VERSION", "AuditReport"]

JSON_SCHEMA_VERSION = 2
FAIL_ON = ("high", "medium", "low", "info", "never")

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_COLOURS = {"high": "\033[1;31m", "medium": "\033[33m", "low": "\033[36m", "info": "\033[2m"}
_RESET = "\033[0m"
_PLURALS = {"class": "classes"}
_INTEGER_COLUMNS = ("item", "distance", "detail_distance", "n_rows", "n_groups")


def check_fail_on(fail_on: str) -> str:
    """Validate a ``fail_on`` level (internal helper shared with ``audit``)."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on={fail_on!r} is not one of {', '.join(map(repr, FAIL_ON))}.")
    return fail_on


def plural_unit(unit: str, n: int = 2) -> str:
    """``"patient"`` -> ``"patients"``, ``"class"`` -> ``"classes"`` (internal helper)."""
    return unit if n == 1 else _PLURALS.get(unit, unit + "s")


def more_text(finding: Finding) -> str:
    """``"and 3 more patients"`` when the examples do not show every item, else ``""``."""
    rest = finding.n_items - len(finding.examples)
    return f"and {rest} more {plural_unit(finding.unit, rest)}" if rest > 0 else ""


class AuditReport:
    """Findings of :func:`pitfalls.audit.audit` on one manifest, and their renderings.

    Parameters
    ----------
    findings : sequence of Finding
        What the checks found (sorted here, most severe first).
    summary : dict
        Rows, groups and rows per split, and the columns audited.
    checks_run : list of str
        Codes of the checks that ran.
    checks_skipped : dict of str -> str
        Codes of the checks that could not run, with the reason.
    fail_on : {"high", "medium", "low", "info", "never"}, default="high"
        Least severe level that makes the audit fail (:attr:`passed`).
    label_by_split, site_by_split, label_by_site : pandas.DataFrame or None
        Row counts per split (rows) and class or site (columns), and per site and
        class.
    image_paths : list of str or None
        Resolved image path per manifest row.
    thumbnails : dict of str -> ndarray, optional
        Display thumbnails (uint8) of the images the HTML report shows, by row id.

    Attributes
    ----------
    findings : pandas.DataFrame
        One row per finding, most severe first, with columns ``code``,
        ``severity``, ``title``, ``detail``, ``n_affected``, ``examples`` (list of
        str, the first few items), ``unit`` (what an affected item is),
        ``n_items``, ``check`` (name), ``checklist`` (Table 4 items) and
        ``leakage_types`` (Kapoor & Narayanan). :meth:`to_frame` lists every
        affected item.
    passed : bool
        No finding reaches ``fail_on``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.audit import audit
    >>> df = pd.DataFrame({"pid": ["a", "a", "b", "c"], "split": ["train", "test", "train", "test"]})
    >>> report = audit(df, group="pid", split="split")
    >>> report.passed
    False
    >>> report.findings[["code", "severity", "n_affected", "unit", "n_items"]]
        code severity  n_affected     unit  n_items
    0  PF101     high           2  patient        1
    1  PF303   medium           4    split        2
    """

    def __init__(
        self,
        findings: Sequence[Finding],
        *,
        summary: dict[str, Any],
        checks_run: list[str],
        checks_skipped: dict[str, str],
        fail_on: str = "high",
        label_by_split: pd.DataFrame | None = None,
        site_by_split: pd.DataFrame | None = None,
        label_by_site: pd.DataFrame | None = None,
        image_paths: list[str] | None = None,
        thumbnails: dict[str, np.ndarray] | None = None,
    ) -> None:
        self._findings = sorted(findings, key=lambda f: (_RANK[f.severity], f.code))
        self.summary = summary
        self.checks_run = checks_run
        self.checks_skipped = checks_skipped
        self.fail_on = check_fail_on(fail_on)
        self.label_by_split = label_by_split
        self.site_by_split = site_by_split
        self.label_by_site = label_by_site
        self.image_paths = image_paths
        self.thumbnails = dict(thumbnails or {})

    # --- data -------------------------------------------------------------------

    @property
    def findings(self) -> pd.DataFrame:
        """Findings as a DataFrame, most severe first (see the class docstring)."""
        return findings_frame(self._findings)

    @property
    def finding_list(self) -> list[Finding]:
        """Deprecated: the findings as objects; use :attr:`findings` or :meth:`to_frame`."""
        warnings.warn(
            "AuditReport.finding_list is deprecated; use report.findings (a DataFrame) and "
            "report.to_frame(code) for every affected item.",
            FutureWarning,
            stacklevel=2,
        )
        return list(self._findings)

    @property
    def passed(self) -> bool:
        """True when no finding reaches ``fail_on`` (by default: no high finding)."""
        return _passes(self._findings, self.fail_on)

    def passes(self, fail_on: str = "high") -> bool:
        """Deprecated: use ``audit(..., fail_on=)`` and :attr:`passed`.

        Parameters
        ----------
        fail_on : {"high", "medium", "low", "info", "never"}, default="high"
            Least severe level that fails; ``"never"`` always passes.

        Returns
        -------
        bool

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": list("abcd"), "split": ["train", "train", "val", "val"]})
        >>> audit(df, group="pid", split="split", fail_on="medium").passed
        False
        """
        warnings.warn(
            "AuditReport.passes(fail_on) is deprecated; use audit(..., fail_on=...) and "
            "report.passed.",
            FutureWarning,
            stacklevel=2,
        )
        return _passes(self._findings, check_fail_on(fail_on))

    def counts(self) -> dict[str, int]:
        """Number of findings per severity.

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": list("abcd"), "split": ["train", "train", "val", "val"]})
        >>> audit(df, group="pid", split="split").counts()
        {'high': 0, 'medium': 2, 'low': 0, 'info': 0}
        """
        counts = dict.fromkeys(SEVERITIES, 0)
        for f in self._findings:
            counts[f.severity] += 1
        return counts

    def to_frame(self, code: str | None = None) -> pd.DataFrame:
        """Every item every finding affects (or one finding's), one record per row.

        The records are those of the JSON report's ``affected`` lists and of
        ``pitfalls audit --details``; their columns are documented in the audit
        guide (:doc:`/audit`). Rows are named by the ``id=`` column when given.

        Parameters
        ----------
        code : str, optional
            A finding code (``"PF101"``). Without it, the records of every finding,
            most severe first, with every column of the schema.

        Returns
        -------
        pandas.DataFrame
            ``code`` then the finding's columns: ``item`` (records of one patient,
            duplicate set, pair, site, class or split share it), ``row``, ``group``,
            ``split``, ``path`` and, for pairs, ``other_row``, ``other_group``,
            ``other_split``, ``other_path``, ``distance`` and ``measure``... Empty
            (with every column) when that check found nothing.

        Raises
        ------
        ValueError
            If ``code`` is not a check code.

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": ["007", "007", "7"], "split": ["train", "test", "test"]})
        >>> audit(df, group="pid", split="split").to_frame("PF101")
            code  item  row group  split
        0  PF101     1    0   007  train
        1  PF101     1    1   007   test
        """
        if code is not None and code not in CHECKS:
            raise ValueError(
                f"code={code!r} is not a check code; use one of {', '.join(sorted(CHECKS))}."
            )
        chosen = [f for f in self._findings if code is None or f.code == code]
        tables = [f.affected.assign(code=f.code) for f in chosen]
        columns = ["code", *AFFECTED_COLUMNS]
        if not tables:  # nothing found: no records, every column
            return pd.DataFrame(columns=columns)
        if code is not None:
            present = {c for t in tables for c in t.columns}
            columns = [c for c in columns if c in present or c == "code"]
        frame = pd.concat(tables, ignore_index=True).reindex(columns=columns)
        return frame.astype({c: "Int64" for c in _INTEGER_COLUMNS if c in frame.columns})

    def checklist(self) -> pd.DataFrame:
        """The paper's Table 4, each item with what this audit could verify.

        Returns
        -------
        pandas.DataFrame
            Columns ``item``, ``guideline``, ``pitfall``, ``status`` and
            ``evidence``. ``status`` is ``"issue found"`` (a high or medium finding
            bears on it), ``"review"`` (only low or info findings), ``"no issue
            found"`` (its checks ran clean: consistent with the guideline, not a
            proof), ``"not checked"`` (a column was not given) or ``"manual check"``
            (a manifest cannot show it, e.g. where feature selection ran).

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"]})
        >>> table = audit(df, group="pid", split="split").checklist()
        >>> table.loc[table.item == 4, "status"].item()
        'issue found'
        >>> table.loc[table.item == 3, "status"].item()
        'manual check'
        """
        return pd.DataFrame([self._checklist_row(item) for item in CHECKLIST])

    def _checklist_row(self, item: Any) -> dict[str, Any]:
        related = [f for f in self._findings if item.number in f.checklist]
        ran = [c for c in item.audit_codes if c in self.checks_run]
        if related:
            worst = min(_RANK[f.severity] for f in related)
            status = "issue found" if worst <= _RANK["medium"] else "review"
            evidence = ", ".join(sorted({f"{f.code} {f.check}" for f in related}))
        elif ran:
            status, evidence = "no issue found", "checked: " + ", ".join(ran)
        elif item.audit_codes:
            reasons = {self.checks_skipped.get(c, "") for c in item.audit_codes}
            status, evidence = "not checked", "; ".join(sorted(r for r in reasons if r))
        else:
            status, evidence = "manual check", item.how
        return {
            "item": item.number,
            "guideline": item.text,
            "pitfall": item.pitfall,
            "status": status,
            "evidence": evidence,
        }

    # --- renderings ---------------------------------------------------------------

    def _headline(self) -> str:
        s = self.summary
        splits = ", ".join(f"{k} {v}" for k, v in s["rows_per_split"].items())
        verdict = "PASSED" if self.passed else "FAILED"
        counts = ", ".join(f"{n} {sev}" for sev, n in self.counts().items() if n)
        gate = "" if self.fail_on == "high" else f", failing on {self.fail_on}"
        return (
            f"pitfalls audit: {verdict} ({counts or 'no findings'}{gate}) - {s['n_rows']} "
            f"rows, {s['n_groups']} groups, splits: {splits}"
        )

    def to_text(self, *, color: bool | None = None) -> str:
        """Plain-text report for a terminal.

        Each finding shows its first items and how many more there are;
        :meth:`to_frame` (``pitfalls audit --details FILE.csv``) lists them all.

        Parameters
        ----------
        color : bool, optional
            ANSI colours by severity; default: only when stdout is a terminal.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"]})
        >>> print(audit(df, group="pid", split="split").to_text(color=False))  # doctest: +ELLIPSIS
        pitfalls audit: FAILED (1 high, 1 medium) - 3 rows, 2 groups, splits: train 1, test 2
        <BLANKLINE>
        [HIGH] PF101 group-in-several-splits: Patient (group) in more than one split
          1 of 2 groups in column 'pid' has samples in more than one split (2 rows); ...
          e.g. 'a': train (1), test (1)
        ...
        """
        if color is None:
            color = sys.stdout.isatty()
        lines = [self._headline(), "", *findings_text(self._findings, color=color)]
        if self.checks_skipped:
            lines += ["", f"Not checked: {self._skipped_text()}"]
        return "\n".join(lines) + "\n"

    def _skipped_text(self) -> str:
        return ", ".join(f"{c} ({why})" for c, why in self.checks_skipped.items())

    def to_markdown(self) -> str:
        """Markdown report: summary, findings table, details, distributions, checklist.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"]})
        >>> md = audit(df, group="pid", split="split").to_markdown()
        >>> md.splitlines()[0]
        '# pitfalls audit: FAILED'
        >>> "| PF101 | high |" in md
        True
        """
        verdict = "PASSED" if self.passed else "FAILED"
        out = [f"# pitfalls audit: {verdict}", "", self._headline(), "", "## Findings", ""]
        out += findings_markdown(self._findings)
        for title, index, table in self._distributions():
            out += [f"## {title}", "", frame_to_markdown(table, index=index), ""]
        out += [
            "## Checklist (Maleki et al., Table 4)",
            "",
            "| # | guideline | status | evidence |",
            "| --- | --- | --- | --- |",
        ]
        out += [
            f"| {row.item} | {markdown_escape(row.guideline)} | {row.status} | {markdown_escape(row.evidence)} |"
            for row in self.checklist().itertuples()
        ]
        if self.checks_skipped:
            out += ["", f"Not checked: {self._skipped_text()}"]
        return "\n".join(out) + "\n"

    def to_json(self, *, indent: int | None = 2) -> str:
        """JSON report, schema version 2 (documented in the audit guide, :doc:`/audit`).

        Top-level keys: ``schema`` (``"pitfalls.audit"``), ``schema_version``,
        ``pitfalls_version``, ``passed``, ``fail_on``, ``counts``, ``summary``,
        ``findings`` (each with ``code``, ``check``, ``severity``, ``title``,
        ``detail``, ``n_affected``, ``unit``, ``n_items``, ``examples``,
        ``checklist``, ``leakage_types`` and ``affected``: every affected item as
        records, the rows of :meth:`to_frame` for that code without ``code``),
        ``checks_run``, ``checks_skipped``, ``checklist`` and ``distributions``.
        New keys may be added within a schema version; a key is never removed or
        changed in meaning without incrementing it.

        Parameters
        ----------
        indent : int or None, default=2

        Returns
        -------
        str
            ASCII text (other characters escaped as JSON allows).

        Examples
        --------
        >>> import json, pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"]})
        >>> doc = json.loads(audit(df, group="pid", split="split").to_json())
        >>> doc["schema_version"], doc["passed"], doc["findings"][0]["affected"][0]
        (2, False, {'item': 1, 'row': 0, 'group': 'a', 'split': 'train'})
        """
        doc = {
            "schema": "pitfalls.audit",
            "schema_version": JSON_SCHEMA_VERSION,
            "pitfalls_version": __version__,
            "passed": self.passed,
            "fail_on": self.fail_on,
            "counts": self.counts(),
            "summary": self.summary,
            "findings": [finding_json(f) for f in self._findings],
            "checks_run": self.checks_run,
            "checks_skipped": self.checks_skipped,
            "checklist": self.checklist().to_dict(orient="records"),
            "distributions": {
                "label_by_split": _table_dict(self.label_by_split),
                "site_by_split": _table_dict(self.site_by_split),
                "label_by_site": _table_dict(self.label_by_site),
            },
        }
        return json.dumps(doc, indent=indent, default=_json_default, allow_nan=False)

    def to_html(self, path: str | os.PathLike | None = None, *, max_pairs: int = 12) -> str:
        """One self-contained HTML file: findings, distributions, duplicate thumbnails.

        Figures and thumbnails are embedded as base64 PNG, so the file can be mailed
        or attached to a CI run as it is. Every affected item is listed in a
        collapsible table under its finding.

        Parameters
        ----------
        path : path-like, optional
            Where to write the file. The HTML is returned either way.
        max_pairs : int, default=12
            Duplicate and near-duplicate pairs shown side by side, per finding (at
            most 24 have thumbnails).

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"],
        ...                    "y": [0, 1, 1]})
        >>> page = audit(df, group="pid", split="split", label="y").to_html()
        >>> page.startswith("<!DOCTYPE html>"), "Classes per split" in page
        (True, True)
        """
        from ._html import render_html

        page = render_html(self, max_pairs=max_pairs)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def plot(self) -> Any:
        """Classes per split, sites per split and classes per site as stacked bars.

        Returns
        -------
        matplotlib.figure.Figure or None
            One panel per table the audit could build; None without label and site.

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": list("abcd"), "split": ["train", "train", "test", "test"],
        ...                    "y": [0, 1, 0, 1], "site": ["A", "A", "B", "B"]})
        >>> fig = audit(df, group="pid", split="split", label="y", site="site").plot()
        >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
        ['Classes per split', 'Sites per split', 'Classes per site']
        """
        from ._html import distribution_figure

        return distribution_figure(self)

    def _distributions(self) -> list[tuple[str, str, pd.DataFrame]]:
        """The count tables the audit built: (title, index name, table)."""
        tables = (
            ("Classes per split", "split", self.label_by_split),
            ("Sites per split", "split", self.site_by_split),
            ("Classes per site", "site", self.label_by_site),
        )
        return [(title, index, table) for title, index, table in tables if table is not None]

    def __repr__(self) -> str:
        return f"<AuditReport {self._headline()}>"


FINDING_COLUMNS = (
    "code",
    "severity",
    "title",
    "detail",
    "n_affected",
    "examples",
    "unit",
    "n_items",
    "check",
    "checklist",
    "leakage_types",
)


def findings_frame(findings: Sequence[Finding]) -> pd.DataFrame:
    """Findings as the DataFrame ``AuditReport.findings`` returns, one row each, in order.

    Shared with :attr:`pitfalls.report.StudyReport.findings`, so a finding has one
    tabular shape everywhere.
    """
    rows = [
        {
            "code": f.code,
            "severity": f.severity,
            "title": f.title,
            "detail": f.detail,
            "n_affected": f.n_affected,
            "examples": list(f.examples),
            "unit": f.unit,
            "n_items": f.n_items,
            "check": f.check,
            "checklist": list(f.checklist),
            "leakage_types": list(f.leakage_types),
        }
        for f in findings
    ]
    frame = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    return frame.astype({"n_affected": "int64", "n_items": "int64"})


_AUDIT_HINT = "to_frame({code!r}) or --details lists all"
_AUDIT_MARKDOWN_HINT = "`to_frame({code!r})` or `--details` lists all"


def findings_text(
    findings: Sequence[Finding], *, color: bool = False, hint: str = _AUDIT_HINT
) -> list[str]:
    """Lines of a plain-text report for findings: tag, detail, first items, how many more.

    ``hint`` (formatted with ``code``) says where the items not shown are listed.
    """
    lines = []
    for f in findings:
        tag = f"[{f.severity.upper()}]"
        if color:
            tag = f"{_COLOURS[f.severity]}{tag}{_RESET}"
        lines.append(f"{tag} {f.code} {f.check}: {f.title}")
        lines.append(f"  {f.detail}")
        lines += [f"  e.g. {example}" for example in f.examples]
        if more_text(f):
            lines.append(f"  {more_text(f)} ({hint.format(code=f.code)})")
    return lines or ["No findings."]


def findings_markdown(
    findings: Sequence[Finding], *, hint: str = _AUDIT_MARKDOWN_HINT
) -> list[str]:
    """Markdown lines for findings: one table, then each finding's detail and first items."""
    if not findings:
        return ["No findings.", ""]
    out = [
        "| code | severity | check | affected rows | items | title |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    out += [
        f"| {f.code} | {f.severity} | {f.check} | {f.n_affected} | "
        f"{f.n_items} {plural_unit(f.unit, f.n_items)} | {markdown_escape(f.title)} |"
        for f in findings
    ]
    out.append("")
    for f in findings:
        out += [f"### {f.code} {f.check} ({f.severity})", "", markdown_escape(f.detail), ""]
        out += [f"- {markdown_escape(e)}" for e in f.examples]
        if more_text(f):
            out.append(f"- {more_text(f)} ({hint.format(code=f.code)})")
        if f.examples:
            out.append("")
    return out


def _passes(findings: Sequence[Finding], fail_on: str) -> bool:
    if fail_on == "never":
        return True
    return all(_RANK[f.severity] > _RANK[fail_on] for f in findings)


def finding_json(f: Finding) -> dict[str, Any]:
    """One finding as the JSON reports write it (every affected item as records)."""
    return {
        "code": f.code,
        "check": f.check,
        "severity": f.severity,
        "title": f.title,
        "detail": f.detail,
        "n_affected": f.n_affected,
        "unit": f.unit,
        "n_items": f.n_items,
        "examples": f.examples,
        "checklist": list(f.checklist),
        "leakage_types": list(f.leakage_types),
        "affected": _records(f.affected),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame as dicts of plain Python values, missing values as None."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def markdown_escape(text: Any) -> str:
    """Text for one Markdown line or table cell: ``\\ | < >`` escaped, newlines as spaces.

    ``<`` and ``>`` are escaped so that an id such as ``<b>`` is shown as written,
    not read as HTML by a Markdown viewer.
    """
    text = str(text).replace("\n", " ")
    for char in "\\|<>":
        text = text.replace(char, "\\" + char)
    return text


def _table_dict(table: pd.DataFrame | None) -> dict[str, dict[str, int]] | None:
    if table is None:
        return None
    return {
        str(idx): {str(c): int(v) for c, v in zip(table.columns, row, strict=True)}
        for idx, row in zip(table.index, table.to_numpy(), strict=True)
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
