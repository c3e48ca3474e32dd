"""One prediction per patient from image-, lesion- or patch-level predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_groups, check_per_sample, describe_values
from ._inputs import check_label_kinds, check_scores_1d

__all__ = ["aggregate_by_group"]

_RULES = ("mean", "max", "vote")


def _check_rule(how: str, threshold: float) -> None:
    if how not in _RULES:
        raise ValueError(
            f"how={how!r} is not a rule; use one of {', '.join(map(repr, _RULES))}: 'mean' "
            "averages a patient's scores, 'max' keeps the highest (the patient is positive "
            "when any sample is), 'vote' gives the share of samples at or above threshold."
        )
    if not np.isfinite(threshold):
        raise ValueError(f"threshold={threshold!r} must be a finite number, e.g. 0.5.")


def _patient_labels(frame: pd.DataFrame, how: str, pos_label: Any) -> pd.Series:
    """One label per patient; refuses patients whose labels disagree when the rule needs one."""
    grouped = frame.groupby("group", sort=False)["y_true"]
    if how == "max":
        if frame["y_true"].nunique() > 2:
            raise ValueError(
                f"how='max' makes a patient positive when any sample is, which needs two "
                f"classes; y_true has {frame['y_true'].nunique()}. Compare one class against "
                "the rest (y_true == <class>) or use how='mean' with one label per patient."
            )
        any_positive = grouped.agg(lambda labels: bool((labels == pos_label).any()))
        negative = [v for v in pd.unique(frame["y_true"]) if v != pos_label]
        other = negative[0] if negative else pos_label
        return any_positive.map({True: pos_label, False: other})
    counts = grouped.nunique()
    disagree = counts.index[counts.to_numpy() > 1]
    if len(disagree):
        first = disagree[0]
        seen = describe_values(pd.unique(frame.loc[frame["group"] == first, "y_true"]), limit=4)
        raise ValueError(
            f"y_true disagrees within {len(disagree)} of {len(counts)} patients (e.g. patient "
            f"{first!r} has labels {seen}); how={how!r} gives one score per patient and needs "
            "one label per patient. Use how='max' (a patient is positive when any sample is), "
            "or keep the samples and pass groups= to classification_summary."
        )
    return grouped.first()


def aggregate_by_group(
    y_true: Any,
    y_score: Any,
    groups: Any,
    *,
    how: str = "mean",
    threshold: float = 0.5,
    pos_label: Any = 1,
) -> pd.DataFrame:
    """Turn image-, lesion- or patch-level predictions into one per patient.

    Patient-level metrics need one truth and one score per patient; computing them on
    images counts a patient with 40 images 40 times.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True label of each sample.
    y_score : array-like of shape (n_samples,)
        Score (probability) of the positive class for each sample.
    groups : array-like of shape (n_samples,)
        Patient id of each sample. Ids are kept as given (``"007"`` is not ``7``).
    how : {"mean", "max", "vote"}, default="mean"
        ``"mean"``: the patient's score is the mean of its samples' scores.
        ``"max"``: the highest score; the patient's label is ``pos_label`` when any of
        its samples is positive (the "any lesion malignant" rule), so its samples' labels
        may disagree. ``"vote"``: the share of the patient's samples scored at or above
        ``threshold`` (threshold it at 0.5 for a majority vote).
    threshold : float, default=0.5
        Score at or above which a sample votes positive (``how="vote"`` only).
    pos_label : object, default=1
        The positive class (``how="max"`` only).

    Returns
    -------
    pandas.DataFrame
        One row per patient, in order of first appearance, indexed by patient id (index
        name ``"group"``); columns ``y_true``, ``y_score`` and ``n_samples``.

    Raises
    ------
    ValueError
        When a patient's samples have different labels under ``how="mean"`` or
        ``"vote"`` (the message names one such patient), when ``how`` is unknown, or on
        inputs of different lengths, missing values, non-numeric scores.

    Examples
    --------
    >>> from pitfalls.metrics import aggregate_by_group
    >>> y = [1, 1, 0, 0, 0]
    >>> score = [0.9, 0.5, 0.2, 0.4, 0.7]
    >>> patients = ["p1", "p1", "p2", "p3", "p3"]
    >>> aggregate_by_group(y, score, patients)
           y_true  y_score  n_samples
    group
    p1          1     0.70          2
    p2          0     0.20          1
    p3          0     0.55          2
    >>> aggregate_by_group(y, score, patients, how="vote")["y_score"].tolist()
    [1.0, 0.0, 0.5]
    >>> aggregate_by_group([1, 0], [0.9, 0.2], ["p1", "p1"])
    Traceback (most recent call last):
    ...
    ValueError: y_true disagrees within 1 of 1 patients (e.g. patient 'p1' has labels 1, 0); ...
    """
    _check_rule(how, threshold)
    check_label_kinds(y_true=y_true)
    labels = check_per_sample(y_true, name="y_true", unit="label", fix="drop those samples first.")
    group_arr = check_groups(groups, len(labels))
    score = check_scores_1d(y_score, len(labels), name="y_score")
    frame = pd.DataFrame(
        {"group": pd.Series(group_arr, dtype=object), "y_true": labels, "y_score": score}
    )
    if how == "vote":
        frame["y_score"] = (frame["y_score"] >= threshold).astype(float)
    grouped = frame.groupby("group", sort=False)
    result = pd.DataFrame(
        {
            "y_true": _patient_labels(frame, how, pos_label),
            "y_score": grouped["y_score"].max() if how == "max" else grouped["y_score"].mean(),
            "n_samples": grouped.size(),
        }
    )
    result.index.name = "group"
    return result
