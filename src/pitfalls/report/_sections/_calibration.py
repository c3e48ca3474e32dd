"""Calibration: :func:`pitfalls.metrics.calibration_summary` per evaluation set."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...audit import Finding
from ...metrics import CalibrationSummary, calibration_summary
from .._data import EvaluationSet, StudyData
from .._findings import report_finding
from .._model import ReportFigure, ReportTable, Section
from ._common import Resampling, ci_text, fmt, number, quiet_metrics, section_status

__all__ = ["N_BINS", "calibrate", "calibration_section"]

N_BINS = 10  # equal-width bins of the reliability diagram and the ECE
_TITLE = "Calibration"


def calibrate(data: StudyData, rows: np.ndarray, resampling: Resampling) -> CalibrationSummary:
    """calibration_summary of the given rows, patients as the bootstrap unit."""
    assert data.score is not None
    with quiet_metrics():
        return calibration_summary(
            data.label_codes[rows],
            data.score[rows],
            groups=data.group_codes[rows],
            n_bins=N_BINS,
            pos_label=data.pos_index,
            n_bootstraps=resampling.n_bootstraps,
            confidence=resampling.confidence,
            random_state=resampling.random_state,
        )


_KEYS = (
    "brier",
    "ece",
    "slope",
    "slope_low",
    "slope_high",
    "intercept",
    "intercept_low",
    "intercept_high",
)


def _entry(summary: CalibrationSummary) -> dict[str, Any]:
    table = summary.table
    return {
        "brier": number(table.loc["brier", "value"]),
        "ece": number(table.loc["ece", "value"]),
        "slope": number(table.loc["slope", "value"]),
        "slope_low": number(table.loc["slope", "ci_low"]),
        "slope_high": number(table.loc["slope", "ci_high"]),
        "intercept": number(table.loc["intercept", "value"]),
        "intercept_low": number(table.loc["intercept", "ci_low"]),
        "intercept_high": number(table.loc["intercept", "ci_high"]),
        "n_bins": len(summary.bins),
    }


def _split_text(name: str, entry: dict[str, Any], summary: CalibrationSummary) -> list[str]:
    brier_of_prevalence = fmt(summary.table.loc["brier", "prevalence"])
    slope = ci_text(entry["slope"], entry["slope_low"], entry["slope_high"])
    intercept = ci_text(entry["intercept"], entry["intercept_low"], entry["intercept_high"])
    return [
        f"{name}: Brier {fmt(entry['brier'])} (a model predicting the prevalence: "
        f"{brier_of_prevalence}), ECE {fmt(entry['ece'])}, slope {slope} (ideal 1), intercept "
        f"{intercept} (ideal 0).",
        *(f"{name}: {message}" for message in summary.warnings),
    ]


def _split_tables(name: str, summary: CalibrationSummary) -> list[ReportTable]:
    return [
        ReportTable(
            f"calibration_{name}", f"Split {name!r}: calibration statistics.", summary.to_frame()
        ),
        ReportTable(
            f"bins_{name}", f"Split {name!r}: the reliability diagram's bins.", summary.bins.copy()
        ),
    ]


def _finding(name: str, entry: dict[str, Any], n_samples: int) -> list[Finding]:
    low, high = entry["slope_low"], entry["slope_high"]
    if entry["slope"] is None or low is None or high is None or low <= 1.0 <= high:
        return []
    shown = ci_text(entry["slope"], low, high)
    kind = "too extreme (overfitting)" if high < 1.0 else "too timid"
    return [
        report_finding(
            "PF404",
            f"On split {name!r} the calibration slope is {shown}: its interval excludes 1, the "
            f"predicted probabilities are {kind}; recalibrate on data the model was not fitted on.",
            n_affected=n_samples,
            examples=[name],
            affected={
                "item": [1],
                "split": [name],
                "n_rows": [n_samples],
                "measure": [f"slope {shown}"],
            },
        )
    ]


def _outside_unit_interval(data: StudyData, plan: list[EvaluationSet]) -> str | None:
    assert data.score is not None
    scores = data.score[np.concatenate([s.rows for s in plan])]
    low, high = float(np.min(scores)), float(np.max(scores))
    if low < 0.0 or high > 1.0:
        return (
            f"The scores range from {low:.3g} to {high:.3g}: they are not probabilities in "
            "[0, 1], so calibration cannot be assessed; pass probabilities (predict_proba) "
            "as score= to add it."
        )
    return None


def _reliability_drawer(summary: CalibrationSummary, name: str) -> Any:
    def draw() -> Any:
        from ._figures import new_figure

        figure = new_figure(4.8, 4.8)
        ax = summary.plot(figure.add_subplot())
        ax.set_title(f"Reliability diagram, split {name}")
        return figure

    return draw


def calibration_section(
    data: StudyData, plan: list[EvaluationSet], resampling: Resampling
) -> tuple[Section, list[Finding]]:
    """Brier score, ECE, slope and intercept with patient-level intervals; reliability diagram."""
    if not plan or not data.has_scores:
        reason = "Calibration needs predicted probabilities (score=); " + (
            "the predictions hold labels only." if plan else "no evaluation set has them."
        )
        return Section("calibration", _TITLE, "not_available", text=(reason,)), []
    outside = _outside_unit_interval(data, plan)
    if outside is not None:
        return Section("calibration", _TITLE, "not_available", text=(outside,)), []
    splits: dict[str, dict[str, Any]] = {}
    findings: list[Finding] = []
    text = [
        f"pitfalls.metrics.calibration_summary with {N_BINS} equal-width bins; slope and "
        "intercept of the logistic recalibration logit P(y) = a + b logit(score); "
        f"{resampling.percent} intervals of {resampling.n_bootstraps} patient-level bootstrap "
        "replicates."
    ]
    tables: list[ReportTable] = []
    figures: list[ReportFigure] = []
    for evaluation in plan:
        if np.unique(data.label_codes[evaluation.rows]).size < 2:
            splits[evaluation.name] = {**dict.fromkeys(_KEYS), "n_bins": N_BINS}
            text.append(f"{evaluation.name}: one class only, so calibration cannot be assessed.")
            continue
        summary = calibrate(data, evaluation.rows, resampling)
        splits[evaluation.name] = _entry(summary)
        findings += _finding(evaluation.name, splits[evaluation.name], summary.n_samples)
        text += _split_text(evaluation.name, splits[evaluation.name], summary)
        tables += _split_tables(evaluation.name, summary)
        figures.append(
            ReportFigure(
                f"reliability_{evaluation.name}",
                f"Split {evaluation.name!r}: observed frequency against mean predicted probability "
                f"per bin, with the {resampling.percent} patient-level band.",
                _reliability_drawer(summary, evaluation.name),
            )
        )
    section = Section(
        "calibration",
        _TITLE,
        section_status(findings),
        text=tuple(text),
        tables=tuple(tables),
        figures=tuple(figures),
        data={"splits": splits},
    )
    return section, findings
