"""Group k-fold stratified on several binary labels at once (multi-label findings)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import BaseCrossValidator

from .._compat import num_samples as _num_samples
from .._validation import check_groups, describe_values
from ._assign import encode
from ._split import (
    _check_n_splits,
    check_shuffle,
    folds_as_splits,
    k_fold_of_groups,
    per_sample_repr,
)

__all__ = ["MultilabelStratifiedGroupKFold", "label_group_counts"]


def _check_indicator(y: Any, n_samples: int) -> tuple[np.ndarray, list[Any]]:
    """``y`` as a (n_samples, n_labels) 0/1 array, and the name of each label."""
    if y is None:
        raise ValueError(
            "MultilabelStratifiedGroupKFold stratifies on the labels: y is required; pass "
            "y of shape (n_samples, n_labels) to split()."
        )
    names = list(y.columns) if hasattr(y, "columns") else None
    values = y.toarray() if sp.issparse(y) else np.asarray(y)
    if values.ndim != 2:
        raise ValueError(
            f"y must be 2-D, one column per label (n_samples, n_labels); got shape "
            f"{values.shape}. For one class label per sample use StratifiedGroupKFold."
        )
    if values.shape[0] != n_samples:
        raise ValueError(
            f"y has {values.shape[0]} rows but X has {n_samples} samples; pass one row of "
            "labels per sample."
        )
    if values.dtype.kind not in "biuf":
        raise ValueError(
            f"y must hold 0/1 (or True/False) label indicators; got dtype {values.dtype}."
        )
    if values.dtype.kind == "f" and np.isnan(values).any():
        rows = np.flatnonzero(np.isnan(values).any(axis=1))
        raise ValueError(
            f"y has missing values in {rows.size} row(s) (at positions "
            f"{describe_values(rows)}); label those samples or drop them."
        )
    if values.dtype.kind != "b":
        odd = np.setdiff1d(np.unique(values), [0, 1])
        if odd.size:
            raise ValueError(
                f"y must hold 0/1 (or True/False) label indicators; got the value(s) "
                f"{describe_values(odd)}. Binarise each label first (e.g. "
                "sklearn.preprocessing.MultiLabelBinarizer)."
            )
    return values.astype(np.float64), names or list(range(values.shape[1]))


def label_group_counts(group_codes: np.ndarray, indicator: np.ndarray) -> np.ndarray:
    """Per group: its number of samples, then its positive samples of each label.

    Balancing these columns across folds gives every fold its share of the samples
    and of every label's positives, so each label's prevalence in a fold (positives
    over samples) stays close to its overall prevalence.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection._multilabel import label_group_counts
    >>> label_group_counts(np.array([0, 0, 1]), np.array([[1, 0], [1, 1], [0, 1]])).tolist()
    [[2, 2, 1], [1, 0, 1]]
    """
    n_groups = int(group_codes.max()) + 1
    columns = [np.bincount(group_codes, minlength=n_groups)]
    columns += [
        np.rint(np.bincount(group_codes, weights=indicator[:, j], minlength=n_groups)).astype(
            np.int64
        )
        for j in range(indicator.shape[1])
    ]
    return np.column_stack(columns)


class MultilabelStratifiedGroupKFold(BaseCrossValidator):
    """K-fold iterator with non-overlapping groups, stratified on several binary labels.

    For multi-label findings (a chest X-ray with effusion *and* cardiomegaly): each
    group (patient) is in exactly one test fold, and every label's prevalence in each
    fold stays as close to its overall prevalence as the groups allow. Stratifying
    :class:`StratifiedGroupKFold` on the label powerset (each combination of labels
    its own class) asks for far more: every combination, most of them rare, balanced
    on its own; here each label is balanced on its own, together with the fold sizes.
    It is the same group-to-fold algorithm as :class:`StratifiedGroupKFold`, with one
    count column per label, so it is as fast.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds; at least 2 and at most the number of groups.
    shuffle : bool, default=False
        Place interchangeable groups and groups of similar size in random order, so
        that different ``random_state`` values give different, equally balanced folds.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle; only allowed when ``shuffle=True``.

    See Also
    --------
    StratifiedGroupKFold : One class label per sample.

    Notes
    -----
    The cost balanced is the squared deviation, over folds, of each fold's share of
    the samples and of each label's positive samples from ``1 / n_splits``; a label
    with no positive sample is left out of it. A label positive in fewer groups than
    ``n_splits`` (but in at least one) cannot reach every fold, and a ``UserWarning``
    says so.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection import MultilabelStratifiedGroupKFold
    >>> groups = np.repeat(np.arange(8), 2)
    >>> y = np.zeros((16, 2), dtype=int)
    >>> y[[0, 1, 4, 5, 8, 9, 12, 13], 0] = 1  # label 0: patients 0, 2, 4, 6
    >>> y[[0, 1, 2, 3, 8, 9, 10, 11], 1] = 1  # label 1: patients 0, 1, 4, 5
    >>> cv = MultilabelStratifiedGroupKFold(n_splits=2)
    >>> for train, test in cv.split(np.zeros((16, 1)), y, groups):
    ...     print(np.unique(groups[test]), y[test].mean(axis=0))
    [0 1 2 3] [0.5 0.5]
    [4 5 6 7] [0.5 0.5]
    """

    __metadata_request__split: ClassVar[dict[str, bool]] = {"groups": True}

    def __init__(
        self, n_splits: int = 5, *, shuffle: bool = False, random_state: Any = None
    ) -> None:
        _check_n_splits(n_splits)
        check_shuffle(shuffle, random_state)
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def fold_of_samples(self, X: Any, y: Any, groups: Any) -> np.ndarray:
        """Test-fold index of every sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Only its length is used.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            0/1 (or boolean) indicator of each label.
        groups : array-like of shape (n_samples,)
            Group (patient) of each sample.

        Returns
        -------
        ndarray of shape (n_samples,)
            Integer in ``range(n_splits)``; ``split`` yields ``fold == i`` as test set.

        Examples
        --------
        >>> from pitfalls.model_selection import MultilabelStratifiedGroupKFold
        >>> y = [[1, 0], [1, 0], [0, 1], [0, 1]]
        >>> cv = MultilabelStratifiedGroupKFold(n_splits=2)
        >>> cv.fold_of_samples([0] * 4, y, ["a", "b", "c", "d"]).tolist()
        [0, 1, 0, 1]
        """
        n_samples = _num_samples(X)
        groups = check_groups(groups, n_samples)
        indicator, names = _check_indicator(y, n_samples)
        group_codes, group_ids = encode(groups)
        if self.n_splits > group_ids.size:
            raise ValueError(
                f"n_splits={self.n_splits} is greater than the number of groups "
                f"({group_ids.size}); use n_splits <= {group_ids.size}."
            )
        counts = label_group_counts(group_codes, indicator)
        positive = counts[:, 1:]
        _warn_rare_labels((positive > 0).sum(axis=0), names, self.n_splits)
        present = np.r_[True, positive.sum(axis=0) > 0]  # a label never positive: no column
        fold = k_fold_of_groups(counts[:, present], self.n_splits, self.shuffle, self.random_state)
        return fold[group_codes]

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Any]:
        """Generate indices to split data into training and test set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its length is used.
        y : array-like or sparse matrix of shape (n_samples, n_labels)
            0/1 indicator of each label (required).
        groups : array-like of shape (n_samples,)
            Group (patient) of each sample (required).

        Yields
        ------
        train : ndarray
            Training set indices for that split.
        test : ndarray
            Test set indices for that split.

        Examples
        --------
        >>> from pitfalls.model_selection import MultilabelStratifiedGroupKFold
        >>> cv = MultilabelStratifiedGroupKFold(n_splits=2)
        >>> y = [[1, 0], [1, 0], [0, 1], [1, 1], [0, 1]]
        >>> [test.tolist() for _, test in cv.split([0] * 5, y, [1, 1, 2, 3, 4])]
        [[0, 1, 2], [3, 4]]
        """
        yield from folds_as_splits(self.fold_of_samples(X, y, groups), self.n_splits)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of splitting iterations, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        int

        Examples
        --------
        >>> from pitfalls.model_selection import MultilabelStratifiedGroupKFold
        >>> MultilabelStratifiedGroupKFold(n_splits=4).get_n_splits()
        4
        """
        return int(self.n_splits)

    def __repr__(self) -> str:
        return per_sample_repr(self, {})


def _warn_rare_labels(groups_per_label: np.ndarray, names: list[Any], n_splits: int) -> None:
    """Warn when a label is positive in fewer groups than folds: some folds will lack it."""
    rare = np.flatnonzero((groups_per_label > 0) & (groups_per_label < n_splits))
    if not rare.size:
        return
    shown = ", ".join(f"{names[j]!r} ({groups_per_label[j]})" for j in rare[:10])
    warnings.warn(
        f"{rare.size} label(s) of y are positive in fewer groups than n_splits={n_splits} "
        f"(label (groups): {shown}); some test folds will contain no positive of them.",
        UserWarning,
        stacklevel=3,
    )
