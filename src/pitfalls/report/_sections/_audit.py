"""Audit: the manifest checks of :func:`pitfalls.audit.audit`, summarised."""

from __future__ import annotations

import pandas as pd

from ...audit import SEVERITIES, AuditReport, Finding
from .._model import ReportTable, Section
from ._common import section_status

__all__ = ["audit_findings", "audit_section"]


def audit_findings(report: AuditReport) -> list[Finding]:
    """The audit's Finding objects, most severe first, as the report re-publishes them.

    ``AuditReport.finding_list`` is deprecated for users (who read ``findings`` and
    ``to_frame``); the study report needs the objects themselves, whole.
    """
    return list(report._findings)


def audit_section(report: AuditReport) -> Section:
    """Which checks found what; the findings themselves go to the report's list."""
    frame = report.findings
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    codes: dict[str, str] = {}
    for code, severity in zip(frame["code"], frame["severity"], strict=True):
        if code not in codes or rank[severity] < rank[codes[code]]:
            codes[code] = severity
    counts = report.counts()
    if len(frame):
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        text = [
            f"The audit ran {len(report.checks_run)} checks and found {len(frame)} "
            f"finding(s) ({summary}): {', '.join(codes)}."
        ]
    else:
        text = [f"The audit ran {len(report.checks_run)} checks and found nothing."]
    if report.checks_skipped:
        text.append(
            f"Checks not run for lack of a column: {', '.join(sorted(report.checks_skipped))}."
        )
    text.append(
        f"The audit {'passes' if report.passed else 'fails'} at fail_on={report.fail_on!r}."
    )
    table = pd.DataFrame(
        {
            "severity": frame["severity"].to_numpy(),
            "title": frame["title"].to_numpy(),
            "n_affected": frame["n_affected"].to_numpy(),
        },
        index=pd.Index(frame["code"].to_numpy(), name="code"),
    )
    return Section(
        "audit",
        "Audit of the split",
        section_status(audit_findings(report)),
        text=tuple(text),
        tables=(ReportTable("findings", "Audit findings, most severe first.", table),),
        data={"passed": bool(report.passed), "codes": codes, "n_findings": len(frame)},
    )
