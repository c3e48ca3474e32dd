"""compare_runs: scipy's rank-sum test, rank-biserial effect size, corrected t-test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pitfalls.metrics import RunComparison, compare_runs

scores = st.lists(
    st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda v: round(v, 2)),
    min_size=2,
    max_size=30,
)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_ranksums_matches_scipy_exactly(alternative):
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.05, 40), rng.normal(0.75, 0.05, 35)
    res = compare_runs(a, b, alternative=alternative)
    ref = stats.ranksums(a, b, alternative=alternative)
    assert res.statistic == ref.statistic
    assert res.pvalue == ref.pvalue
    assert res.test == "ranksums"
    assert res.alternative == alternative


@settings(max_examples=50, deadline=None)
@given(scores, scores)
def test_effect_size_is_pairwise_dominance_and_matches_mannwhitney(a, b):
    res = compare_runs(a, b)
    x, y = np.asarray(a)[:, None], np.asarray(b)[None, :]
    dominance = (np.sum(x > y) - np.sum(x < y)) / (len(a) * len(b))
    assert res.effect_size == pytest.approx(dominance, abs=1e-12)
    u = stats.mannwhitneyu(a, b).statistic
    assert res.effect_size == pytest.approx(2 * u / (len(a) * len(b)) - 1, abs=1e-12)
    assert -1.0 <= res.effect_size <= 1.0
    # swapping the runs flips the sign of the statistic and of the effect size
    swapped = compare_runs(b, a)
    assert swapped.effect_size == pytest.approx(-res.effect_size, abs=1e-12)
    assert swapped.statistic == pytest.approx(-res.statistic, abs=1e-12)


def test_means_and_sds():
    a, b = [0.9, 0.8, 0.85, 0.95], [0.6, 0.7]
    res = compare_runs(a, b)
    assert res.mean_a == pytest.approx(np.mean(a))
    assert res.sd_a == pytest.approx(np.std(a, ddof=1))
    assert res.mean_b == pytest.approx(np.mean(b))
    assert res.sd_b == pytest.approx(np.std(b, ddof=1))
    assert (res.n_a, res.n_b) == (4, 2)
    assert res.mean_difference == pytest.approx(np.mean(a) - np.mean(b))
    assert res.to_dict()["mean_difference"] == res.mean_difference


def test_repr_is_readable():
    res = compare_runs([0.9, 0.92, 0.91], [0.7, 0.72, 0.71])
    text = repr(res)
    assert text.startswith("RunComparison(Wilcoxon rank-sum, two-sided: z=1.964, p=0.050")
    assert "a=0.910 ± 0.010 (n=3)" in text
    assert "b=0.710 ± 0.010 (n=3)" in text
    assert str(res) == text
    assert isinstance(res, RunComparison)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_corrected_t_reduces_to_paired_t_when_test_set_negligible(alternative):
    rng = np.random.default_rng(1)
    a = rng.normal(0.8, 0.05, 20)
    b = a - rng.normal(0.02, 0.03, 20)
    res = compare_runs(a, b, test="corrected_t", n_train=10**12, n_test=1, alternative=alternative)
    ref = stats.ttest_rel(a, b, alternative=alternative)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-6)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-5)


def test_corrected_t_formula_and_is_more_conservative():
    a = np.array([0.81, 0.84, 0.80, 0.86, 0.83, 0.85])
    b = np.array([0.79, 0.80, 0.80, 0.82, 0.80, 0.81])
    d = a - b
    expected_t = d.mean() / np.sqrt((1 / 6 + 20 / 80) * d.var(ddof=1))
    res = compare_runs(a, b, test="corrected_t", n_train=80, n_test=20)
    assert res.statistic == pytest.approx(expected_t)
    assert res.pvalue == pytest.approx(2 * stats.t(df=5).sf(abs(expected_t)))
    assert res.pvalue > stats.ttest_rel(a, b).pvalue


def test_corrected_t_with_constant_differences():
    same = compare_runs([0.5, 0.6], [0.5, 0.6], test="corrected_t", n_train=8, n_test=2)
    assert (same.statistic, same.pvalue) == (0.0, 1.0)
    shifted = compare_runs([0.6, 0.7], [0.5, 0.6], test="corrected_t", n_train=8, n_test=2)
    assert shifted.statistic == np.inf
    assert shifted.pvalue == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scores_a": [0.5]}, r"scores_a has 1 score\(s\); compare_runs needs at least 2"),
        ({"scores_b": [0.5, np.nan]}, r"scores_b has 1 NaN or infinite score\(s\)"),
        ({"scores_a": np.ones((2, 3))}, r"scores_a must be 1-D .* got shape \(2, 3\)"),
        ({"alternative": "bigger"}, r"alternative='bigger' is not supported; use one of"),
        ({"test": "ttest"}, r"test='ttest' is not supported; use one of 'ranksums'"),
        ({"n_train": 10}, r"n_train and n_test are only used by test='corrected_t'"),
        (
            {"test": "corrected_t", "n_train": 10},
            r"n_test=None is invalid; test='corrected_t' needs",
        ),
        (
            {"test": "corrected_t", "n_train": 10, "n_test": 2, "scores_b": [1, 2, 3]},
            r"scores_a has 2 scores and scores_b has 3",
        ),
    ],
)
def test_bad_inputs(kwargs, match):
    args = {"scores_a": [0.1, 0.2], "scores_b": [0.3, 0.4], **kwargs}
    with pytest.raises(ValueError, match=match):
        compare_runs(**args)
