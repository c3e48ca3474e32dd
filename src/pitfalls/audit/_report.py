"""The result of an audit and its renderings (text, Markdown, HTML, JSON, checklist)."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._tables import frame_to_markdown
from .._version import __version__
from ._checklist import CHECKLIST
from ._checks import SEVERITIES, Finding

__all__ = ["JSON_SCHEMA_VERSION", "AuditReport"]

JSON_SCHEMA_VERSION = 1

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_FAIL_ON = ("high", "medium", "low", "info", "never")
_COLOURS = {"high": "\033[1;31m", "medium": "\033[33m", "low": "\033[36m", "info": "\033[2m"}
_RESET = "\033[0m"


@dataclass
class AuditReport:
    """Findings of :func:`pitfalls.audit.audit` on one manifest, and their renderings.

    Attributes
    ----------
    findings : pandas.DataFrame
        One row per finding, most severe first, with columns ``code``,
        ``severity``, ``title``, ``detail``, ``n_affected``, ``examples`` (list of
        str), then ``check`` (name), ``checklist`` (Table 4 items) and
        ``leakage_types`` (Kapoor & Narayanan).
    summary : dict
        Rows, groups and rows per split, and the columns audited.
    checks_run : list of str
        Codes of the checks that ran.
    checks_skipped : dict of str -> str
        Codes of the checks that could not run, with the reason (a column not given).
    label_by_split, site_by_split : pandas.DataFrame or None
        Row counts per split (rows) and class or site (columns).
    image_paths : list of str or None
        Resolved image path per manifest row (for captions).
    image_thumbnails : ndarray of uint8, shape (n_rows, 64, 64), or None
        The verification thumbnail of each row's image, made from the one read of
        the file while hashing (:attr:`pitfalls.audit.ImageHashes.thumbnail`): the
        HTML report shows these and never opens an image file again.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.audit import audit
    >>> df = pd.DataFrame({"pid": ["a", "a", "b", "c"], "split": ["train", "test", "train", "test"]})
    >>> report = audit(df, group="pid", split="split")
    >>> report.passed
    False
    >>> report.findings[["code", "severity", "n_affected"]]
        code severity  n_affected
    0  PF101     high           2
    1  PF303   medium           4
    """

    finding_list: list[Finding]
    summary: dict[str, Any]
    checks_run: list[str]
    checks_skipped: dict[str, str]
    label_by_split: pd.DataFrame | None = None
    site_by_split: pd.DataFrame | None = None
    image_paths: list[str] | None = None
    image_thumbnails: Any = None
    row_labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.finding_list = sorted(self.finding_list, key=lambda f: (_RANK[f.severity], f.code))

    # --- data -------------------------------------------------------------------

    @property
    def findings(self) -> pd.DataFrame:
        """Findings as a DataFrame, most severe first (see the class docstring)."""
        columns = [
            "code",
            "severity",
            "title",
            "detail",
            "n_affected",
            "examples",
            "check",
            "checklist",
            "leakage_types",
        ]
        rows = [
            {
                "code": f.code,
                "severity": f.severity,
                "title": f.title,
                "detail": f.detail,
                "n_affected": f.n_affected,
                "examples": list(f.examples),
                "check": f.check,
                "checklist": list(f.checklist),
                "leakage_types": list(f.leakage_types),
            }
            for f in self.finding_list
        ]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype({"n_affected": "int64"})

    @property
    def passed(self) -> bool:
        """True when no finding is of high severity (``passes("high")``)."""
        return self.passes("high")

    def passes(self, fail_on: str = "high") -> bool:
        """Whether no finding reaches the severity ``fail_on``.

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
        >>> report = audit(df, group="pid", split="split")
        >>> report.passes("high"), report.passes("medium"), report.passes("never")
        (True, False, True)
        """
        if fail_on not in _FAIL_ON:
            raise ValueError(f"fail_on={fail_on!r} is not one of {', '.join(map(repr, _FAIL_ON))}.")
        if fail_on == "never":
            return True
        return all(_RANK[f.severity] > _RANK[fail_on] for f in self.finding_list)

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
        for f in self.finding_list:
            counts[f.severity] += 1
        return counts

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
        rows = []
        for item in CHECKLIST:
            related = [f for f in self.finding_list if item.number in f.checklist]
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
            rows.append(
                {
                    "item": item.number,
                    "guideline": item.text,
                    "pitfall": item.pitfall,
                    "status": status,
                    "evidence": evidence,
                }
            )
        return pd.DataFrame(rows)

    # --- renderings ---------------------------------------------------------------

    def _headline(self) -> str:
        s = self.summary
        splits = ", ".join(f"{k} {v}" for k, v in s["rows_per_split"].items())
        verdict = "PASSED" if self.passed else "FAILED"
        counts = ", ".join(f"{n} {sev}" for sev, n in self.counts().items() if n)
        return (
            f"pitfalls audit: {verdict} ({counts or 'no findings'}) - {s['n_rows']} rows, "
            f"{s['n_groups']} groups, splits: {splits}"
        )

    def to_text(self, *, color: bool | None = None) -> str:
        """Plain-text report for a terminal.

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
        lines = [self._headline(), ""]
        for f in self.finding_list:
            tag = f"[{f.severity.upper()}]"
            if color:
                tag = f"{_COLOURS[f.severity]}{tag}{_RESET}"
            lines.append(f"{tag} {f.code} {f.check}: {f.title}")
            lines.append(f"  {f.detail}")
            for example in f.examples:
                lines.append(f"  e.g. {example}")
        if not self.finding_list:
            lines.append("No findings.")
        if self.checks_skipped:
            lines.append("")
            skipped = ", ".join(f"{c} ({why})" for c, why in self.checks_skipped.items())
            lines.append(f"Not checked: {skipped}")
        return "\n".join(lines) + "\n"

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
        out = [f"# pitfalls audit: {verdict}", "", self._headline(), ""]
        out += ["## Findings", ""]
        if self.finding_list:
            out += [
                "| code | severity | check | affected rows | title |",
                "| --- | --- | --- | ---: | --- |",
            ]
            for f in self.finding_list:
                out.append(
                    f"| {f.code} | {f.severity} | {f.check} | {f.n_affected} | {_md(f.title)} |"
                )
            out.append("")
            for f in self.finding_list:
                out += [f"### {f.code} {f.check} ({f.severity})", "", _md(f.detail), ""]
                out += [f"- {_md(e)}" for e in f.examples]
                if f.examples:
                    out.append("")
        else:
            out += ["No findings.", ""]
        for title, table in (
            ("Classes per split", self.label_by_split),
            ("Sites per split", self.site_by_split),
        ):
            if table is not None:
                out += [f"## {title}", "", frame_to_markdown(table, index="split"), ""]
        checklist = self.checklist()
        out += [
            "## Checklist (Maleki et al., Table 4)",
            "",
            "| # | guideline | status | evidence |",
            "| --- | --- | --- | --- |",
        ]
        for row in checklist.itertuples():
            out.append(
                f"| {row.item} | {_md(row.guideline)} | {row.status} | {_md(row.evidence)} |"
            )
        if self.checks_skipped:
            out += [
                "",
                "Not checked: "
                + ", ".join(f"{c} ({why})" for c, why in self.checks_skipped.items()),
            ]
        return "\n".join(out) + "\n"

    def to_json(self, *, indent: int | None = 2) -> str:
        """JSON report, schema version 1.

        Schema (keys of the top-level object):

        - ``schema``: ``"pitfalls.audit"``; ``schema_version``: 1; ``pitfalls_version``;
        - ``passed`` (bool, no high finding); ``counts``: findings per severity;
        - ``summary``: ``n_rows``, ``n_groups``, ``rows_per_split``, ``columns``;
        - ``findings``: list of objects with ``code``, ``check``, ``severity``,
          ``title``, ``detail``, ``n_affected``, ``examples`` (list of str),
          ``checklist`` (Table 4 item numbers), ``leakage_types`` and ``pairs``
          (``[row_a, row_b, hamming_distance]`` with manifest row labels, for
          duplicate image findings);
        - ``checks_run`` (codes); ``checks_skipped`` (code -> reason);
        - ``checklist``: list of ``{item, guideline, pitfall, status, evidence}``;
        - ``distributions``: ``label_by_split`` and ``site_by_split`` as
          ``{split: {value: count}}`` or null.

        New keys may be added within a schema version; a key is never removed or
        changed in meaning without incrementing it.

        Parameters
        ----------
        indent : int or None, default=2

        Returns
        -------
        str

        Examples
        --------
        >>> import json, pandas as pd
        >>> from pitfalls.audit import audit
        >>> df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"]})
        >>> doc = json.loads(audit(df, group="pid", split="split").to_json())
        >>> doc["schema_version"], doc["passed"], doc["findings"][0]["code"]
        (1, False, 'PF101')
        """
        doc = {
            "schema": "pitfalls.audit",
            "schema_version": JSON_SCHEMA_VERSION,
            "pitfalls_version": __version__,
            "passed": self.passed,
            "counts": self.counts(),
            "summary": self.summary,
            "findings": [
                {
                    "code": f.code,
                    "check": f.check,
                    "severity": f.severity,
                    "title": f.title,
                    "detail": f.detail,
                    "n_affected": f.n_affected,
                    "examples": f.examples,
                    "checklist": list(f.checklist),
                    "leakage_types": list(f.leakage_types),
                    "pairs": [[self._row(a), self._row(b), d] for a, b, d in f.pairs],
                }
                for f in self.finding_list
            ],
            "checks_run": self.checks_run,
            "checks_skipped": self.checks_skipped,
            "checklist": self.checklist().to_dict(orient="records"),
            "distributions": {
                "label_by_split": _table_dict(self.label_by_split),
                "site_by_split": _table_dict(self.site_by_split),
            },
        }
        return json.dumps(doc, indent=indent, default=_json_default)

    def _row(self, position: int) -> str:
        return self.row_labels[position] if self.row_labels else str(position)

    def to_html(self, path: str | os.PathLike | None = None, *, max_pairs: int = 12) -> str:
        """One self-contained HTML file: findings, distributions, duplicate thumbnails.

        Figures and thumbnails are embedded as base64 PNG, so the file can be mailed
        or attached to a CI run as it is.

        Parameters
        ----------
        path : path-like, optional
            Where to write the file. The HTML is returned either way.
        max_pairs : int, default=12
            Duplicate and near-duplicate pairs shown side by side, per finding.

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

    def __repr__(self) -> str:
        return f"<AuditReport {self._headline()}>"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


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


def figure_to_base64(fig: Any) -> str:
    """PNG of a matplotlib figure as base64 text (internal helper)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def escape(value: Any) -> str:
    """HTML-escaped text (internal helper)."""
    return html.escape(str(value), quote=True)
