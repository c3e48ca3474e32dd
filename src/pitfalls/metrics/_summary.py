"""Classification summary: every metric that matters, its bootstrap CI, and naive baselines.

The paper's second pitfall is the wrong yardstick: a model that always says "no" to a
rare outcome scores 94% accuracy. :func:`classification_summary` therefore never shows
a number alone. Each metric comes with a stratified bootstrap confidence interval and
the value that two models with no skill reach on the same labels (always the majority
class; random guessing at the class prevalences), and a :class:`MetricWarning` says
when the headline number is misleading or undefined.

Speed: every confusion-matrix metric is a function of the confusion counts, and under
stratified resampling the row of class ``c`` of a replicate's confusion matrix is
exactly multinomial(``n_c``, observed row / ``n_c``). All replicates are drawn at once
from that distribution, so the bootstrap costs ``O(n_bootstraps * n_classes**2)``
whatever the number of samples. ROC AUC and average precision need the scores, but
only through the resampled counts per score bin (positives per distinct positive
score, negatives between and tied with them); each class's bin counts are drawn
exactly as a multinomial, about one table look-up per bin rather than one random
index per sample (see :mod:`pitfalls.metrics._rankboot`).

With ``groups`` the unit of resampling is the patient: a replicate is a vector of patient
multiplicities, and every metric is computed from per-patient counts (see
:mod:`pitfalls.metrics._cluster`).

The function reads as phases: validate and encode the inputs (``_validate``), the point
values and the baselines (``_baselines``), the bootstrap (``_bootstrap``), the table
(``_entries``, ``_table``) and the warnings (``_messages``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._tables import format_number
from .._validation import check_per_sample
from ..exceptions import MetricWarning
from ._cluster import (
    PatientPlan,
    RankingColumn,
    as_generator,
    cluster_bootstrap,
    plan_patients,
    ranking_column,
)
from ._curves import CurveInputs
from ._inputs import check_label_kinds, check_predicted_labels
from ._rankboot import bootstrap_ranking
from ._summary_result import ClassificationSummary

__all__ = ["ClassificationSummary", "classification_summary"]

# A minority class under this prevalence is "rare"; recall or F1 under POOR is "poor".
RARE_PREVALENCE = 0.2
POOR_SCORE = 0.5
_PER_CLASS = ("precision", "recall", "specificity", "f1")
_COLUMNS = ["value", "ci_low", "ci_high", "majority", "stratified"]


# --------------------------------------------------------------------------- metrics
def confusion_metrics(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from confusion matrices of shape ``(..., n_classes, n_classes)``.

    Rows are true classes, columns predicted classes (scikit-learn's convention).
    Undefined ratios (0/0) are NaN, like scikit-learn with ``zero_division=np.nan``;
    MCC with constant truth or predictions is 0, as in scikit-learn.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``mcc`` of shape ``(...)``, and
        ``precision``, ``recall``, ``specificity``, ``f1`` of shape ``(..., n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._summary import confusion_metrics
    >>> m = confusion_metrics(np.array([[5.0, 1.0], [2.0, 2.0]]))
    >>> float(m["accuracy"]), m["recall"].round(3).tolist()
    (0.7, [0.833, 0.5])
    """
    cm = np.asarray(confusion, dtype=float)
    n = cm.sum(axis=(-2, -1))
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    true_count = cm.sum(axis=-1)
    pred_count = cm.sum(axis=-2)
    fp = pred_count - tp
    fn = true_count - tp
    tn = n[..., None] - tp - fp - fn
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / pred_count
        recall = tp / true_count
        specificity = tn / (tn + fp)
        f1 = 2 * tp / (2 * tp + fp + fn)
        accuracy = tp.sum(axis=-1) / n
        # scikit-learn's multi-class MCC (Gorodkin's R_K); 2x2 reduces to the usual formula
        cov_tp = tp.sum(axis=-1) * n - np.sum(true_count * pred_count, axis=-1)
        cov_pp = n**2 - np.sum(pred_count**2, axis=-1)
        cov_tt = n**2 - np.sum(true_count**2, axis=-1)
        denom = np.sqrt(cov_tt * cov_pp)
        mcc = np.where(denom == 0, 0.0, cov_tp / np.where(denom == 0, 1.0, denom))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        balanced = np.nanmean(recall, axis=-1)
    return {
        "accuracy": accuracy,
        "balanced_accuracy": balanced,
        "mcc": mcc,
        "precision": precision,
        "recall": recall,
        "specificity": specificity,
        "f1": f1,
    }


def ranking_metrics(pos_hist: np.ndarray, neg_hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC and average precision from per-score counts of positives and negatives.

    ``pos_hist[..., u]`` / ``neg_hist[..., u]`` count positives / negatives whose score
    is the ``u``-th smallest distinct score. Ties count half in the AUC; average
    precision is scikit-learn's step-wise sum ``sum_k (R_k - R_{k-1}) P_k``. Counts may
    be bootstrap multiplicities, so a batch of replicates is scored at once.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._summary import ranking_metrics
    >>> auc, ap = ranking_metrics(np.array([0, 1, 1]), np.array([1, 1, 0]))
    >>> float(auc), round(float(ap), 3)
    (0.875, 0.833)
    """
    pos = np.asarray(pos_hist, dtype=float)
    neg = np.asarray(neg_hist, dtype=float)
    n_pos, n_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    neg_below = np.cumsum(neg, axis=-1) - neg
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.sum(pos * (neg_below + 0.5 * neg), axis=-1) / (n_pos * n_neg)
        # descending thresholds: precision at each distinct score from the top
        tp = np.cumsum(pos[..., ::-1], axis=-1)
        fp = np.cumsum(neg[..., ::-1], axis=-1)
        precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), 0.0)
        ap = np.sum(pos[..., ::-1] * precision, axis=-1) / n_pos
    return auc, ap


# --------------------------------------------------------------------------- inputs
def _as_1d(values: Any, name: str) -> np.ndarray:
    return check_per_sample(values, name=name, unit="label", fix="drop those samples first.")


def _resolve_labels(y_true: np.ndarray, y_pred: np.ndarray, labels: Any) -> np.ndarray:
    present = np.unique(np.concatenate([np.unique(y_true), np.unique(y_pred)]))
    if labels is None:
        return present
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(np.unique(labels)) != len(labels):
        raise ValueError(f"labels must be a 1-D list of distinct classes; got {labels.tolist()}.")
    unknown = np.setdiff1d(present, labels)
    if unknown.size:
        raise ValueError(
            f"y_true or y_pred contain classes not in labels: {unknown.tolist()}; "
            "add them to labels or drop those samples."
        )
    return labels


def _check_scores(y_score: Any, n_samples: int, labels: np.ndarray, pos_index: int) -> np.ndarray:
    """Return scores of shape (n_samples, n_score_columns): 1 column (binary) or K."""
    score = np.asarray(y_score, dtype=float)
    k = len(labels)
    if not np.all(np.isfinite(score)):
        raise ValueError("y_score contains NaN or infinite values; drop those samples first.")
    if score.ndim == 0 or score.shape[0] != n_samples:
        raise ValueError(
            f"y_score has {score.shape[0] if score.ndim else 0} rows but y_true has {n_samples} samples; "
            "pass one score (row) per sample."
        )
    if k == 2:
        if score.ndim == 1:
            return score[:, None]
        if score.ndim == 2 and score.shape[1] == 2:
            return score[:, [pos_index]]
        raise ValueError(
            f"y_score must have shape (n_samples,) or (n_samples, 2) for binary labels; "
            f"got {score.shape}. Pass the score (probability) of the positive class."
        )
    if score.ndim != 2 or score.shape[1] != k:
        raise ValueError(
            f"y_score must have shape (n_samples, {k}) for {k} classes (one column per "
            f"label, in the order of labels); got {score.shape}."
        )
    return score


# --------------------------------------------------------------------------- bootstrap
def _percentile_ci(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a metric undefined in every replicate
        low = np.nanquantile(samples, alpha, axis=0)
        high = np.nanquantile(samples, 1.0 - alpha, axis=0)
    return low, high


def _bootstrap_confusions(
    confusion: np.ndarray, n_bootstraps: int, rng: np.random.Generator
) -> np.ndarray:
    # Stratified resampling of class c draws n_c samples from its row: the replicate row
    # is multinomial(n_c, row / n_c). Exact, and independent of the number of samples.
    k = confusion.shape[0]
    boot = np.zeros((n_bootstraps, k, k))
    for c in range(k):
        n_c = int(confusion[c].sum())
        if n_c:
            boot[:, c, :] = rng.multinomial(n_c, confusion[c] / n_c, size=n_bootstraps)
    return boot


def _level_codes(score: np.ndarray) -> tuple[np.ndarray, int]:
    levels, codes = np.unique(score, return_inverse=True)
    return codes.ravel(), len(levels)


# --------------------------------------------------------------------------- warnings
def _undefined_messages(
    values: dict[str, np.ndarray], labels: list[Any], confusion: np.ndarray
) -> list[str]:
    messages = []
    pred_count = confusion.sum(axis=0)
    true_count = confusion.sum(axis=1)
    for k, label in enumerate(labels):
        if np.isnan(values["precision"][k]):
            messages.append(
                f"precision of class {label!r} is undefined: the model predicted {label!r} for "
                f"no sample ({int(pred_count[k])} predictions), so TP / (TP + FP) is 0/0; it is "
                "reported as nan, not 0."
            )
        if np.isnan(values["recall"][k]):
            messages.append(
                f"recall of class {label!r} is undefined: y_true has no sample of {label!r}; "
                "it is reported as nan. Evaluate on data that contains the class."
            )
        if np.isnan(values["specificity"][k]) and true_count[k] > 0:
            messages.append(
                f"specificity of class {label!r} is undefined: every sample of y_true is "
                f"{label!r}; it is reported as nan."
            )
    return messages


def _pitfall_messages(
    accuracy: float,
    majority_accuracy: float,
    majority_label: Any,
    values: dict[str, np.ndarray],
    labels: list[Any],
    prevalence: np.ndarray,
) -> list[str]:
    messages = []
    if accuracy <= majority_accuracy:
        messages.append(
            f"accuracy={accuracy:.3f} is not above the majority-class baseline "
            f"({majority_accuracy:.3f}, always predicting {majority_label!r}); accuracy is "
            "misleading here: report balanced accuracy, recall and F1 of the minority class."
        )
    # rare = under 20% and under its balanced share (1/K), so balanced multi-class is not rare
    for k in np.flatnonzero((prevalence < RARE_PREVALENCE) & (prevalence < 1.0 / len(labels))):
        recall, f1 = values["recall"][k], values["f1"][k]
        if prevalence[k] > 0 and not (recall >= POOR_SCORE and f1 >= POOR_SCORE):
            messages.append(
                f"class {labels[k]!r} is rare (prevalence {prevalence[k]:.1%}) and poorly "
                f"detected (recall={format_number(float(recall))}, "
                f"F1={format_number(float(f1))}); accuracy hides this, so report recall and F1 "
                f"of {labels[k]!r}."
            )
    return messages


def _expected_random_confusion(true_count: np.ndarray) -> np.ndarray:
    # Guessing class j with probability p_j (its prevalence) independently of the truth:
    # E[C_ij] = n_i * p_j.
    prior = true_count / true_count.sum()
    return np.outer(true_count, prior)


# --------------------------------------------------------------------------- phases
@dataclass(frozen=True)
class _Problem:
    """Validated inputs, encoded: what every later phase reads."""

    label_arr: np.ndarray
    labels: list[Any]
    t_idx: np.ndarray
    p_idx: np.ndarray
    pos_index: int  # -1 for multi-class
    confusion: np.ndarray
    scores: np.ndarray | None
    plan: PatientPlan | None

    @property
    def binary(self) -> bool:
        return len(self.labels) == 2

    @property
    def true_count(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def prevalence(self) -> np.ndarray:
        return self.true_count / self.true_count.sum()

    @property
    def score_columns(self) -> list[int]:
        """Class of each one-vs-rest score column."""
        return [self.pos_index] if self.binary else list(range(len(self.labels)))


def _check_arguments(y_true: Any, y_pred: Any, n_bootstraps: Any, confidence: float) -> None:
    check_label_kinds(y_true=y_true, y_pred=y_pred)
    if not isinstance(n_bootstraps, (int, np.integer)) or n_bootstraps < 0:
        raise ValueError(
            f"n_bootstraps={n_bootstraps!r} is invalid; use a non-negative integer "
            "(0 skips the confidence intervals)."
        )
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} must be in (0, 1), e.g. 0.95.")


def _validate(
    y_true: Any, y_pred: Any, y_score: Any, groups: Any, labels: Any, pos_label: Any
) -> _Problem:
    y_true_arr = _as_1d(y_true, "y_true")
    y_pred_arr = _as_1d(y_pred, "y_pred")
    if len(y_true_arr) != len(y_pred_arr):
        raise ValueError(
            f"y_true has {len(y_true_arr)} samples but y_pred has {len(y_pred_arr)}; "
            "pass one prediction per sample."
        )
    if len(y_true_arr) == 0:
        raise ValueError("y_true is empty; classification_summary needs at least one sample.")
    check_predicted_labels(y_pred_arr, name="y_pred")
    check_predicted_labels(y_true_arr, name="y_true")
    label_arr = _resolve_labels(y_true_arr, y_pred_arr, labels)
    if len(label_arr) < 2:
        label_arr = _single_class_labels(label_arr, pos_label)
    binary = len(label_arr) == 2
    if binary and pos_label not in label_arr.tolist():
        raise ValueError(
            f"pos_label={pos_label!r} is not one of the labels "
            f"{label_arr.tolist()}; pass pos_label=<the positive class>."
        )
    k = len(label_arr)
    t_idx = _index_of(label_arr, y_true_arr)
    p_idx = _index_of(label_arr, y_pred_arr)
    confusion = np.bincount(t_idx * k + p_idx, minlength=k * k).reshape(k, k).astype(float)
    pos_index = label_arr.tolist().index(pos_label) if binary else -1
    scores = None
    if y_score is not None:
        scores = _check_scores(y_score, len(y_true_arr), label_arr, pos_index)
    labels_list = [lab.item() if isinstance(lab, np.generic) else lab for lab in label_arr]
    plan = None
    if groups is not None:
        plan = plan_patients(groups, t_idx, n_samples=len(t_idx), labels=labels_list)
    return _Problem(label_arr, labels_list, t_idx, p_idx, pos_index, confusion, scores, plan)


def _baselines(problem: _Problem) -> tuple[dict[str, np.ndarray], ...]:
    """Metrics of the model, of the majority-class model and of stratified guessing."""
    true_count = problem.true_count
    majority_confusion = np.zeros_like(problem.confusion)
    majority_confusion[:, int(np.argmax(true_count))] = true_count
    stratified = confusion_metrics(_expected_random_confusion(true_count))
    # Guessing independently of the truth has MCC exactly 0; computing it from the
    # expected confusion leaves rounding residue (-1e-17) that printed as "-0.000".
    stratified["mcc"] = np.zeros_like(stratified["mcc"])
    return confusion_metrics(problem.confusion), confusion_metrics(majority_confusion), stratified


@dataclass(frozen=True)
class _Replicates:
    metrics: dict[str, np.ndarray]
    auc: np.ndarray | None  # (n_bootstraps, n_score_columns)
    ap: np.ndarray | None


def _confusion_by_patient(problem: _Problem) -> np.ndarray:
    assert problem.plan is not None
    k = len(problem.labels)
    cell = (problem.plan.codes * k + problem.t_idx) * k + problem.p_idx
    counts = np.bincount(cell, minlength=problem.plan.n_patients * k * k)
    return counts.reshape(problem.plan.n_patients, k, k).astype(np.float64)


def _bootstrap(problem: _Problem, n_bootstraps: int, rng: np.random.Generator) -> _Replicates:
    """Stratified bootstrap of samples, or of patients when groups were given."""
    columns = problem.score_columns
    if problem.plan is None:
        confusions = _bootstrap_confusions(problem.confusion, n_bootstraps, rng)
        auc = ap = None
        if problem.scores is not None and n_bootstraps:
            auc, ap = bootstrap_ranking(problem.scores, problem.t_idx, columns, n_bootstraps, rng)
        return _Replicates(confusion_metrics(confusions), auc, ap)
    ranking: list[RankingColumn | None] = []
    if problem.scores is not None:
        for j, c in enumerate(columns):
            is_pos = problem.t_idx == c
            # One class only (an external set of normals): no ranking to resample;
            # AUC and AP are undefined and reported as NaN, as without groups.
            if is_pos.all() or not is_pos.any():
                ranking.append(None)
                continue
            ranking.append(ranking_column(problem.scores[:, j], is_pos, problem.plan.codes))
    reps = cluster_bootstrap(
        problem.plan, _confusion_by_patient(problem), ranking, n_bootstraps, rng
    )
    has_scores = problem.scores is not None
    return _Replicates(
        confusion_metrics(reps.confusions),
        reps.auc if has_scores else None,
        reps.ap if has_scores else None,
    )


def _headline(values: np.ndarray, problem: _Problem) -> Any:
    """The positive class's value (binary) or the macro average (multi-class)."""
    return values[..., problem.pos_index] if problem.binary else _nanmean(values, axis=-1)


def _ranking_points(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    assert problem.scores is not None
    n_cols = len(problem.score_columns)
    auc, ap = np.empty(n_cols), np.empty(n_cols)
    for j, c in enumerate(problem.score_columns):
        codes, n_levels = _level_codes(problem.scores[:, j])
        pos = np.bincount(codes[problem.t_idx == c], minlength=n_levels)
        neg = np.bincount(codes[problem.t_idx != c], minlength=n_levels)
        auc[j], ap[j] = ranking_metrics(pos, neg)
    return auc, ap


_Entry = tuple[str, Any, "np.ndarray | None", Any, Any]


def _entries(
    problem: _Problem, value: dict, majority: dict, stratified: dict, reps: _Replicates
) -> list[_Entry]:
    """(row name, point value, replicate values, majority, stratified) of every row."""
    boot = reps.metrics
    entries: list[_Entry] = [
        (name, value[name], boot[name], majority[name], stratified[name])
        for name in ("accuracy", "balanced_accuracy")
    ]
    entries += [
        (
            name,
            _headline(value[name], problem),
            _headline(boot[name], problem),
            _headline(majority[name], problem),
            _headline(stratified[name], problem),
        )
        for name in _PER_CLASS
    ]
    entries.append(("mcc", value["mcc"], boot["mcc"], majority["mcc"], stratified["mcc"]))
    if problem.scores is not None:
        auc, ap = _ranking_points(problem)
        # A constant score has AUC 0.5 and AP = prevalence, for both naive baselines.
        base_ap = (
            problem.prevalence[problem.pos_index] if problem.binary else np.mean(problem.prevalence)
        )
        boot_auc = None if reps.auc is None else _nanmean(reps.auc, axis=1)
        boot_ap = None if reps.ap is None else _nanmean(reps.ap, axis=1)
        entries.append(("roc_auc", _nanmean(auc), boot_auc, 0.5, 0.5))
        entries.append(("average_precision", _nanmean(ap), boot_ap, base_ap, base_ap))
    if not problem.binary:
        entries += [
            (
                f"{name}[{label}]",
                value[name][c],
                boot[name][:, c],
                majority[name][c],
                stratified[name][c],
            )
            for name in _PER_CLASS
            for c, label in enumerate(problem.labels)
        ]
    return entries


def _table(entries: list[_Entry], n_bootstraps: int, confidence: float) -> pd.DataFrame:
    rows = {}
    for name, point, samples, maj, strat in entries:
        if samples is None or n_bootstraps == 0:
            low = high = math.nan
        else:
            lo, hi = _percentile_ci(np.asarray(samples)[:, None], confidence)
            low, high = float(lo[0]), float(hi[0])
        # "+ 0.0" turns -0.0 into 0.0, which would print as "-0.000"
        rows[name] = [float(point) + 0.0, low, high, float(maj) + 0.0, float(strat) + 0.0]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=_COLUMNS)
    frame.index.name = "metric"
    return frame


def _messages(problem: _Problem, value: dict, majority: dict) -> list[str]:
    majority_index = int(np.argmax(problem.true_count))
    messages = _undefined_messages(value, problem.labels, problem.confusion)
    messages += _pitfall_messages(
        float(value["accuracy"]),
        float(majority["accuracy"]),
        problem.labels[majority_index],
        value,
        problem.labels,
        problem.prevalence,
    )
    return messages


def _curve_inputs(
    problem: _Problem, groups: Any, n_bootstraps: int, confidence: float, random_state: Any
) -> CurveInputs | None:
    if problem.scores is None or not problem.binary:
        return None
    return CurveInputs(
        is_pos=problem.t_idx == problem.pos_index,
        score=problem.scores[:, 0],
        groups=None if problem.plan is None else problem.plan.codes,
        n_bootstraps=n_bootstraps,
        confidence=confidence,
        random_state=random_state,
    )


# --------------------------------------------------------------------------- main
def classification_summary(
    y_true: Any,
    y_pred: Any,
    *,
    y_score: Any = None,
    groups: Any = None,
    labels: Any = None,
    pos_label: Any = 1,
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    random_state: Any = None,
) -> ClassificationSummary:
    """Every metric that matters, with bootstrap confidence intervals and naive baselines.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels (not scores: threshold them first and pass them as ``y_score``).
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes), optional
        Scores or probabilities; adds ROC AUC and average precision. Binary: the score
        of ``pos_label`` (or two columns in the order of ``labels``); multi-class: one
        column per class (one-vs-rest, macro average; scores need not sum to 1).
    groups : array-like of shape (n_samples,), optional
        Patient (subject) id of each sample. When given, the bootstrap resamples
        patients instead of samples (cluster bootstrap), because a patient's images or
        lesions are not independent; the intervals are then patient-level, usually
        wider, and honest. Ids are compared as given (``"007"`` is not ``7``).
    labels : array-like, optional
        Classes and their order. Default: sorted union of ``y_true`` and ``y_pred``.
        Two classes make a binary summary, more a multi-class one.
    pos_label : object, default=1
        The positive class of a binary problem (precision, recall, specificity and F1
        are reported for it). Ignored for multi-class.
    n_bootstraps : int, default=1000
        Number of stratified bootstrap replicates (resampling within each true class,
        so prevalence is fixed); 0 skips the confidence intervals.
    confidence : float, default=0.95
        Coverage of the percentile confidence intervals.
    random_state : int, numpy Generator or RandomState, optional
        Seed of the bootstrap; the same seed gives the same intervals.

    Returns
    -------
    ClassificationSummary
        Prints as a table; ``to_frame()``, ``to_markdown()``, ``summary["f1"]``, and
        ``plot()`` (ROC and PR curves with bands) when binary ``y_score`` was given.

    Raises
    ------
    ValueError
        On continuous ``y_pred`` (scores passed as labels), labels of mixed types
        (``[0, "1"]``, or numbers in ``y_true`` and text in ``y_pred``), lengths that
        differ, missing values, unknown ``labels`` or ``pos_label``.

    Warns
    -----
    MetricWarning
        When accuracy is not above the majority-class baseline; when a class under 20%
        prevalence (and under ``1/n_classes``) has recall or F1 below 0.5; when a metric
        is undefined (e.g. precision without a positive prediction), which is then NaN
        rather than a silent 0.

    See Also
    --------
    aggregate_by_group : One prediction per patient, for patient-level metrics.
    compare_auc : Paired test of two models' AUCs (DeLong, or clustered by patient).
    calibration_summary : Brier score, calibration error, slope and intercept.

    Notes
    -----
    Metrics: accuracy, balanced accuracy, precision (PPV), recall (sensitivity),
    specificity, F1, Matthews correlation (MCC), and with ``y_score`` ROC AUC and
    average precision. Values equal scikit-learn's (``zero_division=np.nan``; macro
    averages skip undefined classes, as scikit-learn does). MCC is 0 when truth or
    predictions are constant (scikit-learn's convention).

    Confidence intervals are percentile intervals of the stratified bootstrap (class
    counts fixed in every replicate). Replicates in which a metric is undefined (for
    example precision when a replicate has no positive prediction) are left out of
    that metric's interval. With ``y_score`` the ranking metrics cost about
    ``n_bootstraps`` times the number of score bins (distinct positive scores plus the
    runs of negatives between them): a few hundred ms for 1000 x 100k continuous
    scores, tens of ms when scores have few distinct values. Multi-class scores are
    resampled per sample and binned per column (the same replicate for every column).
    Without ``y_score`` the bootstrap is independent of ``n_samples`` (milliseconds).

    With ``groups`` each replicate draws patients with replacement, stratified by the
    patient's class where every sample of the patient has the same class (the number
    of positive and negative patients is fixed); patients with samples of several
    classes form a stratum of their own. Every metric of a replicate, AUC and AP
    included, is computed on the same resampled patients, from per-patient counts (a
    confusion matrix per patient, a count per patient and score bin), so the cost is
    about that of the sample-level bootstrap.

    Baselines, computed on the same ``y_true``: ``majority`` always predicts the most
    frequent class of ``y_true`` with a constant score; ``stratified`` guesses each class
    at its prevalence, independently of the truth, and reports the metrics of the
    expected confusion matrix (for it, precision = recall = F1 = prevalence, MCC = 0,
    AUC = 0.5). A model that does not clearly beat both has learned nothing useful.

    Examples
    --------
    The paper's example: 137 cases, 8 positives, a model that always says "no".

    >>> import warnings
    >>> from pitfalls.metrics import classification_summary
    >>> y_true = [1] * 8 + [0] * 129
    >>> y_pred = [0] * 137
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     s = classification_summary(y_true, y_pred, random_state=0)
    >>> round(s["accuracy"], 3), s["recall"], s["balanced_accuracy"]
    (0.942, 0.0, 0.5)
    >>> len(caught)
    3
    >>> print(s.to_text().splitlines()[2])
    metric             value          95% CI  majority  stratified

    Several lesions per patient: pass the patients, and the bootstrap resamples them.

    >>> y = [0, 0, 1, 1, 1, 0, 1, 1]
    >>> pred = [0, 1, 1, 1, 0, 0, 1, 1]
    >>> patients = ["p1", "p1", "p2", "p2", "p3", "p4", "p5", "p5"]
    >>> s = classification_summary(y, pred, groups=patients, n_bootstraps=200, random_state=0)
    >>> print(s.to_text().splitlines()[1])
    95% CI: percentile, 200 patient-level bootstrap replicates, 5 patients (resampled within the patient's class)
    """
    _check_arguments(y_true, y_pred, n_bootstraps, confidence)
    problem = _validate(y_true, y_pred, y_score, groups, labels, pos_label)
    value, majority, stratified = _baselines(problem)
    reps = _bootstrap(problem, int(n_bootstraps), as_generator(random_state))
    table = _table(
        _entries(problem, value, majority, stratified, reps), int(n_bootstraps), confidence
    )
    messages = _messages(problem, value, majority)
    for message in messages:
        warnings.warn(message, MetricWarning, stacklevel=2)
    return ClassificationSummary(
        table=table,
        labels=problem.labels,
        pos_label=pos_label if problem.binary else None,
        class_counts={
            lab: int(c) for lab, c in zip(problem.labels, problem.true_count, strict=True)
        },
        n_bootstraps=int(n_bootstraps),
        confidence=float(confidence),
        warnings=tuple(messages),
        n_groups=None if problem.plan is None else problem.plan.n_patients,
        mixed_groups=0 if problem.plan is None else problem.plan.n_mixed,
        curve_inputs=_curve_inputs(problem, groups, int(n_bootstraps), confidence, random_state),
    )


def _single_class_labels(label_arr: np.ndarray, pos_label: Any) -> np.ndarray:
    # One class in y_true and y_pred: a binary problem needs the other class named.
    only = label_arr[0].item() if isinstance(label_arr[0], np.generic) else label_arr[0]
    if only != pos_label and pos_label is not None:
        return np.sort(np.array([only, pos_label], dtype=label_arr.dtype))
    raise ValueError(
        f"y_true and y_pred contain a single class ({only!r}); pass labels=[negative, "
        "positive] so that the missing class can be scored."
    )


def _index_of(label_arr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in ``label_arr`` (every value is known to be a label)."""
    sorter = np.argsort(label_arr, kind="stable")
    return sorter[np.searchsorted(label_arr, values, sorter=sorter)]


def _nanmean(values: np.ndarray, axis: int = -1) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)
