"""The study report's own findings (codes ``PF4xx``): what the evaluation shows, not the split.

The audit's findings (``PF1xx``-``PF3xx``, :data:`pitfalls.audit.CHECKS`) are about the
manifest: patients crossing splits, duplicates, confounded sites, class balance. The
report adds findings that need the predictions. Codes never change meaning:

======  ============================  ========  ================================================
code    name                          severity  meaning
======  ============================  ========  ================================================
PF401   baseline-not-beaten           high      on an evaluation split the headline metric
                                                (ROC AUC with scores, else balanced accuracy)
                                                is not above the better naive baseline (always
                                                the majority class; guessing at the
                                                prevalence): high when the point estimate is
                                                not above it, medium when only the lower
                                                confidence bound is not
PF402   labels-not-beating-baseline   medium    with scores: the predicted labels' balanced
                                                accuracy is not above 0.5 (low when only its
                                                lower bound is not): the threshold does not
                                                suit the split
PF403   accuracy-below-majority       low       accuracy is not above always predicting the
                                                majority class: accuracy misleads on this split
PF404   miscalibrated                 medium    the confidence interval of the calibration
                                                slope excludes 1 (predictions too extreme
                                                below 1, too timid above 1)
PF405   subgroup-heterogeneity        medium    performance differs between the levels of a
                                                subgroup column (Cochran's Q, p < 0.05)
PF406   site-heterogeneity            medium    performance differs between sites (Cochran's
                                                Q, p < 0.05)
PF407   external-gap                  medium    an external split scores significantly below
                                                the internal test split (z-test on the
                                                bootstrap standard errors, one-sided
                                                p < 0.05), or the sites held out score below
                                                internal cross-validation (Wilcoxon
                                                rank-sum p < 0.05)
PF408   leakage-inflation             info      a leaky protocol scored significantly higher
                                                than its correct twin (Wilcoxon rank-sum
                                                p < 0.05): report the correct protocol's score
======  ============================  ========  ================================================

Patients in several splits are the audit's PF101, not repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..audit import AFFECTED_COLUMNS, Finding

__all__ = ["ALPHA", "REPORT_CHECKS", "ReportCheck", "report_finding"]

# Significance level of every test behind a finding (heterogeneity, external gap,
# leakage inflation).
ALPHA = 0.05


@dataclass(frozen=True)
class ReportCheck:
    """One report-level finding kind: stable code, name, default severity, meaning.

    Examples
    --------
    >>> from pitfalls.report._findings import REPORT_CHECKS
    >>> REPORT_CHECKS["PF401"].name, REPORT_CHECKS["PF401"].severity
    ('baseline-not-beaten', 'high')
    """

    code: str
    name: str
    severity: str
    title: str
    meaning: str
    checklist: tuple[int, ...] = ()  # items of the paper's Table 4
    unit: str = "split"
    # The key of the section that computes it (StudyReport.findings' "section").
    section: str = field(kw_only=True)


REPORT_CHECKS: dict[str, ReportCheck] = {
    check.code: check
    for check in (
        ReportCheck(
            "PF401",
            "baseline-not-beaten",
            "high",
            "Model not shown to beat the naive baselines",
            "The headline metric (ROC AUC with scores, else balanced accuracy) is not above "
            "the better naive baseline on an evaluation split; medium when only its lower "
            "confidence bound is not.",
            (7,),
            section="performance",
        ),
        ReportCheck(
            "PF402",
            "labels-not-beating-baseline",
            "medium",
            "Predicted labels no better than the naive baselines",
            "With scores, the balanced accuracy of the predicted labels is not above 0.5 "
            "(low when only its lower bound is not): the threshold does not suit the split.",
            (7,),
            section="performance",
        ),
        ReportCheck(
            "PF403",
            "accuracy-below-majority",
            "low",
            "Accuracy not above always predicting the majority class",
            "Accuracy does not beat the majority-class baseline: it misleads on this split.",
            (5,),
            section="performance",
        ),
        ReportCheck(
            "PF404",
            "miscalibrated",
            "medium",
            "Calibration slope differs from 1",
            "The confidence interval of the calibration slope excludes 1.",
            section="calibration",
        ),
        ReportCheck(
            "PF405",
            "subgroup-heterogeneity",
            "medium",
            "Performance differs between subgroups",
            "Cochran's Q on the per-level estimates rejects homogeneity (p < 0.05).",
            unit="subgroup",
            section="subgroups",
        ),
        ReportCheck(
            "PF406",
            "site-heterogeneity",
            "medium",
            "Performance differs between sites",
            "Cochran's Q on the per-site estimates rejects homogeneity (p < 0.05).",
            (9,),
            unit="site",
            section="subgroups",
        ),
        ReportCheck(
            "PF407",
            "external-gap",
            "medium",
            "External performance below internal",
            "An external split (or the sites held out) scores significantly below the "
            "internal evaluation.",
            (8,),
            section="external",
        ),
        ReportCheck(
            "PF408",
            "leakage-inflation",
            "info",
            "A leaky protocol inflates the score",
            "leakage_gap found the leaky protocol significantly above the correct one.",
            unit="pitfall",
            section="leakage",
        ),
    )
}


def report_finding(
    code: str,
    detail: str,
    *,
    n_affected: int,
    examples: list[str],
    affected: dict[str, Any],
    severity: str | None = None,
    checklist: tuple[int, ...] | None = None,
) -> Finding:
    """A :class:`pitfalls.audit.Finding` of a report check (severity defaults to the check's).

    ``affected`` holds record columns named in :data:`pitfalls.audit.AFFECTED_COLUMNS`
    (``item``, ``split``, ``site``, ``measure``, ``note``...), one record per affected
    split, level or pitfall.

    Examples
    --------
    >>> from pitfalls.report._findings import report_finding
    >>> f = report_finding("PF404", "slope 0.6 [0.5, 0.7]", n_affected=120,
    ...                    examples=["test"], affected={"item": [1], "split": ["test"]})
    >>> f.code, f.severity, f.checklist, f.n_items
    ('PF404', 'medium', (), 1)
    """
    check = REPORT_CHECKS[code]
    table = pd.DataFrame(affected)
    unknown = [c for c in table.columns if c not in AFFECTED_COLUMNS]
    if unknown:
        raise ValueError(f"affected columns {unknown} are not in AFFECTED_COLUMNS.")
    return Finding(
        code=code,
        check=check.name,
        severity=severity or check.severity,
        title=check.title,
        detail=detail,
        n_affected=int(n_affected),
        examples=list(examples)[:5],
        checklist=check.checklist if checklist is None else checklist,
        unit=check.unit,
        affected=table[[c for c in AFFECTED_COLUMNS if c in table.columns]],
    )
