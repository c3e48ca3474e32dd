"""Internal cross-validation beside an external set: the generalisation gap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_array

from pitfalls._tables import format_number, frame_to_markdown
from pitfalls._validation import check_groups, check_per_sample, describe_values
from pitfalls.model_selection import StratifiedGroupKFold

__all__ = ["GeneralizationGapResult", "generalization_gap"]


@dataclass(frozen=True, repr=False, eq=False)
class GeneralizationGapResult:
    """Internal cross-validated performance beside performance on an external set.

    Attributes
    ----------
    scoring : str
        Name of the score (or ``repr`` of a callable scorer).
    internal_scores : ndarray of shape (n_splits,)
        Score of each internal cross-validation fold.
    internal_score : float
        Their mean.
    external_score : float
        Score of the model trained on all internal data, on the external set. NaN when
        the external set holds a single class (most scores are undefined there).
    external_fraction_correct : float
        Fraction of external samples classified correctly (accuracy). For a single-class
        external set (the paper's external normal X-rays) this is the number to read:
        the paper's model got 3.86%.
    external_class : object or None
        The class of a single-class external set, else None.
    internal_class_recall : ndarray of shape (n_splits,) or None
        For a single-class external set: per fold, the fraction of internal test samples
        of that class classified correctly, i.e. the same quantity measured internally.
    gap : float
        ``internal_score - external_score``; for a single-class external set,
        ``mean(internal_class_recall) - external_fraction_correct``. Large positive
        values mean the internal evaluation does not carry over to the external source.
    estimator : estimator
        The model fitted on all internal data and applied to the external set.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from pitfalls.batch_effects import generalization_gap
    >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
    >>> y = np.repeat([0, 1], 6)
    >>> res = generalization_gap(LogisticRegression(), X, y, X[:3] + 1, y[:3], cv=2,
    ...                          random_state=0)
    >>> res.to_frame()
          set  fold  score  class_recall
    0  internal   0.0    1.0           1.0
    1  internal   1.0    1.0           1.0
    2  external   NaN    NaN           0.0
    """

    scoring: str
    internal_scores: np.ndarray
    internal_score: float
    external_score: float
    external_fraction_correct: float
    external_class: Any
    internal_class_recall: np.ndarray | None
    gap: float
    estimator: Any

    def __repr__(self) -> str:
        if self.external_class is None:
            detail = f"external_score={self.external_score:.3f}"
        else:
            detail = (
                f"external_class={self.external_class!r}, internal_class_recall="
                f"{np.nanmean(self.internal_class_recall):.3f}"  # type: ignore[arg-type]
            )
        return (
            f"GeneralizationGapResult(scoring={self.scoring!r}, internal_score="
            f"{self.internal_score:.3f}, {detail}, external_fraction_correct="
            f"{self.external_fraction_correct:.4f}, gap={self.gap:.3f})"
        )

    def to_frame(self) -> pd.DataFrame:
        """Internal folds and the external set, one row each.

        Returns
        -------
        DataFrame
            Columns ``set`` (``"internal"`` or ``"external"``), ``fold`` (NaN for the
            external row), ``score`` (the ``scoring`` value; NaN for a single-class
            external set) and ``class_recall`` (for a single-class external set: the
            recall of that class, internally per fold and externally; otherwise NaN).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from pitfalls.batch_effects import generalization_gap
        >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
        >>> y = np.repeat([0, 1], 6)
        >>> res = generalization_gap(LogisticRegression(), X, y, X, y, cv=2, random_state=0)
        >>> res.to_frame()["set"].tolist()
        ['internal', 'internal', 'external']
        """
        n_folds = self.internal_scores.size
        single_class = self.external_class is not None
        recall = (
            np.asarray(self.internal_class_recall, dtype=float)
            if single_class
            else np.full(n_folds, np.nan)
        )
        external_recall = self.external_fraction_correct if single_class else np.nan
        return pd.DataFrame(
            {
                "set": ["internal"] * n_folds + ["external"],
                "fold": np.r_[np.arange(n_folds, dtype=float), np.nan],
                "score": np.r_[self.internal_scores, self.external_score],
                "class_recall": np.r_[recall, external_recall],
            }
        )

    def to_markdown(self, digits: int = 3) -> str:
        """A one-line verdict and the per-fold table, in Markdown.

        Parameters
        ----------
        digits : int, default=3
            Decimals of the scores.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from pitfalls.batch_effects import generalization_gap
        >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
        >>> y = np.repeat([0, 1], 6)
        >>> res = generalization_gap(LogisticRegression(), X, y, X, y, cv=2, random_state=0)
        >>> res.to_markdown().splitlines()[0]
        'Generalization gap (f1): internal 1.000, external 1.000, gap 0.000.'
        """
        if self.external_class is None:
            verdict = (
                f"Generalization gap ({self.scoring}): internal "
                f"{format_number(self.internal_score, digits)}, external "
                f"{format_number(self.external_score, digits)}, gap "
                f"{format_number(self.gap, digits)}."
            )
        else:
            internal = float(np.nanmean(np.asarray(self.internal_class_recall, dtype=float)))
            verdict = (
                f"Generalization gap (recall of class {self.external_class!r}, the external "
                f"set's only class): internal {format_number(internal, digits)}, external "
                f"{format_number(self.external_fraction_correct, digits)}, gap "
                f"{format_number(self.gap, digits)}."
            )
        frame = self.to_frame()
        cells = frame.assign(
            fold=[("" if np.isnan(v) else str(int(v))) for v in frame["fold"]],
            score=[format_number(float(v), digits) for v in frame["score"]],
            class_recall=[format_number(float(v), digits) for v in frame["class_recall"]],
        )
        return f"{verdict}\n\n{frame_to_markdown(cells)}"

    def plot(self, ax: Any = None) -> Any:
        """Internal fold scores (points) beside the external value (bar).

        For a single-class external set both bars show the recall of that class.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from pitfalls.batch_effects import generalization_gap
        >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
        >>> y = np.repeat([0, 1], 6)
        >>> res = generalization_gap(LogisticRegression(), X, y, X[:3] + 1, y[:3], cv=2)
        >>> res.plot().get_ylabel()
        'recall of class 0'
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        if self.external_class is None:
            internal, external = self.internal_scores, self.external_score
            ylabel = self.scoring
        else:
            internal = np.asarray(self.internal_class_recall)
            external = self.external_fraction_correct
            ylabel = f"recall of class {self.external_class!r}"
        ax.bar([0, 1], [np.nanmean(internal), external], color=["C0", "C3"], alpha=0.6)
        ax.plot(np.zeros(internal.size), internal, "o", color="C0", label="internal folds")
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["internal CV", "external"])
        ax.set_ylabel(ylabel)
        ax.legend()
        return ax


def _check_xy(X: Any, y: Any, *, name: str) -> tuple[Any, np.ndarray]:
    # allow_nd: image arrays (N, H, W[, C]) go to image models such as TorchImageClassifier
    data = check_array(X, dtype=None, allow_nd=True) if not isinstance(X, pd.DataFrame) else X
    target = check_per_sample(y, name=f"y_{name}", unit="label", fix="drop unlabelled samples.")
    if target.shape[0] != data.shape[0]:
        raise ValueError(
            f"X_{name} has {data.shape[0]} samples but y_{name} has {target.shape[0]}; pass "
            "one label per sample."
        )
    return data, target


def _check_internal_external(
    X_internal: Any, y_internal: Any, X_external: Any, y_external: Any
) -> tuple[Any, np.ndarray, Any, np.ndarray]:
    """Both sets validated: same features, two internal classes, no unseen external class."""
    data_in, target_in = _check_xy(X_internal, y_internal, name="internal")
    data_ex, target_ex = _check_xy(X_external, y_external, name="external")
    if data_ex.shape[1] != data_in.shape[1]:
        raise ValueError(
            f"X_external has {data_ex.shape[1]} features but X_internal has "
            f"{data_in.shape[1]}; both need the same features."
        )
    classes_in = np.unique(target_in)
    if classes_in.size < 2:
        raise ValueError(
            f"y_internal has a single class ({describe_values(classes_in)}); a classifier "
            "needs at least two."
        )
    unseen = np.setdiff1d(np.unique(target_ex), classes_in)
    if unseen.size:
        raise ValueError(
            f"y_external has class(es) {describe_values(unseen)} not in y_internal "
            f"({describe_values(classes_in)}); the model cannot predict them."
        )
    return data_in, target_in, data_ex, target_ex


def _rows(data: Any, index: np.ndarray) -> Any:
    return data.iloc[index] if isinstance(data, pd.DataFrame) else data[index]


def _fit_and_score_fold(
    estimator: Any,
    scorer: Any,
    data: Any,
    target: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    external_class: Any,
) -> tuple[float, float]:
    fitted = clone(estimator).fit(_rows(data, train), target[train])
    X_test, y_test = _rows(data, test), target[test]
    score = float(scorer(fitted, X_test, y_test))
    if external_class is None:
        return score, float("nan")
    of_class = y_test == external_class
    if not of_class.any():
        return score, float("nan")
    recall = float(
        np.mean(fitted.predict(_rows(X_test, np.flatnonzero(of_class))) == external_class)
    )
    return score, recall


def generalization_gap(
    estimator: Any,
    X_internal: Any,
    y_internal: Any,
    X_external: Any,
    y_external: Any,
    *,
    groups: Any = None,
    cv: Any = 5,
    scoring: Any = "f1",
    random_state: Any = None,
    n_jobs: int | None = None,
) -> GeneralizationGapResult:
    """Compare internal cross-validated performance with performance on an external set.

    A batch effect shows up here after training: internal cross-validation (all folds
    drawn from the same confounded sources) looks excellent, while data from another
    source is misclassified. In the paper, a pneumonia model with internal F1 0.987
    classified only 3.86% of external normal pediatric X-rays correctly.

    Parameters
    ----------
    estimator : classifier
        Unfitted model (or pipeline); cloned for every fit.
    X_internal, y_internal : array-like
        Development data, cross-validated.
    X_external, y_external : array-like
        External data from another source. It may hold a single class.
    groups : array-like of shape (n_internal,), optional
        Patient of each internal sample, so internal folds keep patients together.
    cv : int or cross-validation splitter, default=5
        Number of stratified folds (:class:`~pitfalls.model_selection.StratifiedGroupKFold`
        with groups, :class:`~sklearn.model_selection.StratifiedKFold` without, shuffled
        with ``random_state``) or a splitter used as ``split(X, y, groups)``.
    scoring : str or callable, default="f1"
        scikit-learn scorer name or callable ``scorer(estimator, X, y)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds when ``cv`` is an int.
    n_jobs : int, optional
        Folds run in parallel with joblib.

    Returns
    -------
    GeneralizationGapResult
        With ``internal_scores``, ``internal_score``, ``external_score``,
        ``external_fraction_correct``, ``gap`` and, for a single-class external set,
        ``external_class`` and ``internal_class_recall``.

    Raises
    ------
    ValueError
        If lengths differ, labels are missing, the internal set has one class, the
        external set has a class never seen internally, or the feature counts differ.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from pitfalls.batch_effects import generalization_gap
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 40)
    >>> site_artefact = y.astype(float)  # internal: the source artefact follows the label
    >>> X = np.c_[site_artefact, rng.normal(size=80)]
    >>> X_ext = np.c_[np.ones(20), rng.normal(size=20)]  # external normals with the artefact
    >>> res = generalization_gap(LogisticRegression(), X, y, X_ext, np.zeros(20, int),
    ...                          random_state=0)
    >>> res.internal_score, res.external_fraction_correct, res.gap
    (1.0, 0.0, 1.0)
    """
    data_in, target_in, data_ex, target_ex = _check_internal_external(
        X_internal, y_internal, X_external, y_external
    )
    group_arr = None if groups is None else check_groups(groups, data_in.shape[0])
    if isinstance(cv, int | np.integer):
        if group_arr is None:
            splitter: Any = StratifiedKFold(int(cv), shuffle=True, random_state=random_state)
        else:
            splitter = StratifiedGroupKFold(int(cv), shuffle=True, random_state=random_state)
    else:
        splitter = cv
    scorer = check_scoring(estimator, scoring=scoring)
    classes_ex = np.unique(target_ex)
    external_class = classes_ex[0] if classes_ex.size == 1 else None
    if isinstance(external_class, np.generic):
        external_class = external_class.item()

    folds = list(splitter.split(data_in, target_in, group_arr))
    fold_results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score_fold)(
            estimator, scorer, data_in, target_in, train, test, external_class
        )
        for train, test in folds
    )
    internal_scores = np.array([r[0] for r in fold_results])
    fitted = clone(estimator).fit(data_in, target_in)
    predictions = np.asarray(fitted.predict(data_ex))
    fraction_correct = float(np.mean(predictions == target_ex))
    internal_score = float(np.mean(internal_scores))
    if external_class is None:
        external_score = float(scorer(fitted, data_ex, target_ex))
        class_recall = None
        gap = internal_score - external_score
    else:
        external_score = float("nan")
        class_recall = np.array([r[1] for r in fold_results])
        gap = float(np.nanmean(class_recall)) - fraction_correct
    return GeneralizationGapResult(
        scoring=scoring if isinstance(scoring, str) else repr(scoring),
        internal_scores=internal_scores,
        internal_score=internal_score,
        external_score=external_score,
        external_fraction_correct=fraction_correct,
        external_class=external_class,
        internal_class_recall=class_recall,
        gap=float(gap),
        estimator=fitted,
    )
