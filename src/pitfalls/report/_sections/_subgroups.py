"""Sites and subgroups: one metric per level with its patient-level interval, and Cochran's Q.

Every evaluated row (all evaluation sets together) is grouped by the levels of each
column (the site first, then each subgroup column); each level gets
:func:`pitfalls.metrics.classification_summary` on its rows, patients as the unit.
Heterogeneity is tested with Cochran's Q on the per-level estimates, each weighted by
the inverse of its bootstrap variance (the standard error read from the width of its
percentile interval, as if normal): ``Q = sum w_i (theta_i - theta_bar)^2`` with
``theta_bar`` the inverse-variance weighted mean, chi-square with ``k - 1`` degrees of
freedom under homogeneity. Levels are treated as independent, which holds when each
patient has one level (a patient scanned at two sites counts at both).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...audit import Finding
from .._data import EvaluationSet, StudyData, text_values
from .._findings import ALPHA, report_finding
from .._model import ReportFigure, ReportTable, Section
from ._common import Resampling, ci_text, number, section_status, standard_error
from ._figures import forest_plot
from ._performance import summarise

__all__ = ["cochran_q", "subgroups_section"]

_TITLE = "Sites and subgroups"


def cochran_q(values: Any, standard_errors: Any) -> dict[str, Any]:
    """Cochran's Q test of equal estimates, and the inverse-variance weighted mean.

    Estimates without a finite value or a positive standard error are left out; with
    fewer than two left the statistic and p-value are None.

    Examples
    --------
    >>> from pitfalls.report._sections._subgroups import cochran_q
    >>> test = cochran_q([0.7, 0.9], [0.05, 0.05])
    >>> round(test["statistic"], 3), test["df"], round(test["pvalue"], 4)
    (8.0, 1, 0.0047)
    """
    theta = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    se = np.asarray([np.nan if v is None else v for v in standard_errors], dtype=float)
    keep = np.isfinite(theta) & np.isfinite(se) & (se > 0)
    result: dict[str, Any] = {
        "name": "Cochran's Q",
        "statistic": None,
        "df": None,
        "pvalue": None,
        "pooled": None,
    }
    if keep.sum() < 2:
        return result
    weights = 1.0 / se[keep] ** 2
    pooled = float(np.sum(weights * theta[keep]) / np.sum(weights))
    q = float(np.sum(weights * (theta[keep] - pooled) ** 2))
    df = int(keep.sum() - 1)
    result.update(statistic=q, df=df, pvalue=float(stats.chi2.sf(q, df)), pooled=pooled)
    return result


def _levels(
    data: StudyData, rows: np.ndarray, values: np.ndarray, metric: str, resampling: Resampling
) -> dict[str, dict[str, Any]]:
    levels = {}
    for level in sorted(set(values[rows]) - {None}):
        members = rows[values[rows] == level]
        summary = summarise(data, members, resampling)
        row = summary.table.loc[metric]
        levels[str(level)] = {
            "patients": int(summary.n_groups or 0),
            "samples": int(summary.n_samples),
            "value": number(row["value"]),
            "low": number(row["ci_low"]),
            "high": number(row["ci_high"]),
        }
    return levels


def _column(
    data: StudyData, column: str, rows: np.ndarray, metric: str, resampling: Resampling
) -> dict[str, Any]:
    values = text_values(data.frame[column])
    levels = _levels(data, rows, values, metric, resampling)
    errors = [standard_error(v["low"], v["high"], resampling.confidence) for v in levels.values()]
    test = cochran_q([v["value"] for v in levels.values()], errors)
    return {
        "metric": metric,
        "levels": levels,
        "test": {k: test[k] for k in ("name", "statistic", "df", "pvalue")},
        "pooled": test["pooled"],
        "n_missing": int(sum(v is None for v in values[rows])),
    }


def _finding(column: str, is_site: bool, entry: dict[str, Any]) -> list[Finding]:
    test = entry["test"]
    if test["pvalue"] is None or test["pvalue"] >= ALPHA:
        return []
    levels = entry["levels"]
    names = list(levels)
    shown = [f"{k}: {ci_text(v['value'], v['low'], v['high'])}" for k, v in levels.items()]
    code = "PF406" if is_site else "PF405"
    return [
        report_finding(
            code,
            f"{entry['metric']} differs between the levels of {column!r} (Cochran's Q = "
            f"{test['statistic']:.2f}, df {test['df']}, p = {test['pvalue']:.3g}): "
            + "; ".join(shown)
            + ". Report performance per level; a pooled score hides it.",
            n_affected=sum(v["samples"] for v in levels.values()),
            examples=shown,
            affected={
                "item": np.arange(1, len(names) + 1),
                ("site" if is_site else "note"): (
                    names if is_site else [f"{column} = {k}" for k in names]
                ),
                "n_rows": [levels[k]["samples"] for k in names],
                "n_groups": [levels[k]["patients"] for k in names],
                "measure": [
                    ci_text(levels[k]["value"], levels[k]["low"], levels[k]["high"]) for k in names
                ],
            },
        )
    ]


def _table(entry: dict[str, Any], column: str) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(
        entry["levels"], orient="index", columns=["patients", "samples", "value", "low", "high"]
    )
    frame.index.name = column
    return frame


def _outputs(column: str, entry: dict[str, Any], resampling: Resampling) -> tuple[Any, ...]:
    frame = _table(entry, column)
    metric = entry["metric"]
    test = entry["test"]
    test_text = (
        "too few levels with an interval for a test"
        if test["pvalue"] is None
        else f"Cochran's Q = {test['statistic']:.2f}, df {test['df']}, p = {test['pvalue']:.3g}"
    )
    missing = (
        f"; {entry['n_missing']} evaluated samples have no value" if entry["n_missing"] else ""
    )
    sentence = (
        f"{column}: {metric} per level, "
        + "; ".join(
            f"{k} {ci_text(v['value'], v['low'], v['high'])} ({v['patients']} patients)"
            for k, v in entry["levels"].items()
        )
        + f"; {test_text}{missing}."
    )
    table = ReportTable(
        f"levels_{column}",
        f"{metric} per level of {column!r} with {resampling.percent} patient-level intervals.",
        frame,
    )
    figure = ReportFigure(
        f"forest_{column}",
        f"{metric} per level of {column!r} with {resampling.percent} patient-level intervals; "
        "the dashed line is the inverse-variance weighted mean.",
        lambda: forest_plot(
            frame, title=f"{metric} by {column}", xlabel=metric, reference=entry["pooled"]
        ),
    )
    return sentence, table, figure


def subgroups_section(
    data: StudyData, plan: list[EvaluationSet], resampling: Resampling
) -> tuple[Section, list[Finding]]:
    """Per-site and per-subgroup performance with intervals and a heterogeneity test."""
    site = data.columns["site"]
    columns = [c for c in dict.fromkeys([*([site] if site else []), *data.subgroups])]
    if not plan or not columns:
        reason = (
            "No site= or subgroups= column was given."
            if not columns
            else "No evaluation set has predictions."
        )
        return Section("subgroups", _TITLE, "not_available", text=(reason,)), []
    metric = "roc_auc" if data.has_scores else "balanced_accuracy"
    rows = np.sort(np.concatenate([s.rows for s in plan]))  # manifest order
    content, text, tables, figures, findings = {}, [], [], [], []
    text.append(
        f"{metric} on every evaluated sample ({', '.join(s.name for s in plan)}), per level; "
        "heterogeneity by Cochran's Q on the per-level estimates weighted by their inverse "
        f"patient-level bootstrap variance (from the {resampling.percent} interval widths)."
    )
    for column in columns:
        entry = _column(data, column, rows, metric, resampling)
        findings += _finding(column, column == site, entry)
        sentence, table, figure = _outputs(column, entry, resampling)
        text.append(sentence)
        tables.append(table)
        figures.append(figure)
        content[column] = {k: entry[k] for k in ("metric", "levels", "test")}
    section = Section(
        "subgroups",
        _TITLE,
        section_status(findings),
        text=tuple(text),
        tables=tuple(tables),
        figures=tuple(figures),
        data={"columns": content},
    )
    return section, findings
