"""Performance and curves: :func:`pitfalls.metrics.classification_summary` per evaluation set.

One summary per evaluation set, with the patients as the unit of the bootstrap; the
curves section reads the same summaries (ROC AUC and average precision with the same
intervals) and draws their ROC and precision-recall bands on demand
(:meth:`~pitfalls.metrics.ClassificationSummary.plot`, i.e. :func:`pitfalls.metrics.curve_bands`
with the same seed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...audit import Finding
from ...metrics import ClassificationSummary, classification_summary
from .._data import EvaluationSet, StudyData
from .._findings import report_finding
from .._model import ReportFigure, ReportTable, Section
from ._common import Resampling, ci_text, fmt, number, quiet_metrics, section_status
from ._figures import new_figure

__all__ = [
    "baseline_verdict",
    "curves_section",
    "headline_metric",
    "performance_section",
    "summarise",
]

# Severity of PF401 (the headline metric) and PF402 (the predicted labels, with scores)
# when the point estimate, or only the lower confidence bound, is not above the baseline.
_SEVERITY = {
    "PF401": {"point": "high", "bound": "medium"},
    "PF402": {"point": "medium", "bound": "low"},
}
_NAMES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC AUC",
    "average_precision": "average precision",
}


def summarise(data: StudyData, rows: np.ndarray, resampling: Resampling) -> ClassificationSummary:
    """classification_summary of the given manifest rows, patients as the bootstrap unit.

    Labels go in as 0/1 codes in the order of the labels sorted as text, and patients
    as integer codes in order of first appearance: the same classes, strata and
    resampled patients as the text values, without sorting text a second time.
    """
    assert data.predicted is not None
    with quiet_metrics():
        return classification_summary(
            data.label_codes[rows],
            data.predicted[rows],
            y_score=None if data.score is None else data.score[rows],
            groups=data.group_codes[rows],
            labels=[0, 1],
            pos_label=data.pos_index,
            n_bootstraps=resampling.n_bootstraps,
            confidence=resampling.confidence,
            random_state=resampling.random_state,
        )


def headline_metric(data: StudyData) -> str:
    """The metric a model must beat the baselines on: ROC AUC with scores, else balanced accuracy."""
    return "roc_auc" if data.has_scores else "balanced_accuracy"


def _metrics(summary: ClassificationSummary) -> dict[str, dict[str, float | None]]:
    return {
        str(metric): {
            "value": number(row["value"]),
            "low": number(row["ci_low"]),
            "high": number(row["ci_high"]),
            "majority": number(row["majority"]),
            "stratified": number(row["stratified"]),
        }
        for metric, row in summary.table.iterrows()
    }


def baseline_of(entry: Mapping[str, Any]) -> float:
    """The better of the two naive baselines of one metric entry."""
    return max(v for v in (entry["majority"], entry["stratified"], -np.inf) if v is not None)


def baseline_verdict(entry: Mapping[str, Any]) -> str:
    """ "beats", "bound" (only the lower bound reaches the baseline), "point" or "undefined".

    "undefined": the metric has no value (ROC AUC on a split with one class).
    """
    baseline = baseline_of(entry)
    if entry["value"] is None:
        return "undefined"
    if entry["value"] <= baseline:
        return "point"
    if entry["low"] is not None and entry["low"] <= baseline:
        return "bound"
    return "beats"


def _shown(metrics: Mapping[str, Any], metric: str) -> str:
    entry = metrics[metric]
    return (
        f"{_NAMES[metric]} {ci_text(entry['value'], entry['low'], entry['high'])} vs baseline "
        f"{fmt(baseline_of(entry))}"
    )


def _split_findings(name: str, split: dict[str, Any], headline: str) -> list[Finding]:
    metrics = split["metrics"]
    affected = {
        "item": [1],
        "split": [name],
        "n_rows": [split["samples"]],
        "n_groups": [split["patients"]],
    }
    found = []
    verdicts = {
        m: baseline_verdict(metrics[m]) for m in dict.fromkeys([headline, "balanced_accuracy"])
    }
    for code, metric in (("PF401", headline), ("PF402", "balanced_accuracy")):
        verdict = verdicts[metric]
        if verdict in ("beats", "undefined") or (code == "PF402" and metric == headline):
            continue
        what = "is not above" if verdict == "point" else "has a lower confidence bound not above"
        consequence = (
            "the model is not shown to have learned anything useful."
            if code == "PF401"
            else "the predicted labels (the threshold) do not suit this split, though the "
            "scores rank better than chance; choose the threshold on validation data."
        )
        found.append(
            report_finding(
                code,
                f"On split {name!r} {_shown(metrics, metric)}: it {what} the better naive "
                f"baseline; {consequence}",
                n_affected=split["samples"],
                examples=[name],
                affected={**affected, "measure": [_shown(metrics, metric)]},
                severity=_SEVERITY[code][verdict],
            )
        )
    accuracy = metrics["accuracy"]
    if accuracy["value"] is not None and accuracy["value"] <= accuracy["majority"]:
        found.append(
            report_finding(
                "PF403",
                f"On split {name!r} accuracy {fmt(accuracy['value'])} is not above the "
                f"majority-class baseline {fmt(accuracy['majority'])}; report balanced accuracy, "
                "recall and specificity instead.",
                n_affected=split["samples"],
                examples=[name],
                affected={**affected, "measure": [f"accuracy {fmt(accuracy['value'])}"]},
            )
        )
    return found


def _split_text(name: str, split: dict[str, Any]) -> str:
    metrics = split["metrics"]
    parts = [
        f"{_NAMES[m]} {ci_text(metrics[m]['value'], metrics[m]['low'], metrics[m]['high'])} "
        f"(majority {fmt(metrics[m]['majority'])}, stratified {fmt(metrics[m]['stratified'])})"
        for m in _NAMES
        if m in metrics
    ]
    return (
        f"{name}: {split['samples']} samples from {split['patients']} patients; "
        + "; ".join(parts)
        + "."
    )


def performance_section(
    data: StudyData,
    plan: list[EvaluationSet],
    summaries: Mapping[str, ClassificationSummary],
    resampling: Resampling,
) -> tuple[Section, list[Finding]]:
    """Every metric with its patient-level interval and both naive baselines, per set."""
    if not plan:
        return _not_available("performance", "Performance", data), []
    headline = headline_metric(data)
    splits: dict[str, dict[str, Any]] = {}
    findings: list[Finding] = []
    tables: list[ReportTable] = []
    text = [
        f"Metrics of pitfalls.metrics.classification_summary, positive class "
        f"{data.pos_label!r}, with {resampling.percent} percentile intervals of "
        f"{resampling.n_bootstraps} patient-level bootstrap replicates (patients resampled "
        "within their class), beside two naive baselines: always the majority class, and "
        "guessing at the prevalence (stratified). The model beats the baselines on a split "
        f"when the lower bound of its {_NAMES[headline]} is above the better baseline."
    ]
    for evaluation in plan:
        summary = summaries[evaluation.name]
        metrics = _metrics(summary)
        split = {
            "samples": summary.n_samples,
            "patients": int(summary.n_groups or 0),
            "metrics": metrics,
            "beats_baselines": baseline_verdict(metrics[headline]) == "beats",
        }
        splits[evaluation.name] = split
        text.append(_split_text(evaluation.name, split))
        if sum(1 for n in summary.class_counts.values() if n) == 2:
            findings += _split_findings(evaluation.name, split, headline)
        else:
            text.append(f"{evaluation.name}: one class only; the baselines are not compared.")
        text += [f"{evaluation.name}: {message}" for message in summary.warnings]
        tables.append(
            ReportTable(
                f"metrics_{evaluation.name}",
                f"Split {evaluation.name!r}: value, {resampling.percent} patient-level interval "
                "and the two naive baselines of every metric.",
                summary.to_frame(),
            )
        )
    content = {
        "unit": "patient",
        "confidence": float(resampling.confidence),
        "n_bootstraps": int(resampling.n_bootstraps),
        "pos_label": data.pos_label,
        "evaluation_splits": [s.name for s in plan],
        "splits": splits,
    }
    section = Section(
        "performance",
        "Performance",
        section_status(findings),
        text=tuple(text),
        tables=tuple(tables),
        data=content,
    )
    return section, findings


def _not_available(key: str, title: str, data: StudyData) -> Section:
    if data.has_prediction is None:
        reason = "No predictions were given (predictions= with score= or prediction=)."
    else:
        reason = "No evaluation split has predictions."
    return Section(key, title, "not_available", text=(reason,))


def _curve_drawer(summary: ClassificationSummary, name: str) -> Any:
    def draw() -> Any:
        figure = new_figure(9.0, 4.0)
        axes = figure.subplots(1, 2)
        summary.plot(axes)
        figure.suptitle(f"Split {name}")
        return figure

    return draw


def curves_section(
    data: StudyData,
    plan: list[EvaluationSet],
    summaries: Mapping[str, ClassificationSummary],
    resampling: Resampling,
) -> Section:
    """ROC AUC and average precision with intervals, and the ROC / PR band figures."""
    if not plan:
        return _not_available("curves", "ROC and precision-recall curves", data)
    if not data.has_scores:
        return Section(
            "curves",
            "ROC and precision-recall curves",
            "not_available",
            text=(
                "The predictions hold labels only (prediction=); ROC and precision-recall "
                "curves need scores (score=).",
            ),
        )
    splits, text, figures = {}, [], []
    status = "ok"
    for evaluation in plan:
        summary = summaries[evaluation.name]
        table = summary.table
        entry = {
            metric: {
                "value": number(table.loc[metric, "value"]),
                "low": number(table.loc[metric, "ci_low"]),
                "high": number(table.loc[metric, "ci_high"]),
            }
            for metric in ("roc_auc", "average_precision")
        }
        splits[evaluation.name] = entry
        auc, ap = entry["roc_auc"], entry["average_precision"]
        if auc["value"] is None:
            status = "attention"
            text.append(f"{evaluation.name}: one class only, so no ROC or precision-recall curve.")
            continue
        if (auc["low"] if auc["low"] is not None else auc["value"]) <= 0.5:
            status = "attention"
        text.append(
            f"{evaluation.name}: ROC AUC {ci_text(auc['value'], auc['low'], auc['high'])} "
            f"(chance 0.5); average precision {ci_text(ap['value'], ap['low'], ap['high'])} "
            f"(no skill: the prevalence, {fmt(table.loc['average_precision', 'majority'])})."
        )
        figures.append(
            ReportFigure(
                f"curves_{evaluation.name}",
                f"Split {evaluation.name!r}: ROC and precision-recall curves with pointwise "
                f"{resampling.percent} patient-level bootstrap bands (pitfalls.metrics.curve_bands, "
                "same seed), the chance diagonal and the prevalence line.",
                _curve_drawer(summary, evaluation.name),
            )
        )
    return Section(
        "curves",
        "ROC and precision-recall curves",
        status,
        text=tuple(text),
        figures=tuple(figures),
        data={"splits": splits},
    )
