"""Naive classification baselines: scikit-learn's DummyClassifier, scored like a model."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier

from ..exceptions import MetricWarning
from ..metrics import ClassificationSummary, classification_summary

__all__ = ["naive_baseline_summary"]

_STRATEGIES = ("most_frequent", "prior", "stratified", "uniform")


def naive_baseline_summary(
    y_test: Any,
    *,
    y_train: Any = None,
    groups: Any = None,
    strategy: str = "most_frequent",
    labels: Any = None,
    pos_label: Any = 1,
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    random_state: Any = None,
) -> ClassificationSummary:
    """Score a no-skill classifier (``DummyClassifier``) on the test labels.

    The number every model of the same task must clearly beat. The dummy is fitted on
    ``y_train`` (the honest protocol: the test labels decide nothing) and predicts the
    test samples; its scores (``predict_proba``) give ROC AUC and average precision.

    Parameters
    ----------
    y_test : array-like of shape (n_samples,)
        True labels of the evaluation set.
    y_train : array-like, optional
        Training labels the dummy learns its class frequencies from. Default:
        ``y_test`` itself, which is slightly optimistic for the baseline.
    groups : array-like of shape (n_samples,), optional
        Patient id of each test sample: the confidence intervals are then patient-level,
        as in :func:`~pitfalls.metrics.classification_summary`.
    strategy : {"most_frequent", "prior", "stratified", "uniform"}, default="most_frequent"
        :class:`sklearn.dummy.DummyClassifier` strategy. ``"most_frequent"`` and
        ``"prior"`` predict the majority class (``"prior"`` scores with the class
        priors); ``"stratified"`` guesses at the class frequencies; ``"uniform"``
        guesses uniformly.
    labels, pos_label, n_bootstraps, confidence :
        As in :func:`~pitfalls.metrics.classification_summary`.
    random_state : int, numpy Generator or RandomState, optional
        Seeds the dummy's guesses and the bootstrap.

    Returns
    -------
    ClassificationSummary
        The dummy's metrics with CIs; its ``warnings`` hold the messages (for example
        "accuracy is not above the majority baseline"), which are not emitted: a
        no-skill model is expected to have them.

    Examples
    --------
    >>> from pitfalls.baselines import naive_baseline_summary
    >>> y = [1] * 8 + [0] * 129
    >>> s = naive_baseline_summary(y, n_bootstraps=0)
    >>> round(s["accuracy"], 3), s["recall"], s["roc_auc"]
    (0.942, 0.0, 0.5)
    """
    if strategy not in _STRATEGIES:
        raise ValueError(
            f"strategy={strategy!r} is not supported; use one of {', '.join(map(repr, _STRATEGIES))}."
        )
    y_test_arr = np.asarray(y_test)
    y_fit = y_test_arr if y_train is None else np.asarray(y_train)
    seed = (
        np.random.default_rng(random_state).integers(2**31)
        if strategy in ("stratified", "uniform")
        else None
    )
    dummy = DummyClassifier(strategy=strategy, random_state=seed)
    dummy.fit(np.zeros((len(y_fit), 1)), y_fit)
    X_test = np.zeros((len(y_test_arr), 1))
    y_pred = dummy.predict(X_test)
    classes = dummy.classes_.tolist()
    all_labels = sorted(set(classes) | set(y_test_arr.tolist())) if labels is None else list(labels)
    y_score = None
    if set(classes) == set(all_labels):
        proba = dummy.predict_proba(X_test)
        order = [classes.index(lab) for lab in all_labels]
        y_score = proba[:, order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        return classification_summary(
            y_test_arr,
            y_pred,
            y_score=y_score,
            groups=groups,
            labels=all_labels,
            pos_label=pos_label,
            n_bootstraps=n_bootstraps,
            confidence=confidence,
            random_state=random_state,
        )
