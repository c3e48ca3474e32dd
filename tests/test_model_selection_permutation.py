"""permutation_test_score: labels permuted between patients; scikit-learn's without groups."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score
from sklearn.model_selection import permutation_test_score as sklearn_permutation_test_score
from sklearn.naive_bayes import GaussianNB

from pitfalls.exceptions import GroupLeakageError, MetricWarning
from pitfalls.model_selection import StratifiedGroupKFold, permutation_test_score
from pitfalls.model_selection._permutation import _PatientBlocks


def _patients(n_patients=24, per_patient=4, signal=0.0, seed=0):
    """Patient-constant labels; images of a patient share a patient effect."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_patients), per_patient)
    label = rng.permutation(np.arange(n_patients) % 2)
    y = np.repeat(label, per_patient)
    effect = np.repeat(rng.normal(0, 1.0, (n_patients, 3)), per_patient, axis=0)
    X = effect + rng.normal(0, 0.5, (len(y), 3)) + signal * y[:, None]
    return X, y, groups


def test_without_groups_it_is_sklearns():
    X, y, _ = _patients(signal=0.5)
    ours = permutation_test_score(GaussianNB(), X, y, n_permutations=15, random_state=3)
    theirs = sklearn_permutation_test_score(GaussianNB(), X, y, n_permutations=15, random_state=3)
    assert ours[0] == theirs[0]
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2] == theirs[2]


def test_p_values_without_signal_are_roughly_uniform_not_pinned_at_one():
    pvalues, sklearn_pvalues = [], []
    for seed in range(20):
        X, y, groups = _patients(seed=seed)
        _, null, p = permutation_test_score(
            GaussianNB(), X, y, groups=groups, cv=4, n_permutations=19, random_state=seed
        )
        assert null.shape == (19,)
        pvalues.append(p)
        sklearn_pvalues.append(
            sklearn_permutation_test_score(
                GaussianNB(), X, y, groups=groups, cv=GroupKFold(4), n_permutations=19,
                random_state=seed,
            )[2]
        )  # fmt: skip
    # scikit-learn permutes within patients: nothing changes, p = 1 every time
    assert sklearn_pvalues == [1.0] * 20
    pvalues = np.array(pvalues)
    assert 0.3 < pvalues.mean() < 0.7
    assert np.mean(pvalues == 1.0) < 0.2
    assert np.all(pvalues >= 1 / 20)
    assert stats.kstest(pvalues, "uniform").pvalue > 0.05


def test_small_p_value_with_signal_and_the_formula():
    X, y, groups = _patients(signal=1.5)
    score, null, p = permutation_test_score(
        GaussianNB(), X, y, groups=groups, n_permutations=29, random_state=0
    )
    assert score > 0.8
    assert p == (np.sum(null >= score) + 1) / 30
    assert p == pytest.approx(1 / 30)


def test_default_cv_is_group_aware_and_a_leaky_cv_is_refused():
    X, y, groups = _patients(signal=1.0)
    default = permutation_test_score(
        GaussianNB(), X, y, groups=groups, n_permutations=5, random_state=0
    )
    explicit = permutation_test_score(
        GaussianNB(), X, y, groups=groups, cv=StratifiedGroupKFold(5), n_permutations=5,
        random_state=0,
    )  # fmt: skip
    assert default[0] == explicit[0]
    np.testing.assert_array_equal(default[1], explicit[1])
    leaky = StratifiedKFold(4, shuffle=True, random_state=0)
    with pytest.raises(GroupLeakageError, match=r"cv=StratifiedKFold\(.*\) ignores groups"):
        permutation_test_score(GaussianNB(), X, y, groups=groups, cv=leaky)


def test_same_seed_same_result_and_fit_params_reach_the_estimator():
    X, y, groups = _patients(signal=0.5)
    weights = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    kwargs = {"groups": groups, "n_permutations": 4, "random_state": 7}
    weighted = permutation_test_score(GaussianNB(), X, y, fit_params={"sample_weight": weights},
                                      **kwargs)  # fmt: skip
    again = permutation_test_score(GaussianNB(), X, y, fit_params={"sample_weight": weights},
                                   **kwargs)  # fmt: skip
    plain = permutation_test_score(GaussianNB(), X, y, **kwargs)
    assert weighted[0] == again[0]
    np.testing.assert_array_equal(weighted[1], again[1])
    expected = cross_val_score(GaussianNB(), X, y, groups=groups, cv=StratifiedGroupKFold(5),
                               params={"sample_weight": weights}).mean()  # fmt: skip
    assert weighted[0] == pytest.approx(expected)
    assert not np.array_equal(weighted[1], plain[1])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.booleans(), st.booleans()), min_size=2, max_size=12),
    st.integers(0, 2**31 - 1),
)
def test_permutations_move_whole_patients(patients, seed):
    sizes = [p[0] for p in patients]
    groups = np.repeat([f"p{i:02d}" for i in range(len(sizes))], sizes)
    labels = []
    for size, first, varies in patients:
        seq = [int(first)] * size
        if varies and size > 1:
            seq[-1] = 1 - seq[-1]
        labels += seq
    y = np.array(labels)
    shuffled = np.random.default_rng(seed).permutation(len(y))  # samples in any order
    y, groups = y[shuffled], groups[shuffled]
    blocks = _PatientBlocks.of(y, groups)
    permuted = y[blocks.source(np.random.RandomState(seed))]

    def sequences(values):
        return {g: tuple(values[groups == g]) for g in np.unique(groups)}

    before, after = sequences(y), sequences(permuted)
    constant_before = sorted(s[0] for s in before.values() if len(set(s)) == 1)
    constant_after = sorted(s[0] for s in after.values() if len(set(s)) == 1)
    # patient-constant labels are exchanged between patients (the multiset is kept)
    assert constant_before == constant_after
    # varying sequences move as blocks between patients of the same size
    varying_before = sorted(s for s in before.values() if len(set(s)) > 1)
    varying_after = sorted(s for s in after.values() if len(set(s)) > 1)
    assert varying_before == varying_after
    for g in before:
        assert len(set(after[g])) == len(set(before[g]))


def test_patients_that_cannot_exchange_are_counted_in_a_warning():
    X = np.random.default_rng(0).normal(size=(9, 1))
    y = np.array([0, 1, 0, 1, 1, 0, 0, 0, 1])
    groups = np.array(["a", "a", "b", "b", "b", "c", "d", "e", "f"])
    with pytest.warns(
        MetricWarning, match=r"2 of 6 patients keep their labels in every permutation"
    ):
        permutation_test_score(GaussianNB(), X, y, groups=groups, cv=GroupKFold(2),
                               n_permutations=2)  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_permutations": 0}, r"n_permutations=0 is invalid; use a positive integer"),
        ({"groups": np.arange(5)}, r"groups has 5 entries but X has 96 samples"),
        ({"scoring": "f1", "y": np.where(np.arange(96) % 2, "yes", "no")}, r"scoring='f1' scores the class labelled 1"),
    ],
)  # fmt: skip
def test_bad_inputs(kwargs, match):
    X, y, groups = _patients()
    args = {"y": y, "groups": groups, **kwargs}
    with warnings.catch_warnings(), pytest.raises(ValueError, match=match):
        permutation_test_score(GaussianNB(), X, args.pop("y"), **args)
