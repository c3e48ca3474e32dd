"""GroupTimeSeriesSplit: forward chaining by patient, TimeSeriesSplit as oracle, errors."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_validate

from pitfalls.model_selection import GroupTimeSeriesSplit


@st.composite
def longitudinal(draw):
    """Patients with 1-4 exams at integer days (ties allowed), scrambled sample order."""
    n_patients = draw(st.integers(3, 30))
    sizes = np.array(draw(st.lists(st.integers(1, 4), min_size=n_patients, max_size=n_patients)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    groups = np.repeat(np.arange(n_patients), sizes)
    start = rng.integers(0, 200, n_patients)[groups]
    follow_up = np.where(rng.random(groups.size) < 0.5, 0, rng.integers(0, 60, groups.size))
    times = (start + follow_up).astype(float)
    perm = rng.permutation(groups.size)
    n_splits = draw(st.integers(2, n_patients - 1))
    gap = draw(st.sampled_from([0, 0, 5, 30]))
    return times[perm], np.array([f"p{g:02d}" for g in groups[perm]]), n_splits, gap


@settings(max_examples=80, deadline=None)
@given(data=longitudinal(), max_train=st.one_of(st.none(), st.integers(1, 10)))
def test_every_test_patient_starts_after_every_training_exam_plus_gap(data, max_train):
    times, groups, n_splits, gap = data
    cv = GroupTimeSeriesSplit(times, n_splits=n_splits, gap=gap, max_train_size=max_train)
    try:
        folds = list(cv.split(None, None, groups))
    except ValueError as error:  # a fold whose earlier patients all run into it
        assert "has no training patient" in str(error)
        return
    assert len(folds) == cv.get_n_splits() == n_splits
    tested = np.zeros(times.size, dtype=int)
    first = pd.Series(times).groupby(groups).min()
    for train, test in folds:
        assert train.size and test.size
        assert np.intersect1d(groups[train], groups[test]).size == 0  # patients never cross
        # a test patient's later exams stay with it: every exam of a test patient is tested
        assert np.isin(groups, groups[test]).sum() == test.size
        assert np.isin(groups, groups[train]).sum() == train.size
        assert first[np.unique(groups[test])].min() > times[train].max() + gap
        if max_train is not None:
            assert np.unique(groups[train]).size <= max_train
        tested[test] += 1
    assert tested.max() == 1  # test folds are disjoint
    again = list(cv.split(None, None, groups))
    for (a, b), (c, d) in zip(folds, again, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@settings(max_examples=60, deadline=None)
@given(
    n_samples=st.integers(3, 60),
    n_splits=st.integers(2, 10),
    gap=st.integers(0, 3),
    max_train=st.one_of(st.none(), st.integers(1, 20)),
)
def test_one_exam_per_patient_is_sklearns_time_series_split(n_samples, n_splits, gap, max_train):
    if n_splits >= n_samples:
        return
    times = np.arange(n_samples, dtype=float)
    ours = GroupTimeSeriesSplit(times, n_splits=n_splits, gap=gap, max_train_size=max_train)
    theirs = TimeSeriesSplit(n_splits=n_splits, gap=gap, max_train_size=max_train)
    try:
        reference = list(theirs.split(times))
    except ValueError:  # scikit-learn refuses too small a training set; we say why below
        return
    folds = list(ours.split(times, None, np.arange(n_samples)))
    for (train, test), (ref_train, ref_test) in zip(folds, reference, strict=True):
        np.testing.assert_array_equal(test, ref_test)
        np.testing.assert_array_equal(train, ref_train)


def test_purges_a_training_patient_whose_follow_up_reaches_the_test_block():
    times = np.array([1, 2, 3, 4, 5, 6, 7, 8])
    groups = np.array(["a", "b", "c", "d", "a", "e", "f", "g"])
    folds = list(GroupTimeSeriesSplit(times, n_splits=2).split(groups=groups))
    assert [sorted(set(groups[train])) for train, _ in folds] == [["b", "c"], list("abcde")]
    assert [sorted(set(groups[test])) for _, test in folds] == [["d", "e"], ["f", "g"]]


def test_patients_order_by_first_exam_whatever_the_row_order():
    times = np.array([10, 1, 12, 3, 5, 7, 9, 2])
    groups = np.array(["z", "y", "x", "w", "v", "u", "t", "y"])
    cv = GroupTimeSeriesSplit(times, n_splits=3)
    first = list(cv.split(groups=groups))
    perm = np.random.default_rng(0).permutation(times.size)
    permuted = list(GroupTimeSeriesSplit(times[perm], n_splits=3).split(groups=groups[perm]))
    for (train, test), (ptrain, ptest) in zip(first, permuted, strict=True):
        assert set(groups[test]) == set(groups[perm][ptest])
        assert set(groups[train]) == set(groups[perm][ptrain])


@pytest.mark.parametrize(
    "times",
    [
        pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2020-05-01",
                        "2020-06-01"]),
        np.array(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2020-05-01",
                  "2020-06-01"]),
        pd.Series(pd.date_range("2020-01-01", periods=6, freq="MS", tz="Europe/Zurich")),
    ],
    ids=["datetime64", "iso-strings", "tz-aware"],
)  # fmt: skip
@pytest.mark.parametrize(
    "gap", ["40D", pd.Timedelta(days=40), datetime.timedelta(days=40), np.timedelta64(40, "D")]
)
def test_dates_and_durations(times, gap):
    groups = np.arange(6)
    plain = [
        test.tolist() for _, test in GroupTimeSeriesSplit(times, n_splits=2).split(groups=groups)
    ]
    assert plain == [[2, 3], [4, 5]]
    # 40 days before the first test exam purges the month before it
    trains = [t.tolist() for t, _ in GroupTimeSeriesSplit(times, n_splits=2, gap=gap).split()]
    assert trains == [[0], [0, 1, 2]]


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"times": [1.0, np.nan, 3.0]},
         "times has 1 missing value(s) (at positions 1); every sample needs its exam time"),
        ({"times": pd.to_datetime(["2020-01-01", None, "2020-01-03"])},
         "times has 1 missing value(s) (at positions 1)"),
        ({"times": ["2020-01-01", "soon"]}, "times holds values that are neither numbers nor dates"),
        ({"times": [1, 2, 3], "gap": -1}, "gap=-1 is negative; use a gap >= 0."),
        ({"times": [1, 2, 3], "gap": "30D"},
         "gap='30D' is a duration but the exam times are numbers"),
        ({"times": ["2020-01-01", "2020-01-02"], "gap": 30},
         "gap=30 is a number but the exam times are dates; pass a duration such as "
         "pd.Timedelta(days=30) or '30D'."),
        ({"times": [1, 2, 3], "n_splits": 1}, "n_splits=1 is less than 2; use n_splits >= 2"),
        ({"times": [1, 2, 3], "max_train_size": 0},
         "max_train_size=0 must be None or an integer >= 1 (patients)."),
    ],
)  # fmt: skip
def test_constructor_errors(kwargs, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        GroupTimeSeriesSplit(**kwargs)


@pytest.mark.parametrize(
    ("times", "groups", "kwargs", "msg"),
    [
        ([1, 2, 3, 4], ["a", "a", "b", "b"], {"n_splits": 2},
         "n_splits=2 needs at least 3 patients (n_splits + 1: a block to train on before the "
         "first test block), but there are 2; use n_splits <= 1."),
        ([1, 10, 2, 3, 4], ["a", "a", "b", "c", "d"], {"n_splits": 3, "gap": 0},
         "Fold 1 of GroupTimeSeriesSplit has no training patient: each of the 1 patients"),
        ([1, 2, 3], ["a", None, "b"], {"n_splits": 2}, "groups has 1 missing value(s)"),
    ],
)  # fmt: skip
def test_split_errors(times, groups, kwargs, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        list(GroupTimeSeriesSplit(times, **kwargs).split(groups=groups))


def test_x_of_another_length_is_refused_and_repr_is_short():
    cv = GroupTimeSeriesSplit(np.arange(10), n_splits=3)
    with pytest.raises(ValueError, match=re.escape("times has 10 entries but X has 4 samples")):
        next(cv.split(np.zeros((4, 1))))
    assert repr(cv) == (
        "GroupTimeSeriesSplit(gap=0, max_train_size=None, n_splits=3, times=<10 exam times>)"
    )
    assert cv._get_metadata_request().split.requests == {"groups": True}


@pytest.mark.parametrize("routing", [False, True])
def test_works_in_cross_validate_and_grid_search(routing):
    rng = np.random.RandomState(0)
    groups = np.repeat(np.arange(40), 2)
    times = np.repeat(rng.permutation(40), 2) + np.tile([0.0, 0.5], 40)
    y = np.repeat(np.arange(40) % 2, 2)
    X = rng.randn(80, 2) + y[:, None]
    cv = GroupTimeSeriesSplit(times, n_splits=3)
    with sklearn.config_context(enable_metadata_routing=routing):
        kwargs = {"params": {"groups": groups}} if routing else {"groups": groups}
        result = cross_validate(LogisticRegression(), X, y, cv=cv, return_indices=True, **kwargs)
        for train, test in zip(result["indices"]["train"], result["indices"]["test"], strict=True):
            assert times[test].min() > times[train].max()
            assert np.intersect1d(groups[train], groups[test]).size == 0
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=cv)
        search.fit(X, y, groups=groups)
        assert search.n_splits_ == 3
