"""StratifiedGroupKFold and RepeatedStratifiedGroupKFold: invariants, balance, errors, sklearn API."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, check_cv, cross_val_predict, cross_validate
from sklearn.model_selection import StratifiedGroupKFold as SklearnStratifiedGroupKFold

from pitfalls.model_selection import RepeatedStratifiedGroupKFold, StratifiedGroupKFold


def balance_deviation(fold: np.ndarray, y: np.ndarray) -> float:
    """max over folds and classes of |class share in fold - class share overall|."""
    classes, y_codes = np.unique(y, return_inverse=True)
    table = np.zeros((fold.max() + 1, classes.size))
    np.add.at(table, (fold, y_codes), 1)
    share = table / table.sum(axis=1, keepdims=True)
    return float(np.abs(share - table.sum(axis=0) / y.size).max())


def fold_of(cv, X, y, groups) -> np.ndarray:
    fold = np.full(len(y), -1)
    for i, (_, test) in enumerate(cv.split(X, y, groups)):
        fold[test] = i
    return fold


def cohort(seed: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Random grouped labels: one label per patient, mixed labels, or heavy-tailed sizes."""
    rng = np.random.default_rng(seed)
    n_groups, n_classes = int(rng.integers(30, 200)), int(rng.integers(2, 5))
    sizes = 1 + rng.poisson(rng.uniform(0, 12), n_groups)
    if kind == "heavy":
        sizes = 1 + (rng.pareto(1.5, n_groups) * 3).astype(int)
    patient_class = rng.choice(n_classes, n_groups, p=rng.dirichlet(np.full(n_classes, 2.0)))
    y = np.repeat(patient_class, sizes)
    if kind != "patient":
        relabel = rng.random(y.size) < 0.3
        y[relabel] = rng.choice(n_classes, int(relabel.sum()))
    return y, np.repeat(np.arange(n_groups), sizes)


@st.composite
def grouped_labels(draw):
    n_groups = draw(st.integers(2, 25))
    sizes = draw(st.lists(st.integers(1, 6), min_size=n_groups, max_size=n_groups))
    n_samples = sum(sizes)
    y = draw(st.lists(st.integers(0, 2), min_size=n_samples, max_size=n_samples))
    groups = np.repeat(np.arange(n_groups), sizes)
    # scramble the sample order: groups need not be contiguous
    perm = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(n_samples)
    n_splits = draw(st.integers(2, n_groups))
    return np.asarray(y)[perm], groups[perm] * 7 + 3, n_splits


@settings(max_examples=50, deadline=None)
@given(data=grouped_labels(), shuffle=st.booleans(), seed=st.integers(0, 1000))
def test_folds_partition_samples_and_never_split_a_group(data, shuffle, seed):
    y, groups, n_splits = data
    cv = StratifiedGroupKFold(n_splits, shuffle=shuffle, random_state=seed if shuffle else None)
    X = np.zeros((y.size, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare classes are expected here
        splits = list(cv.split(X, y, groups))
        again = list(cv.split(X, y, groups))
    assert len(splits) == cv.get_n_splits(X, y, groups) == n_splits
    seen = np.zeros(y.size, dtype=int)
    for (train, test), (train2, test2) in zip(splits, again, strict=True):
        assert test.size > 0
        assert np.intersect1d(groups[train], groups[test]).size == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(y.size))
        np.testing.assert_array_equal(test, test2)  # same random_state, same split
        np.testing.assert_array_equal(train, train2)
        seen[test] += 1
    np.testing.assert_array_equal(seen, 1)


@pytest.mark.parametrize("kind", ["patient", "mixed", "heavy"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_balance_at_least_as_good_as_sklearn(kind, shuffle):
    worse = []
    ours_all, theirs_all = [], []
    for seed in range(8):
        y, groups = cohort(seed, kind)
        n_splits = 2 + seed % 4
        if np.bincount(np.unique(np.c_[groups, y], axis=0)[:, 1]).min() < n_splits:
            continue  # a class in fewer groups than folds cannot be stratified
        state = seed if shuffle else None
        ours = balance_deviation(
            fold_of(
                StratifiedGroupKFold(n_splits, shuffle=shuffle, random_state=state), y, y, groups
            ),
            y,
        )
        theirs = balance_deviation(
            fold_of(
                SklearnStratifiedGroupKFold(n_splits, shuffle=shuffle, random_state=state),
                y,
                y,
                groups,
            ),
            y,
        )
        ours_all.append(ours)
        theirs_all.append(theirs)
        worse.append(ours - theirs)
    assert len(worse) >= 4
    # never more than a hair worse on a single data set, and better on average
    assert max(worse) <= 0.005
    assert np.mean(ours_all) <= np.mean(theirs_all)


def test_balance_and_fold_sizes_on_many_small_groups():
    y, groups = cohort(3, "mixed")
    y = np.tile(y, 20)
    groups = np.concatenate([groups + i * 1000 for i in range(20)])
    fold = StratifiedGroupKFold(5).fold_of_samples(y, y, groups)
    sizes = np.bincount(fold)
    largest_group = np.bincount(groups).max()
    assert sizes.max() - sizes.min() <= largest_group
    assert balance_deviation(fold, y) < 0.005


def test_shuffle_varies_the_partition_but_keeps_the_balance():
    y, groups = cohort(1, "mixed")
    partitions = set()
    for seed in range(6):
        fold = StratifiedGroupKFold(4, shuffle=True, random_state=seed).fold_of_samples(
            y, y, groups
        )
        # a partition is the set of test-fold group sets, whatever their order
        partitions.add(frozenset(frozenset(groups[fold == i]) for i in range(4)))
        reference = SklearnStratifiedGroupKFold(4, shuffle=True, random_state=seed)
        assert (
            balance_deviation(fold, y)
            <= balance_deviation(fold_of(reference, y, y, groups), y) + 0.005
        )
    assert len(partitions) == 6


def test_shuffle_varies_groups_with_distinct_sizes():
    # every group has its own size, so no two groups are interchangeable
    sizes = np.arange(1, 41)
    groups = np.repeat(np.arange(40), sizes)
    y = np.repeat(np.arange(40) % 2, sizes)
    folds = {
        tuple(StratifiedGroupKFold(3, shuffle=True, random_state=s).fold_of_samples(y, y, groups))
        for s in range(5)
    }
    assert len(folds) > 1


def test_unshuffled_split_is_deterministic_and_accepts_strings_and_pandas():
    y, groups = cohort(2, "patient")
    labels = np.array(["benign", "malignant", "normal", "other"])[y]
    patients = pd.Series([f"patient-{g}" for g in groups])
    X = pd.DataFrame({"f": np.arange(y.size)})
    first = [test for _, test in StratifiedGroupKFold(3).split(X, pd.Series(labels), patients)]
    second = [test for _, test in StratifiedGroupKFold(3).split(X, labels, patients.to_numpy())]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_column_vector_y_is_accepted():
    y = np.array([0, 1, 0, 1, 0, 1])
    groups = np.array([1, 1, 2, 2, 3, 3])
    fold_flat = StratifiedGroupKFold(3).fold_of_samples(y, y, groups)
    fold_col = StratifiedGroupKFold(3).fold_of_samples(y, y[:, None], groups)
    np.testing.assert_array_equal(fold_flat, fold_col)


def test_warns_when_a_class_lives_in_fewer_groups_than_folds():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    groups = np.array([1, 2, 3, 4, 5, 6, 7, 7])
    msg = re.escape(
        "The least populated class in y (1) is present in only 1 group(s), fewer than "
        "n_splits=3; some test folds will contain no sample of it."
    )
    with pytest.warns(UserWarning, match=msg):
        splits = list(StratifiedGroupKFold(3).split(y, y, groups))
    assert len(splits) == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "msg"),
    [
        ({"n_splits": 1}, ValueError, "n_splits=1 is less than 2; use n_splits >= 2"),
        ({"n_splits": 2.5}, ValueError, "n_splits must be an integer >= 2; got 2.5 of type float."),
        ({"n_splits": True}, ValueError, "n_splits must be an integer >= 2; got True"),
        ({"shuffle": "yes"}, TypeError, "shuffle must be True or False; got 'yes'."),
        (
            {"random_state": 0},
            ValueError,
            "random_state=0 has no effect because shuffle=False; leave random_state=None "
            "or set shuffle=True.",
        ),
    ],
)
def test_constructor_errors(kwargs, error, msg):
    with pytest.raises(error, match=re.escape(msg)):
        StratifiedGroupKFold(**kwargs)


@pytest.mark.parametrize(
    ("y", "groups", "msg"),
    [
        (
            [0, 1, 0, 1],
            [1, 1, 2, 2],
            "n_splits=3 is greater than the number of groups (2); use n_splits <= 2.",
        ),
        ([0, 1, 0, 1], None, "The 'groups' parameter should not be None"),
        (
            [0, 1, 0, 1],
            ["a", None, "b", float("nan")],
            "groups has 2 missing value(s) (at positions 1, 3)",
        ),
        ([0, 1, 0, 1], [1, 2, 3], "groups has 3 entries but X has 4 samples"),
        (None, [1, 2, 3, 4], "StratifiedGroupKFold stratifies on the class labels: y is required"),
        ([0, 1, 0], [1, 2, 3, 4], "y has 3 entries but X has 4 samples"),
        (
            [0, 1, float("nan"), 1],
            [1, 2, 3, 4],
            "y has 1 missing value(s) (at positions 2); label those samples or drop them.",
        ),
        (
            [0.5, 1.5, 2.25, 3.0],
            [1, 2, 3, 4],
            "StratifiedGroupKFold needs binary or multiclass y; got 'continuous' targets.",
        ),
    ],
)
def test_split_errors(y, groups, msg):
    X = np.zeros((4, 1))
    with pytest.raises(ValueError, match=re.escape(msg)):
        next(StratifiedGroupKFold(3).split(X, y, groups))


def test_metadata_request_asks_for_groups():
    requests = StratifiedGroupKFold()._get_metadata_request().split.requests
    assert requests == {"groups": True}
    repeated = RepeatedStratifiedGroupKFold()._get_metadata_request().split.requests
    assert repeated == {"groups": True}


def test_repr_and_check_cv():
    cv = StratifiedGroupKFold(4, shuffle=True, random_state=1)
    assert repr(cv) == "StratifiedGroupKFold(n_splits=4, random_state=1, shuffle=True)"
    assert check_cv(cv) is cv
    assert (
        repr(RepeatedStratifiedGroupKFold(n_splits=3, n_repeats=2, random_state=0))
        == "RepeatedStratifiedGroupKFold(n_repeats=2, n_splits=3, random_state=0)"
    )


@pytest.fixture
def small_problem():
    rng = np.random.RandomState(0)
    groups = np.repeat(np.arange(24), 3)
    y = np.repeat(np.arange(24) % 2, 3)
    X = rng.randn(groups.size, 2) + y[:, None]
    return X, y, groups


def assert_test_folds_respect_groups(cv, X, y, groups, predictions):
    for train, test in cv.split(X, y, groups):
        assert np.intersect1d(groups[train], groups[test]).size == 0
    assert predictions.shape == y.shape


@pytest.mark.parametrize("routing", [False, True])
@pytest.mark.parametrize(
    "cv",
    [
        StratifiedGroupKFold(3),
        StratifiedGroupKFold(4, shuffle=True, random_state=0),
        RepeatedStratifiedGroupKFold(n_splits=3, n_repeats=2, random_state=0),
    ],
    ids=["plain", "shuffled", "repeated"],
)
def test_works_in_cross_validate_and_grid_search(small_problem, cv, routing):
    X, y, groups = small_problem
    expected_fits = cv.get_n_splits()
    with sklearn.config_context(enable_metadata_routing=routing):
        # with routing on, groups travel in params= and the splitter requests them
        fit_kwargs = {"params": {"groups": groups}} if routing else {"groups": groups}
        scores = cross_validate(LogisticRegression(), X, y, cv=cv, **fit_kwargs)
        assert scores["test_score"].shape == (expected_fits,)
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=cv)
        search.fit(X, y, groups=groups)
        assert search.cv_results_["split0_test_score"].shape == (2,)
        assert search.n_splits_ == expected_fits


@pytest.mark.parametrize("routing", [False, True])
def test_works_in_cross_val_predict(small_problem, routing):
    X, y, groups = small_problem
    cv = StratifiedGroupKFold(3)
    with sklearn.config_context(enable_metadata_routing=routing):
        fit_kwargs = {"params": {"groups": groups}} if routing else {"groups": groups}
        predictions = cross_val_predict(LogisticRegression(), X, y, cv=cv, **fit_kwargs)
    assert_test_folds_respect_groups(cv, X, y, groups, predictions)
    # each prediction comes from the model that did not see the sample's patient
    fold = cv.fold_of_samples(X, y, groups)
    for i in range(3):
        model = LogisticRegression().fit(X[fold != i], y[fold != i])
        np.testing.assert_array_equal(predictions[fold == i], model.predict(X[fold == i]))


def test_routing_without_groups_fails_loudly(small_problem):
    X, y, _ = small_problem
    with (
        sklearn.config_context(enable_metadata_routing=True),
        pytest.raises(ValueError, match="groups"),
    ):
        cross_validate(LogisticRegression(), X, y, cv=StratifiedGroupKFold(3))


def test_repeated_splits_partition_each_repeat_and_differ_between_repeats():
    y, groups = cohort(4, "mixed")
    cv = RepeatedStratifiedGroupKFold(n_splits=3, n_repeats=4, random_state=7)
    splits = list(cv.split(y, y, groups))
    assert len(splits) == cv.get_n_splits() == 12
    partitions = []
    for r in range(4):
        repeat = splits[3 * r : 3 * r + 3]
        counts = np.zeros(y.size, dtype=int)
        for train, test in repeat:
            assert np.intersect1d(groups[train], groups[test]).size == 0
            counts[test] += 1
        np.testing.assert_array_equal(counts, 1)
        partitions.append(frozenset(frozenset(groups[test]) for _, test in repeat))
    assert len(set(partitions)) == 4
    again = list(cv.split(y, y, groups))
    for (_, a), (_, b) in zip(splits, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_repeated_equals_shuffled_single_splitters_driven_by_one_random_state():
    y, groups = cohort(5, "patient")
    repeated = [
        test
        for _, test in RepeatedStratifiedGroupKFold(n_splits=2, n_repeats=2, random_state=3).split(
            y, y, groups
        )
    ]
    rng = np.random.RandomState(3)
    expected = [
        test
        for _ in range(2)
        for _, test in StratifiedGroupKFold(2, shuffle=True, random_state=rng).split(y, y, groups)
    ]
    for a, b in zip(repeated, expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"n_repeats": 0}, "n_repeats=0 is less than 1; use n_repeats >= 1."),
        ({"n_repeats": 1.5}, "n_repeats must be an integer >= 1; got 1.5 of type float."),
        ({"n_splits": 1}, "n_splits=1 is less than 2"),
    ],
)
def test_repeated_constructor_errors(kwargs, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        RepeatedStratifiedGroupKFold(**kwargs)


def test_repeated_checks_groups():
    with pytest.raises(ValueError, match="n_splits=5 is greater than the number of groups"):
        next(RepeatedStratifiedGroupKFold().split(np.zeros(4), [0, 1, 0, 1], [1, 1, 2, 2]))


# --- scikit-learn's own StratifiedGroupKFold test cases, run against ours ---------------


def test_sklearn_case_trivial_groups_with_the_same_distribution():
    y = np.array([1] * 6 + [0] * 12)
    groups = np.asarray((1, 2, 3, 4, 5, 6, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6))
    distr = np.bincount(y) / len(y)
    test_sizes = []
    for train, test in StratifiedGroupKFold(3).split(y, y, groups):
        assert np.intersect1d(groups[train], groups[test]).size == 0
        np.testing.assert_allclose(np.bincount(y[train]) / len(train), distr, atol=0.02)
        np.testing.assert_allclose(np.bincount(y[test]) / len(test), distr, atol=0.02)
        test_sizes.append(len(test))
    assert np.ptp(test_sizes) <= 1


def test_sklearn_case_approximate_is_perfectly_stratified_here():
    # scikit-learn's test accepts folds of 83/17, 67/33 and 50/50 % here "because of
    # iteration over groups"; a perfect 67/33 partition exists and we find it.
    y = np.array([1] * 6 + [0] * 12)
    groups = np.array([1, 2, 3, 3, 4, 4, 1, 1, 2, 2, 3, 4, 5, 5, 5, 6, 6, 6])
    for train, test in StratifiedGroupKFold(3).split(y, y, groups):
        assert np.intersect1d(groups[train], groups[test]).size == 0
        np.testing.assert_allclose(np.bincount(y[test]) / len(test), [2 / 3, 1 / 3])
    theirs = fold_of(SklearnStratifiedGroupKFold(3), y, y, groups)
    assert balance_deviation(theirs, y) > 0.1


@pytest.mark.parametrize(
    ("y", "groups", "expected"),
    [
        (np.array([0] * 6 + [1] * 6), np.repeat(np.arange(1, 7), 2), [0.5, 0.5]),
        (
            np.array([0] * 9 + [1] * 3),
            np.array([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 5, 6]),
            [0.75, 0.25],
        ),
    ],
)
def test_sklearn_case_homogeneous_groups(y, groups, expected):
    for train, test in StratifiedGroupKFold(3).split(y, y, groups):
        assert np.intersect1d(groups[train], groups[test]).size == 0
        np.testing.assert_allclose(np.bincount(y[test]) / len(test), expected)


def test_sklearn_case_shuffle_preserves_stratification():
    # scikit-learn #32478: shuffling must not break an achievable perfect stratification
    y = np.array([0] * 12 + [1] * 6)
    groups = np.array([1, 1, 3, 3, 3, 4, 5, 5, 5, 5, 7, 7, 2, 2, 6, 6, 8, 8])
    partitions = set()
    for seed in range(30):
        cv = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=seed)
        sizes = []
        for train, test in cv.split(y, y, groups):
            assert np.intersect1d(groups[train], groups[test]).size == 0
            np.testing.assert_allclose(np.bincount(y[test]) / len(test), [2 / 3, 1 / 3])
            np.testing.assert_allclose(np.bincount(y[train]) / len(train), [2 / 3, 1 / 3])
            sizes.append(len(test))
        assert np.ptp(sizes) <= 1
        partitions.add(frozenset(frozenset(groups[test]) for _, test in cv.split(y, y, groups)))
    assert len(partitions) > 1  # and the shuffle does change the partition


@pytest.mark.parametrize("cls_distr", [(0.4, 0.6), (0.2, 0.8)])
@pytest.mark.parametrize("n_groups", [5, 30, 70])
def test_sklearn_case_better_stratified_than_group_kfold(cls_distr, n_groups):
    from scipy import stats
    from sklearn.model_selection import GroupKFold

    rng = np.random.RandomState(0)
    y = rng.choice(2, size=1000, p=cls_distr)
    g = rng.choice(n_groups, 1000)
    ours = fold_of(StratifiedGroupKFold(5), y, y, g)
    theirs = fold_of(GroupKFold(5), y, y, g)

    def mean_entropy(fold):
        return np.mean(
            [
                stats.entropy(np.bincount(y[fold == i]) / (fold == i).sum(), cls_distr)
                for i in range(5)
            ]
        )

    assert mean_entropy(ours) <= mean_entropy(theirs)


# ------------------------------------------------------------------ sites= (issue 14)


def site_cohort(seed: int):
    """Patients at one of four sites of very different sizes, labels independent of site."""
    rng = np.random.default_rng(seed)
    n_groups = 120
    sizes = 1 + rng.poisson(2, n_groups)
    site_of_patient = rng.choice(4, n_groups, p=[0.55, 0.25, 0.15, 0.05])
    groups = np.repeat(np.arange(n_groups), sizes)
    y = np.repeat(rng.integers(0, 2, n_groups), sizes)
    return y, groups, np.array(["big", "mid", "small", "tiny"])[site_of_patient][groups]


@pytest.mark.parametrize("seed", range(4))
def test_sites_balances_sites_across_folds_without_losing_the_classes(seed):
    y, groups, sites = site_cohort(seed)
    plain = StratifiedGroupKFold(4).fold_of_samples(y, y, groups)
    by_site = StratifiedGroupKFold(4, sites=sites).fold_of_samples(y, y, groups)
    site_codes = np.unique(sites, return_inverse=True)[1]
    assert balance_deviation(by_site, site_codes) < balance_deviation(plain, site_codes)
    assert balance_deviation(by_site, site_codes) < 0.05
    assert balance_deviation(by_site, y) < 0.05
    for i in range(4):  # every site, even the tiny one, is tested in every fold
        assert set(sites[by_site == i]) == set(sites)
        assert np.intersect1d(groups[by_site == i], groups[by_site != i]).size == 0


def test_sites_are_checked_and_shown_short():
    with pytest.raises(
        ValueError, match=re.escape("sites has 1 missing value(s) (at positions 1)")
    ):
        StratifiedGroupKFold(2, sites=["a", None])
    cv = StratifiedGroupKFold(2, sites=["a", "b", "a"])
    with pytest.raises(ValueError, match=re.escape("sites has 3 entries but X has 4 samples")):
        cv.fold_of_samples(np.zeros(4), [0, 1, 0, 1], [1, 2, 3, 4])
    assert repr(cv) == (
        "StratifiedGroupKFold(n_splits=2, random_state=None, shuffle=False, "
        "sites=<3 samples at 2 sites>)"
    )
    repeated = RepeatedStratifiedGroupKFold(n_splits=2, n_repeats=2, random_state=0, sites=["a"])
    assert repr(repeated).endswith("sites=<1 samples at 1 sites>)")


def test_repeated_passes_sites_to_every_repeat():
    y, groups, sites = site_cohort(0)
    repeated = RepeatedStratifiedGroupKFold(n_splits=4, n_repeats=3, random_state=5, sites=sites)
    rng = np.random.RandomState(5)
    expected = [
        test
        for _ in range(3)
        for _, test in StratifiedGroupKFold(4, shuffle=True, random_state=rng, sites=sites).split(
            y, y, groups
        )
    ]
    got = [test for _, test in repeated.split(y, y, groups)]
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_many_classes_do_not_overflow_the_row_key():
    # 600 classes (a label powerset): the mixed-radix key of the count rows would
    # overflow; the splitter falls back to comparing rows, silently (was RuntimeWarning)
    groups = np.repeat(np.arange(3000), 8)
    y = np.repeat(np.arange(3000) % 600, 8)  # 9 ** 600 row keys: beyond float64
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # classes in fewer groups than folds
        fold = StratifiedGroupKFold(5).fold_of_samples(y, y, groups)
    assert np.bincount(fold).min() > 0
    assert all(np.unique(fold[groups == g]).size == 1 for g in range(0, 3000, 97))
