"""LeaveOneSiteOut and LeavePSitesOut: invariants, scikit-learn's LeaveOneGroupOut as oracle, errors."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    LeaveOneGroupOut,
    LeavePGroupsOut,
    cross_val_predict,
    cross_validate,
)

from pitfalls.exceptions import GroupLeakageError, LeakageWarning
from pitfalls.model_selection import LeaveOneSiteOut, LeavePSitesOut, nested_cross_validate


@st.composite
def multisite(draw, min_sites=2):
    """Patients at one site each (2-5 sites), 1-4 samples per patient, scrambled order."""
    n_sites = draw(st.integers(min_sites, 5))
    n_patients = draw(st.integers(n_sites, 30))
    # every site gets at least one patient, the rest anywhere
    extra = draw(st.lists(st.integers(0, n_sites - 1), min_size=n_patients - n_sites,
                          max_size=n_patients - n_sites))  # fmt: skip
    site_of_patient = np.array(list(range(n_sites)) + extra)
    sizes = np.array(draw(st.lists(st.integers(1, 4), min_size=n_patients, max_size=n_patients)))
    perm = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(sizes.sum())
    groups = np.repeat(np.arange(n_patients), sizes)[perm]
    sites = np.array(["hospital-A", "hospital-B", "clinic-C", "7", "007"])[site_of_patient][groups]
    return sites, np.array([f"p{g:03d}" for g in groups])


@settings(max_examples=60, deadline=None)
@given(data=multisite())
def test_leave_one_site_out_tests_each_site_once_and_matches_sklearn(data):
    sites, groups = data
    X = np.zeros((sites.size, 1))
    cv = LeaveOneSiteOut(sites)
    folds = list(cv.split(X, None, groups))
    assert len(folds) == cv.get_n_splits(X, None, groups) == np.unique(sites).size
    tested = np.zeros(sites.size, dtype=int)
    for train, test in folds:
        assert np.unique(sites[test]).size == 1  # one whole site per fold
        assert not np.isin(sites[train], sites[test]).any()
        assert np.intersect1d(groups[train], groups[test]).size == 0  # patients never cross
        np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(sites.size))
        tested[test] += 1
    np.testing.assert_array_equal(tested, 1)  # test folds partition the samples
    # the oracle: scikit-learn's LeaveOneGroupOut with the sites as groups
    for (train, test), (ref_train, ref_test) in zip(
        folds, LeaveOneGroupOut().split(X, None, sites), strict=True
    ):
        np.testing.assert_array_equal(test, ref_test)
        np.testing.assert_array_equal(train, ref_train)
    again = list(cv.split(X, None, groups))  # deterministic: same folds every call
    for (a, b), (c, d) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@settings(max_examples=40, deadline=None)
@given(data=multisite(min_sites=3), p=st.integers(1, 2))
def test_leave_p_sites_out_tests_every_combination(data, p):
    sites, groups = data
    n_sites = np.unique(sites).size
    cv = LeavePSitesOut(sites, n_sites=p)
    folds = list(cv.split(None, None, groups))
    assert len(folds) == cv.get_n_splits(groups=groups) == math.comb(n_sites, p)
    tested = np.zeros(sites.size, dtype=int)
    for train, test in folds:
        assert np.unique(sites[test]).size == p
        assert np.intersect1d(groups[train], groups[test]).size == 0
        tested[test] += 1
    np.testing.assert_array_equal(tested, math.comb(n_sites - 1, p - 1))
    reference = LeavePGroupsOut(n_groups=p).split(sites, None, sites)
    for (train, test), (ref_train, ref_test) in zip(folds, reference, strict=True):
        np.testing.assert_array_equal(test, ref_test)
        np.testing.assert_array_equal(train, ref_train)


def test_min_site_size_counts_patients_and_keeps_small_sites_in_training():
    sites = np.array(["A"] * 6 + ["B"] * 6 + ["C"] * 4)
    # site C: 4 samples of 1 patient; A and B: 3 patients each
    groups = np.array(["a1", "a1", "a2", "a2", "a3", "a3", "b1", "b1", "b2", "b2", "b3", "b3",
                       "c1", "c1", "c1", "c1"])  # fmt: skip
    cv = LeaveOneSiteOut(sites, min_site_size=2)
    folds = list(cv.split(groups=groups))
    assert [np.unique(sites[test]).tolist() for _, test in folds] == [["A"], ["B"]]
    assert cv.get_n_splits(groups=groups) == 2
    for train, _ in folds:
        assert set(np.flatnonzero(sites == "C")) <= set(train)
    # without groups every sample is its own patient: C has 4, enough
    assert cv.get_n_splits() == 3
    # counted in samples, only A and B (6 each) reach 5
    single = LeaveOneSiteOut(sites, min_site_size=5)
    assert [test.tolist() for _, test in single.split()] == [list(range(6)), list(range(6, 12))]


def test_patient_at_two_sites_is_an_error_naming_the_patient():
    sites = np.array(["A", "A", "B", "B", "C"])
    groups = np.array(["p1", "p2", "p2", "p3", "p4"])
    cv = LeaveOneSiteOut(sites)
    with pytest.raises(GroupLeakageError, match=r"1 patient\(s\) have samples at more than one "
                       r"site: 'p2'\. .*pass on_conflict='drop'") as info:  # fmt: skip
        next(cv.split(groups=groups))
    assert info.value.shared_groups == ["p2"]


def test_on_conflict_drop_leaves_the_patient_out_of_training_with_a_warning():
    sites = np.array(["A", "A", "B", "B", "C", "C"])
    groups = np.array(["p1", "p2", "p2", "p3", "p4", "p5"])
    cv = LeaveOneSiteOut(sites, on_conflict="drop")
    with pytest.warns(LeakageWarning, match=r"1 patient\(s\) have samples at more than one site "
                      r"\('p2'\); with on_conflict='drop'"):  # fmt: skip
        folds = list(cv.split(groups=groups))
    by_site = {sites[test][0]: (train.tolist(), test.tolist()) for train, test in folds}
    assert by_site["A"] == ([3, 4, 5], [0, 1])  # p2's sample at B does not train
    assert by_site["B"] == ([0, 4, 5], [2, 3])  # nor its sample at A
    assert by_site["C"] == ([0, 1, 2, 3], [4, 5])  # a fold that does not test p2 keeps it
    for train, test in folds:
        assert np.intersect1d(groups[train], groups[test]).size == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cv.get_n_splits(groups=groups) == 3  # counting folds does not warn


@pytest.mark.parametrize(
    ("make", "msg"),
    [
        (lambda: next(LeaveOneSiteOut(["A", "A"]).split()),
         "sites has 1 distinct site ('A'); holding out a site needs at least 2 sites"),
        (lambda: LeaveOneSiteOut(["A", None, "B"]),
         "sites has 1 missing value(s) (at positions 1)"),
        (lambda: LeaveOneSiteOut(["A", "B"], on_conflict="ignore"),
         "on_conflict='ignore' is not one of 'raise', 'drop'"),
        (lambda: LeaveOneSiteOut(["A", "B"], min_site_size=0),
         "min_site_size=0 is less than 1; use min_site_size >= 1."),
        (lambda: LeaveOneSiteOut(["A", "B"], min_site_size=2.5),
         "min_site_size must be an integer >= 1; got 2.5 of type float."),
        (lambda: LeavePSitesOut(["A", "B"], n_sites=0),
         "n_sites must be an integer >= 1; got 0."),
        (lambda: LeavePSitesOut(["A", "B", "C"], n_sites=3).get_n_splits(),
         "n_sites=3 leaves no site to train on: sites has 3 distinct sites; use n_sites <= 2."),
        (lambda: next(LeaveOneSiteOut(["A", "B", "B"], min_site_size=3).split()),
         "min_site_size=3 leaves 0 site(s) large enough to test on, fewer than the 1 held out "
         "per fold (samples per site: 'B': 2, 'A': 1); lower min_site_size."),
        (lambda: next(LeaveOneSiteOut(["A", "B", "B"]).split(np.zeros((4, 1)))),
         "sites has 3 entries but X has 4 samples: LeaveOneSiteOut(sites) belongs to the data "
         "set whose order sites follows"),
        (lambda: next(LeaveOneSiteOut(["A", "B", "B"]).split(groups=["p1", "p2"])),
         "groups has 2 entries but X has 3 samples"),
    ],
)  # fmt: skip
def test_impossible_requests_are_clear_errors(make, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        make()


def test_repr_metadata_request_and_sorted_site_order():
    sites = np.array(["b", "a", "c", "a"])
    cv = LeaveOneSiteOut(sites)
    assert repr(cv) == (
        "LeaveOneSiteOut(min_site_size=1, on_conflict='raise', sites=<4 samples at 3 sites>)"
    )
    assert repr(LeavePSitesOut(sites, 2)).startswith("LeavePSitesOut(min_site_size=1, n_sites=2")
    assert cv._get_metadata_request().split.requests == {"groups": True}
    assert [sites[test][0] for _, test in cv.split()] == ["a", "b", "c"]
    mixed = LeaveOneSiteOut(np.array([2, "x", 2], dtype=object))  # no order: as they appear
    assert [test.tolist() for _, test in mixed.split()] == [[0, 2], [1]]


@pytest.fixture
def site_problem():
    rng = np.random.RandomState(0)
    groups = np.repeat(np.arange(30), 2)
    sites = np.array(["A", "B", "C"])[np.arange(30) % 3][groups]
    y = np.repeat(np.arange(30) // 3 % 2, 2)
    X = rng.randn(groups.size, 2) + y[:, None]
    return X, y, groups, sites


@pytest.mark.parametrize("routing", [False, True])
@pytest.mark.parametrize("splitter", ["one", "p"])
def test_works_in_cross_validate_grid_search_and_cross_val_predict(site_problem, routing, splitter):
    X, y, groups, sites = site_problem
    cv = LeaveOneSiteOut(sites) if splitter == "one" else LeavePSitesOut(sites, 2)
    with sklearn.config_context(enable_metadata_routing=routing):
        kwargs = {"params": {"groups": groups}} if routing else {"groups": groups}
        result = cross_validate(LogisticRegression(), X, y, cv=cv, return_indices=True, **kwargs)
        assert result["test_score"].shape == (3,)
        for train, test in zip(result["indices"]["train"], result["indices"]["test"], strict=True):
            assert np.intersect1d(groups[train], groups[test]).size == 0
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=cv)
        search.fit(X, y, groups=groups)
        assert search.n_splits_ == 3
    if splitter == "one":
        predictions = cross_val_predict(LogisticRegression(), X, y, cv=cv, groups=groups)
        for site in "ABC":
            at = sites == site
            model = LogisticRegression().fit(X[~at], y[~at])
            np.testing.assert_array_equal(predictions[at], model.predict(X[at]))


def test_patient_at_two_sites_fails_inside_cross_validate(site_problem):
    X, y, groups, sites = site_problem
    groups = groups.copy()
    groups[sites == "B"] = groups[0]  # every B sample becomes patient 0, seen at A
    with pytest.raises(GroupLeakageError, match="have samples at more than one site: 0"):
        cross_validate(LogisticRegression(), X, y, cv=LeaveOneSiteOut(sites), groups=groups)


def test_outer_loop_of_nested_cross_validate(site_problem):
    X, y, groups, sites = site_problem
    result = nested_cross_validate(
        LogisticRegression(), X, y, groups=groups, param_grid={"C": [0.1, 1.0]},
        outer_cv=LeaveOneSiteOut(sites), inner_cv=2, scoring="accuracy",
    )  # fmt: skip
    assert len(result["test_score"]) == 3
