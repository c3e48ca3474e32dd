"""``study_report()``: validate the inputs, plan the evaluation, compute every section.

The work reads as phases: :func:`~pitfalls.report._data.prepare_study` reads the
manifest and joins the predictions; :func:`~pitfalls.report._data.evaluation_splits_of`
and :func:`~pitfalls.report._data.plan_evaluation` decide what is evaluated; the
audit runs on the manifest; one :func:`~pitfalls.metrics.classification_summary` per
evaluation set feeds the performance, curves and external sections; each other
section calls its own public function; the checklist reads the sections' data last.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .._version import __version__
from ..audit import Finding, audit
from ..audit._report import check_fail_on
from ..experiments import LeakageGapResult
from ._checklist import fill_checklist
from ._data import EvaluationSet, StudyData, evaluation_splits_of, plan_evaluation, prepare_study
from ._model import Section
from ._report import StudyReport
from ._sections import (
    Resampling,
    audit_findings,
    audit_section,
    calibration_section,
    cohort_section,
    curves_section,
    external_section,
    leakage_section,
    performance_section,
    subgroups_section,
    summarise,
)

__all__ = ["study_report"]


def _check_arguments(
    n_bootstraps: Any, confidence: Any, threshold: Any, fail_on: str, columns: Mapping[str, Any]
) -> None:
    for role in ("group", "split", "label"):
        if not isinstance(columns[role], str):
            raise ValueError(f"{role}={columns[role]!r} must be the name of a manifest column.")
    if not isinstance(n_bootstraps, numbers.Integral) or n_bootstraps < 0:
        raise ValueError(
            f"n_bootstraps={n_bootstraps!r} is invalid; use a non-negative integer, e.g. 1000 "
            "(0 skips the confidence intervals)."
        )
    if not isinstance(confidence, numbers.Real) or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence={confidence!r} must be in (0, 1), e.g. 0.95.")
    if not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold={threshold!r} must be a number, e.g. 0.5.")
    check_fail_on(fail_on)


def _leakage_results(leakage: Any) -> list[LeakageGapResult]:
    if leakage is None:
        return []
    results = [leakage] if isinstance(leakage, LeakageGapResult) else list(leakage)
    wrong = [type(r).__name__ for r in results if not isinstance(r, LeakageGapResult)]
    if wrong:
        raise ValueError(
            f"leakage= holds {', '.join(wrong)}; pass a LeakageGapResult or a sequence of them "
            "(the results of pitfalls.experiments.leakage_gap)."
        )
    return results


def _run_audit(
    manifest: Any, data: StudyData, names: list[str], image: Any, root: Any, fail_on: str
) -> Any:
    columns = data.columns
    # With images and a manifest file, the audit resolves relative paths from the file's
    # folder: give it the path. Otherwise the frame already read.
    source = (
        manifest if image is not None and not isinstance(manifest, pd.DataFrame) else data.frame
    )
    return audit(
        source,
        group=str(columns["group"]),
        split=str(columns["split"]),
        label=columns["label"],
        site=columns["site"],
        image=image,
        root=root,
        id=columns["sample_id"],
        test_splits=names or None,
        fail_on=fail_on,
    )


def _settings(
    data: StudyData,
    pos_label: Any,
    threshold: float,
    names: tuple[list[str], list[str]],
    resampling: Resampling,
) -> dict[str, Any]:
    state = resampling.random_state
    return {
        "columns": {**data.columns, **data.prediction_columns, "subgroups": list(data.subgroups)},
        "labels": list(data.label_names),
        "pos_label": data.pos_label,
        "pos_label_rule": (
            "given"
            if pos_label is not None
            else "default: the larger of the two labels sorted as text"
        ),
        "threshold": None if data.prediction_columns.get("prediction") else float(threshold),
        "evaluation_splits": names[0],
        "external_splits": names[1],
        "unit": "patient",
        "n_bootstraps": int(resampling.n_bootstraps),
        "confidence": float(resampling.confidence),
        "random_state": state if state is None or isinstance(state, int) else repr(state),
        "pitfalls_version": __version__,
    }


def _sections(
    data: StudyData,
    plan: list[EvaluationSet],
    report: Any,
    resampling: Resampling,
    leakage: list[LeakageGapResult],
) -> tuple[list[Section], list[Finding]]:
    summaries = {s.name: summarise(data, s.rows, resampling) for s in plan}
    performance, found = performance_section(data, plan, summaries, resampling)
    calibration, miscalibrated = calibration_section(data, plan, resampling)
    subgroups, heterogeneous = subgroups_section(data, plan, resampling)
    external, gaps = external_section(data, plan, summaries, resampling, leakage)
    leaky, inflated = leakage_section(leakage)
    sections = [
        cohort_section(data, plan),
        audit_section(report),
        performance,
        curves_section(data, plan, summaries, resampling),
        calibration,
        subgroups,
        external,
        leaky,
    ]
    findings = [*found, *miscalibrated, *heterogeneous, *gaps, *inflated]
    return sections, findings


def study_report(
    manifest: Any,
    *,
    group: str,
    split: str,
    label: str,
    site: str | None = None,
    sample_id: str | None = None,
    predictions: Any = None,
    score: str | None = None,
    prediction: str | None = None,
    threshold: float = 0.5,
    pos_label: Any = None,
    subgroups: Sequence[str] = (),
    evaluation_splits: Sequence[str] | None = None,
    external_splits: Sequence[str] | None = None,
    leakage: LeakageGapResult | Sequence[LeakageGapResult] | None = None,
    image: str | None = None,
    root: str | os.PathLike | None = None,
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    random_state: Any = 0,
    fail_on: str = "high",
) -> StudyReport:
    """The evidence a reviewer asks for, computed: cohort, audit, performance, sites, gaps.

    Reads the manifest (one row per sample) and the model's predictions on it, and
    computes every section of a study report from them with the library's own
    functions: the cohort per split (:func:`pitfalls.audit.audit`'s reader and counts),
    the audit's findings, every metric with patient-level bootstrap intervals beside
    the naive baselines (:func:`pitfalls.metrics.classification_summary`), ROC and
    precision-recall curves with bands (:func:`pitfalls.metrics.curve_bands`),
    calibration (:func:`pitfalls.metrics.calibration_summary`), performance per site
    and subgroup with a heterogeneity test, the internal-external gap, the gaps of
    ``leakage`` results, and the reporting checklist filled from those numbers.

    Parameters
    ----------
    manifest : DataFrame or path-like
        The manifest, or a CSV / TSV / Parquet file holding it (read like
        :func:`pitfalls.audit.audit` reads it: id, group, split, label, site and
        subgroup columns as text, ``"007"`` is not ``"7"``).
    group, split, label : str
        Columns with the patient id, the split and the binary class label.
    site : str, optional
        Column with the site (hospital, scanner): per-site performance and the
        audit's site checks.
    sample_id : str, optional
        Column with the sample id that keys the predictions. Default: the manifest's
        index as text (the 0-based data row of a file).
    predictions : DataFrame or path-like, optional
        One row per sample id: the ``sample_id`` column (or, without ``sample_id``, a
        DataFrame's index or a file's first column) and the ``score`` and/or
        ``prediction`` columns. Out-of-fold or test-set predictions; every sample of
        an evaluation split needs one. Without it, ``score`` and ``prediction`` are
        read from the manifest itself when given.
    score : str, optional
        Column with the score (probability) of ``pos_label``.
    prediction : str, optional
        Column with the predicted labels; default ``score >= threshold``.
    threshold : float, default=0.5
        Threshold of ``score`` for the predicted labels.
    pos_label : object, optional
        The positive class; default: the larger of the two labels sorted as text
        (``"1"`` of ``"0"``/``"1"``), stated in :attr:`StudyReport.settings`.
    subgroups : sequence of str, default=()
        Manifest columns (age band, sex, scanner...) whose levels get performance
        with intervals and a heterogeneity test.
    evaluation_splits : sequence of str, optional
        Splits evaluated. Default: the splits whose role
        (:func:`pitfalls.audit.split_role`) is ``"test"``, plus the external ones; if
        there are none, every row with a prediction as one set ``"all"``.
    external_splits : sequence of str, optional
        Splits from sites the model never saw. Default: splits whose name contains
        ``"external"`` (case-insensitive). Always evaluated.
    leakage : LeakageGapResult or sequence of them, optional
        Results of :func:`pitfalls.experiments.leakage_gap`: their gaps form the
        leakage section; one with ``pitfall="site"`` gives the internal-external gap
        when no external split is evaluated.
    image, root : optional
        Passed on to :func:`pitfalls.audit.audit` (duplicate image checks).
    n_bootstraps : int, default=1000
        Patient-level bootstrap replicates of every interval (0: none).
    confidence : float, default=0.95
        Coverage of the percentile intervals.
    random_state : int, numpy Generator or None, default=0
        Seed of every bootstrap: each metric call gets this seed (a Generator is
        passed to every call, which draw from it in turn).
    fail_on : {"high", "medium", "low", "info", "never"}, default="high"
        Least severe finding that makes the report fail (:attr:`StudyReport.passed`).

    Returns
    -------
    StudyReport

    Raises
    ------
    ManifestError
        One-line message naming the argument, the value and the fix: a column
        missing, repeated sample ids, prediction ids not in the manifest, evaluated
        samples without a prediction or label, a non-numeric score, labels that are
        not binary, an unknown split.
    ValueError
        On invalid ``n_bootstraps``, ``confidence``, ``threshold``, ``fail_on`` or
        ``leakage``.

    Notes
    -----
    The patient is the unit of every interval: each metric call resamples patients
    (within their class). Report-level findings have codes ``PF4xx``
    (:mod:`pitfalls.report._findings` documents them); the audit's findings keep
    theirs. Subgroup and site levels are pooled over every evaluated sample.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.report import study_report
    >>> manifest = pd.DataFrame({
    ...     "image": [f"i{k}" for k in range(12)],
    ...     "patient": [f"p{k // 2}" for k in range(12)],
    ...     "split": ["train"] * 4 + ["test"] * 8,
    ...     "y": [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1],
    ... })
    >>> predictions = pd.DataFrame({"image": [f"i{k}" for k in range(4, 12)],
    ...                             "p": [0.1, 0.3, 0.8, 0.6, 0.2, 0.4, 0.9, 0.7]})
    >>> report = study_report(manifest, group="patient", split="split", label="y",
    ...                       sample_id="image", predictions=predictions, score="p",
    ...                       n_bootstraps=50)
    >>> report.sections["cohort"].data["splits"][1]["patients"]
    4
    >>> report.sections["performance"].data["splits"]["test"]["metrics"]["roc_auc"]["value"]
    1.0
    """
    columns = {"group": group, "split": split, "label": label, "site": site, "sample_id": sample_id}
    _check_arguments(n_bootstraps, confidence, threshold, fail_on, columns)
    results = _leakage_results(leakage)
    data = prepare_study(
        manifest,
        columns=columns,
        subgroups=subgroups,
        pos_label=pos_label,
        predictions=predictions,
        prediction_columns={"score": score, "prediction": prediction},
        threshold=float(threshold),
    )
    names = evaluation_splits_of(data, evaluation_splits, external_splits)
    plan = plan_evaluation(data, *names)
    resampling = Resampling(int(n_bootstraps), float(confidence), random_state)
    report = _run_audit(manifest, data, names[0], image, root, fail_on)
    sections, findings = _sections(data, plan, report, resampling, results)
    by_key = {section.key: section for section in sections}
    sections.append(fill_checklist(by_key))
    settings = _settings(data, pos_label, float(threshold), names, resampling)
    return StudyReport(
        sections, [*audit_findings(report), *findings], fail_on=fail_on, settings=settings
    )
