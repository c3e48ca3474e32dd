"""MultilabelStratifiedGroupKFold: invariants, balance against the powerset and GroupKFold, errors."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier

from pitfalls.model_selection import MultilabelStratifiedGroupKFold, StratifiedGroupKFold


def label_deviation(fold: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per label: max over folds of |prevalence in the fold - overall prevalence|."""
    return np.max([np.abs(y[fold == i].mean(axis=0) - y.mean(axis=0)) for i in np.unique(fold)],
                  axis=0)  # fmt: skip


def fold_of(cv, y, groups) -> np.ndarray:
    fold = np.full(len(groups), -1)
    for i, (_, test) in enumerate(cv.split(np.zeros((len(groups), 1)), y, groups)):
        fold[test] = i
    return fold


def multilabel_cohort(seed: int, n_groups: int = 300, n_labels: int = 6):
    """Patients with 1 + Poisson(3) images, patient-level findings, a few image-level flips."""
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(3, n_groups)
    groups = rng.permutation(np.repeat(np.arange(n_groups), sizes))
    prevalence = rng.uniform(0.05, 0.4, n_labels)
    y = (rng.random((n_groups, n_labels)) < prevalence)[groups].astype(int)
    flip = rng.random(y.shape) < 0.05
    y[flip] = 1 - y[flip]
    return y, groups


def powerset(y: np.ndarray) -> np.ndarray:
    return (y * (1 << np.arange(y.shape[1]))).sum(axis=1)


@st.composite
def grouped_multilabels(draw):
    n_groups = draw(st.integers(2, 25))
    n_labels = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 5), min_size=n_groups, max_size=n_groups))
    n = sum(sizes)
    flat = draw(st.lists(st.integers(0, 1), min_size=n * n_labels, max_size=n * n_labels))
    perm = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(n)
    groups = np.repeat(np.arange(n_groups), sizes)[perm]
    return np.array(flat).reshape(n, n_labels), groups, draw(st.integers(2, n_groups))


@settings(max_examples=60, deadline=None)
@given(data=grouped_multilabels(), shuffle=st.booleans(), seed=st.integers(0, 1000))
def test_folds_partition_samples_and_never_split_a_group(data, shuffle, seed):
    y, groups, n_splits = data
    cv = MultilabelStratifiedGroupKFold(n_splits, shuffle=shuffle,
                                        random_state=seed if shuffle else None)  # fmt: skip
    X = np.zeros((len(groups), 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare labels are expected here
        splits = list(cv.split(X, y, groups))
        again = list(cv.split(X, y, groups))
    assert len(splits) == cv.get_n_splits() == n_splits
    seen = np.zeros(len(groups), dtype=int)
    for (train, test), (train2, test2) in zip(splits, again, strict=True):
        np.testing.assert_array_equal(train, train2)
        assert test.size > 0  # no empty fold
        assert np.intersect1d(groups[train], groups[test]).size == 0
        np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(len(groups)))
        np.testing.assert_array_equal(test, test2)  # same seed, same folds
        seen[test] += 1
    np.testing.assert_array_equal(seen, 1)


@pytest.mark.parametrize("n_splits", [3, 5])
def test_every_label_is_better_balanced_than_the_powerset_and_group_kfold(n_splits):
    ours_all, powerset_all, group_all = [], [], []
    for seed in range(6):
        y, groups = multilabel_cohort(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # rare label combinations
            ours = label_deviation(fold_of(MultilabelStratifiedGroupKFold(n_splits), y, groups), y)
            power = label_deviation(fold_of(StratifiedGroupKFold(n_splits), powerset(y), groups), y)
        plain = label_deviation(fold_of(GroupKFold(n_splits), powerset(y), groups), y)
        assert ours.max() <= power.max() and ours.max() <= plain.max()
        ours_all.append(ours.mean())
        powerset_all.append(power.mean())
        group_all.append(plain.mean())
    # on average several times closer to the overall prevalence than either
    assert np.mean(ours_all) * 3 < np.mean(powerset_all) < np.mean(group_all)


def test_fold_sizes_stay_even():
    y, groups = multilabel_cohort(0, n_groups=1000)
    fold = fold_of(MultilabelStratifiedGroupKFold(5), y, groups)
    sizes = np.bincount(fold)
    assert sizes.max() - sizes.min() <= np.bincount(groups).max()


def test_shuffle_varies_the_folds_and_keeps_the_balance():
    y, groups = multilabel_cohort(1)
    partitions, deviations = set(), []
    for seed in range(5):
        fold = fold_of(
            MultilabelStratifiedGroupKFold(4, shuffle=True, random_state=seed), y, groups
        )
        partitions.add(frozenset(frozenset(groups[fold == i]) for i in range(4)))
        deviations.append(label_deviation(fold, y).max())
    plain = label_deviation(fold_of(MultilabelStratifiedGroupKFold(4), y, groups), y).max()
    assert len(partitions) == 5
    assert max(deviations) < 2 * plain + 0.01


def test_dataframe_sparse_and_boolean_labels_give_the_same_folds():
    y, groups = multilabel_cohort(2, n_groups=60, n_labels=3)
    reference = fold_of(MultilabelStratifiedGroupKFold(3), y, groups)
    for other in (pd.DataFrame(y, columns=["effusion", "nodule", "edema"]),
                  sp.csr_matrix(y), y.astype(bool), y.astype(float)):  # fmt: skip
        np.testing.assert_array_equal(fold_of(MultilabelStratifiedGroupKFold(3), other, groups),
                                      reference)  # fmt: skip


def test_a_label_never_positive_is_ignored():
    y, groups = multilabel_cohort(3, n_groups=60, n_labels=3)
    with_empty = np.c_[y, np.zeros(len(groups), dtype=int)]
    np.testing.assert_array_equal(
        fold_of(MultilabelStratifiedGroupKFold(3), with_empty, groups),
        fold_of(MultilabelStratifiedGroupKFold(3), y, groups),
    )


def test_warns_when_a_label_is_positive_in_fewer_groups_than_folds():
    groups = np.repeat(np.arange(6), 2)
    y = np.zeros((12, 2), dtype=int)
    y[::2, 0] = 1
    y[[0, 1], 1] = 1  # label 'rare' only in group 0
    frame = pd.DataFrame(y, columns=["common", "rare"])
    msg = re.escape(
        "1 label(s) of y are positive in fewer groups than n_splits=3 (label (groups): "
        "'rare' (1)); some test folds will contain no positive of them."
    )
    with pytest.warns(UserWarning, match=msg):
        list(MultilabelStratifiedGroupKFold(3).split(frame, frame, groups))


@pytest.mark.parametrize(
    ("y", "groups", "msg"),
    [
        (None, [1, 2, 3, 4], "MultilabelStratifiedGroupKFold stratifies on the labels: y is "
         "required"),
        ([0, 1, 0, 1], [1, 2, 3, 4], "y must be 2-D, one column per label (n_samples, n_labels); "
         "got shape (4,). For one class label per sample use StratifiedGroupKFold."),
        ([[0, 1]] * 3, [1, 2, 3, 4], "y has 3 rows but X has 4 samples"),
        ([[0, 1], [1, np.nan], [0, 0], [1, 1]], [1, 2, 3, 4],
         "y has missing values in 1 row(s) (at positions 1); label those samples or drop them."),
        ([[0, 2], [1, 0], [0, 0], [1, 1]], [1, 2, 3, 4],
         "y must hold 0/1 (or True/False) label indicators; got the value(s) 2."),
        ([["a", "b"]] * 4, [1, 2, 3, 4], "y must hold 0/1 (or True/False) label indicators; got "
         "dtype <U1."),
        ([[0, 1]] * 4, [1, 1, 2, 2], "n_splits=3 is greater than the number of groups (2); use "
         "n_splits <= 2."),
        ([[0, 1]] * 4, None, "The 'groups' parameter should not be None"),
    ],
)  # fmt: skip
def test_split_errors(y, groups, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        next(MultilabelStratifiedGroupKFold(3).split(np.zeros((4, 1)), y, groups))


def test_constructor_errors_and_repr():
    with pytest.raises(ValueError, match=re.escape("n_splits=1 is less than 2")):
        MultilabelStratifiedGroupKFold(1)
    with pytest.raises(ValueError, match=re.escape("random_state=0 has no effect because")):
        MultilabelStratifiedGroupKFold(3, random_state=0)
    assert repr(MultilabelStratifiedGroupKFold(3, shuffle=True, random_state=1)) == (
        "MultilabelStratifiedGroupKFold(n_splits=3, random_state=1, shuffle=True)"
    )
    requests = MultilabelStratifiedGroupKFold()._get_metadata_request().split.requests
    assert requests == {"groups": True}


@pytest.mark.parametrize("routing", [False, True])
def test_works_in_cross_validate_and_grid_search(routing):
    y, groups = multilabel_cohort(4, n_groups=60, n_labels=3)
    X = y + np.random.default_rng(0).normal(0, 1, y.shape)
    cv = MultilabelStratifiedGroupKFold(3)
    with sklearn.config_context(enable_metadata_routing=routing):
        kwargs = {"params": {"groups": groups}} if routing else {"groups": groups}
        result = cross_validate(KNeighborsClassifier(), X, y, cv=cv, return_indices=True,
                                **kwargs)  # fmt: skip
        for train, test in zip(result["indices"]["train"], result["indices"]["test"], strict=True):
            assert np.intersect1d(groups[train], groups[test]).size == 0
        search = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [3, 5]}, cv=cv)
        search.fit(X, y, groups=groups)
        assert search.n_splits_ == 3
