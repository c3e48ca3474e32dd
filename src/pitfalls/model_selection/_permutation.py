"""Permutation test of a cross-validated score, with labels permuted between patients.

scikit-learn's ``permutation_test_score(..., groups=patients)`` permutes labels
*within* each patient. When a patient's samples share one label (the usual case: a
patient has the disease or not), that permutation changes nothing, every permuted score
equals the real one, and the p-value is 1.0 whatever the data. The null hypothesis
that matters is "the patient's label is unrelated to the patient's images", and the
labels that are exchangeable under it are those of different *patients*.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import cross_val_score
from sklearn.model_selection import permutation_test_score as sk_permutation_test_score
from sklearn.utils import check_random_state, indexable
from sklearn.utils.parallel import Parallel, delayed

from .._validation import check_groups, check_per_sample, check_positive_class
from ..exceptions import MetricWarning
from ._assign import encode
from ._check import describe_splitter, split_by_group_checked
from ._nested import _resolve_cv

__all__ = ["permutation_test_score"]


@dataclass(frozen=True)
class _PatientBlocks:
    """How labels move between patients: ``y_permuted = y[source]``.

    Samples are listed patient by patient (``order``), each patient's in their original
    order. Patients whose samples share one label form one pool and exchange that label
    with each other whatever their sizes; patients whose labels vary exchange their whole
    label sequence with patients of the same number of samples (one pool per size).
    """

    order: np.ndarray  # sample indices, patient by patient
    start: np.ndarray  # position in ``order`` where each patient starts
    size: np.ndarray
    constant: np.ndarray  # whether each patient's labels are all equal
    pools: tuple[np.ndarray, ...]  # patients that exchange labels with each other
    n_fixed: int  # varying-label patients whose size is unique: never move

    @classmethod
    def of(cls, y: np.ndarray, groups: np.ndarray) -> _PatientBlocks:
        codes, _ = encode(groups)
        order = np.argsort(codes, kind="stable")
        size = np.bincount(codes)
        start = np.concatenate([[0], np.cumsum(size)[:-1]])
        _, label_codes = np.unique(y, return_inverse=True)
        sorted_labels = label_codes.ravel()[order]
        low = np.minimum.reduceat(sorted_labels, start)
        high = np.maximum.reduceat(sorted_labels, start)
        constant = low == high
        pools = [np.flatnonzero(constant)]
        varying = np.flatnonzero(~constant)
        sizes, counts = np.unique(size[varying], return_counts=True)
        pools += [varying[size[varying] == s] for s in sizes[counts > 1]]
        n_fixed = int(np.sum(np.isin(size[varying], sizes[counts == 1])))
        return cls(order, start, size, constant, tuple(pools), n_fixed)

    def source(self, rng: np.random.RandomState) -> np.ndarray:
        """Sample indices to read the permuted labels from (one random permutation)."""
        donor = np.arange(len(self.size))
        for pool in self.pools:
            donor[pool] = pool[rng.permutation(len(pool))]
        patient = np.repeat(np.arange(len(self.size)), self.size)
        offset = np.arange(len(self.order)) - self.start[patient]
        # a constant-label donor gives its (only) label to every sample of the receiver
        offset = np.where(self.constant[donor[patient]], 0, offset)
        source = np.empty(len(self.order), dtype=np.intp)
        source[self.order] = self.order[self.start[donor[patient]] + offset]
        return source


def _cv_score(
    estimator: Any, X: Any, y: np.ndarray, groups: np.ndarray, cv: Any, scorer: Any, params: Any
) -> float:
    folds = split_by_group_checked(
        cv, X, y, groups, described=describe_splitter("cv", cv), where="the permutation test"
    )
    scores = cross_val_score(estimator, X, y, cv=folds, scoring=scorer, params=params, n_jobs=1)
    return float(np.mean(scores))


def _sklearn_keywords(fit_params: Any) -> dict[str, Any]:
    # scikit-learn renamed fit_params to params (1.4 has both, 1.8 only params)
    if fit_params is None:
        return {}
    accepted = inspect.signature(sk_permutation_test_score).parameters
    return {"params" if "params" in accepted else "fit_params": fit_params}


def _check_n_permutations(n_permutations: Any) -> None:
    if (
        isinstance(n_permutations, bool)
        or not isinstance(n_permutations, numbers.Integral)
        or n_permutations < 1
    ):
        raise ValueError(
            f"n_permutations={n_permutations!r} is invalid; use a positive integer (the "
            "smallest possible p-value is 1 / (n_permutations + 1), so 100 allows p = 0.0099)."
        )


def _warn_fixed(blocks: _PatientBlocks) -> None:
    if blocks.n_fixed:
        warnings.warn(
            f"{blocks.n_fixed} of {len(blocks.size)} patients keep their labels in every "
            "permutation: their labels vary between their samples and no other such patient "
            "has the same number of samples to exchange them with. The test stays valid but "
            "is conservative (p-values too large); aggregate to one label per patient first "
            "if the question is about patients.",
            MetricWarning,
            stacklevel=3,
        )


def permutation_test_score(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    groups: Any = None,
    cv: Any = None,
    n_permutations: int = 100,
    scoring: Any = None,
    n_jobs: int | None = None,
    random_state: Any = 0,
    verbose: int = 0,
    fit_params: dict[str, Any] | None = None,
) -> tuple[float, np.ndarray, float]:
    """Is the cross-validated score better than chance? Labels permuted between patients.

    Parameters
    ----------
    estimator : estimator object
        Fitted anew (a clone) on every training fold of every permutation.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    groups : array-like of shape (n_samples,), optional
        Patient id of each sample. With groups, labels move between patients (see
        Notes), the cross-validation is group-aware, and every fold is checked to keep
        each patient on one side. Without them, the result is exactly scikit-learn's.
    cv : int, cross-validation generator or iterable, optional
        Default: 5 folds; with ``groups``, :class:`StratifiedGroupKFold` for classifiers
        with class labels and ``GroupKFold`` otherwise. A splitter that ignores
        ``groups`` raises :class:`~pitfalls.exceptions.GroupLeakageError`.
    n_permutations : int, default=100
        Number of label permutations.
    scoring : str, callable or None, default=None
        As in scikit-learn (``None``: the estimator's ``score``).
    n_jobs : int, optional
        Permutations run in parallel over ``n_jobs`` joblib workers.
    random_state : int, RandomState or None, default=0
        Seeds the permutations (scikit-learn's default, 0).
    verbose : int, default=0
        Progress messages of the joblib workers.
    fit_params : dict, optional
        Passed to the estimator's ``fit``.

    Returns
    -------
    score : float
        Mean cross-validated score on the true labels.
    permutation_scores : ndarray of shape (n_permutations,)
        The same score on each permutation of the labels.
    pvalue : float
        ``(C + 1) / (n_permutations + 1)``, where ``C`` counts permutation scores
        greater than or equal to ``score``; between ``1 / (n_permutations + 1)`` and 1.

    Raises
    ------
    ValueError
        If ``n_permutations`` is not a positive integer, or ``groups`` does not give one
        patient per sample.
    GroupLeakageError
        If ``cv`` puts one patient's samples on both sides of a fold.

    Warns
    -----
    MetricWarning
        When some patients can never exchange their labels (see Notes).

    Notes
    -----
    With ``groups``, a permutation reassigns labels between patients:

    * a patient whose samples all have one label (the usual case) gets the label of
      another such patient, drawn by a uniform permutation of those patients, whatever
      their numbers of samples;
    * a patient whose samples have several labels (lesion-level labels, say) moves its
      whole label sequence, as a block, to another such patient with the *same number
      of samples* (a sequence of 3 labels cannot fill 5 samples). A patient whose number
      of samples no other such patient shares keeps its labels in every permutation,
      which makes the test conservative; a :class:`MetricWarning` counts them.

    scikit-learn's own ``permutation_test_score(..., groups=...)`` instead permutes
    labels *within* each patient: with patient-constant labels nothing changes and its
    p-value is 1.0 whatever the data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from pitfalls.model_selection import permutation_test_score
    >>> rng = np.random.default_rng(0)
    >>> patients = np.repeat(np.arange(20), 3)           # 20 patients, 3 images each
    >>> y = np.repeat(np.arange(20) % 2, 3)              # one label per patient
    >>> X = rng.normal(size=(60, 2)) + y[:, None]        # the label shows in the images
    >>> score, null, p = permutation_test_score(GaussianNB(), X, y, groups=patients,
    ...                                         n_permutations=19)
    >>> round(score, 2), p
    (0.78, 0.05)

    scikit-learn's version permutes within patients, which changes nothing here:

    >>> from sklearn.model_selection import GroupKFold
    >>> from sklearn.model_selection import permutation_test_score as sklearn_version
    >>> float(sklearn_version(GaussianNB(), X, y, groups=patients, cv=GroupKFold(5),
    ...                       n_permutations=19)[2])
    1.0
    """
    _check_n_permutations(n_permutations)
    if groups is None:
        return sk_permutation_test_score(
            estimator, X, y, cv=cv, n_permutations=n_permutations, n_jobs=n_jobs,
            random_state=random_state, verbose=verbose, scoring=scoring,
            **_sklearn_keywords(fit_params),
        )  # fmt: skip
    y_arr = check_per_sample(y, name="y", unit="label", fix="drop those samples first.")
    group_arr = check_groups(groups, len(y_arr))
    X, y_arr, group_arr = indexable(X, y_arr, group_arr)
    check_positive_class(scoring, y_arr)
    scorer = check_scoring(estimator, scoring=scoring)
    splitter = _resolve_cv(5 if cv is None else cv, y_arr, group_arr, None, estimator, "cv")
    blocks = _PatientBlocks.of(y_arr, group_arr)
    _warn_fixed(blocks)
    rng = check_random_state(random_state)
    sources = [blocks.source(rng) for _ in range(n_permutations)]
    score = _cv_score(clone(estimator), X, y_arr, group_arr, splitter, scorer, fit_params)
    permutation_scores = np.array(
        Parallel(n_jobs=n_jobs, verbose=verbose)(
            delayed(_cv_score)(
                clone(estimator), X, y_arr[source], group_arr, splitter, scorer, fit_params
            )
            for source in sources
        )
    )
    pvalue = (np.sum(permutation_scores >= score) + 1.0) / (n_permutations + 1)
    return score, permutation_scores, float(pvalue)
