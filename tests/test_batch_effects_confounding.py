"""Tests for pitfalls.batch_effects.confounding_test."""

from __future__ import annotations

import itertools
import re
import warnings

import matplotlib
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.stats.contingency import association
from sklearn.metrics import balanced_accuracy_score

from pitfalls.batch_effects import bias_corrected_cramers_v, confounding_test
from pitfalls.exceptions import BatchEffectWarning

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def _cohort(n_per_site, p_positive_per_site, seed):
    """Labels and sites where site s has a positive rate p_positive_per_site[s]."""
    rng = np.random.default_rng(seed)
    labels, sites = [], []
    for site, p in enumerate(p_positive_per_site):
        labels.append(rng.random(n_per_site) < p)
        sites.append(np.full(n_per_site, f"site{site}"))
    return np.concatenate(labels).astype(int), np.concatenate(sites)


def _expand(table):
    """Per-sample labels and sites from a (sites x labels) count table."""
    sites, labels = [], []
    for b, row in enumerate(table):
        for lab, count in enumerate(row):
            sites += [b] * int(count)
            labels += [lab] * int(count)
    return np.array(labels), np.array(sites)


# --- separates confounded from unconfounded cohorts ------------------------------------


def test_confounded_cohort_warns_and_scores_high():
    # the paper's design: one site almost all pneumonia, the other almost all normal
    labels, sites = _cohort(200, [0.95, 0.05], seed=0)
    with pytest.warns(BatchEffectWarning, match=r"Cramér's V = 0\.\d\d >= warn_threshold=0\.5"):
        res = confounding_test(labels, sites)
    assert res.cramers_v > 0.8
    assert res.pvalue < 1e-30
    assert res.label_from_site_score > 0.9
    assert res.site_rule == {"site0": 1, "site1": 0}
    assert res.method == "chi2"


def test_unconfounded_cohort_is_silent_and_near_chance():
    labels, sites = _cohort(200, [0.5, 0.5, 0.5], seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = confounding_test(labels, sites)
    assert res.cramers_v < 0.1
    assert res.pvalue > 0.01
    assert res.label_from_site_score < 0.6


def test_warn_false_is_silent_and_threshold_is_a_parameter():
    labels, sites = _cohort(100, [0.7, 0.3], seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = confounding_test(labels, sites, warn=False)
        confounding_test(labels, sites, warn_threshold=min(1.0, res.cramers_v + 0.01))
    with pytest.warns(BatchEffectWarning):
        confounding_test(labels, sites, warn_threshold=res.cramers_v)


# --- reference values -------------------------------------------------------------------


def test_statistic_and_pvalue_match_scipy_chi2():
    table = np.array([[30, 10], [20, 25], [5, 40]])
    labels, sites = _expand(table)
    res = confounding_test(labels, sites, warn=False)
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    np.testing.assert_array_equal(res.table.to_numpy(), table)
    assert res.method == "chi2"
    assert res.statistic == pytest.approx(chi2)
    assert res.pvalue == pytest.approx(p)
    assert res.dof == dof == 2


def test_small_2x2_uses_fisher_exact():
    table = np.array([[3, 1], [0, 4]])  # expected counts 1.5 < 5
    labels, sites = _expand(table)
    res = confounding_test(labels, sites, warn=False)
    assert res.method == "fisher"
    assert res.pvalue == pytest.approx(stats.fisher_exact(table).pvalue)
    # statistic stays the Pearson chi-square whatever test gives the p-value
    assert res.statistic == pytest.approx(stats.chi2_contingency(table, correction=False)[0])


def test_large_2x2_uses_chi2_unless_fisher_forced():
    table = np.array([[40, 20], [25, 35]])
    labels, sites = _expand(table)
    assert confounding_test(labels, sites, warn=False).method == "chi2"
    forced = confounding_test(labels, sites, method="fisher", warn=False)
    assert forced.pvalue == pytest.approx(stats.fisher_exact(table).pvalue)
    small = np.array([[3, 1], [0, 4]])
    labels, sites = _expand(small)
    chi2_forced = confounding_test(labels, sites, method="chi2", warn=False)
    assert chi2_forced.pvalue == pytest.approx(stats.chi2_contingency(small, correction=False)[1])


def _bergsma(table):
    # written out independently of the implementation, from Bergsma (2013), eq. (3)-(5)
    t = np.asarray(table, dtype=float)
    n = t.sum()
    r, k = t.shape
    expected = np.outer(t.sum(1), t.sum(0)) / n
    phi2 = ((t - expected) ** 2 / expected).sum() / n
    phi2_tilde = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_tilde = r - (r - 1) ** 2 / (n - 1)
    k_tilde = k - (k - 1) ** 2 / (n - 1)
    return np.sqrt(phi2_tilde / min(r_tilde - 1, k_tilde - 1))


def test_cramers_v_reference_values():
    table = np.array([[30, 10], [20, 25], [5, 40]])
    labels, sites = _expand(table)
    res = confounding_test(labels, sites, warn=False)
    assert res.cramers_v == pytest.approx(_bergsma(table))
    # the correction only ever lowers V, and vanishes as n grows
    assert res.cramers_v < association(table, method="cramer")
    big = table * 1000
    assert bias_corrected_cramers_v(big) == pytest.approx(
        association(big, method="cramer"), abs=1e-3
    )
    assert bias_corrected_cramers_v([[50, 0], [0, 50]]) == pytest.approx(1.0)
    assert bias_corrected_cramers_v([[20, 40], [10, 20]]) == 0.0


tables = st.integers(2, 4).flatmap(
    lambda r: st.integers(2, 3).flatmap(
        lambda k: st.lists(
            st.lists(st.integers(1, 12), min_size=k, max_size=k), min_size=r, max_size=r
        )
    )
)


@settings(max_examples=40, deadline=None)
@given(tables)
def test_label_from_site_score_is_the_best_rule(table):
    labels, sites = _expand(table)
    res = confounding_test(labels, sites, warn=False)
    n_batches, n_labels = np.shape(table)
    best = max(
        balanced_accuracy_score(labels, np.asarray(rule)[sites])
        for rule in itertools.product(range(n_labels), repeat=n_batches)
    )
    assert res.label_from_site_score == pytest.approx(best)
    rule_pred = np.array([res.site_rule[b] for b in sites])
    assert balanced_accuracy_score(labels, rule_pred) == pytest.approx(best)
    assert 0.0 <= res.cramers_v <= 1.0
    assert res.cramers_v == pytest.approx(_bergsma(table))


def test_imbalanced_labels_rule_is_not_plain_majority():
    # both sites are majority-normal, but site b holds most of the few pneumonias:
    # the balanced-accuracy-optimal rule calls site b pneumonia
    table = np.array([[90, 2], [60, 18]])
    labels, sites = _expand(table)
    res = confounding_test(labels, sites, warn=False)
    assert res.site_rule == {0: 0, 1: 1}
    assert res.label_from_site_score == pytest.approx(0.5 * (90 / 150 + 18 / 20))


def test_series_names_label_the_table_and_repr():
    labels = pd.Series(["pneu", "pneu", "normal", "normal"], name="diagnosis")
    sites = pd.Series(["kids", "kids", "adults", "adults"], name="hospital")
    res = confounding_test(labels, sites, warn=False)
    assert res.table.index.name == "hospital"
    assert res.table.columns.name == "diagnosis"
    assert re.fullmatch(
        r"ConfoundingResult\(cramers_v=1\.000, pvalue=0\.333 \(fisher\), "
        r"label_from_site_score=1\.000, n_samples=4, n_sites=2, n_labels=2\)",
        repr(res),
    )


def test_plot_returns_axes_with_one_bar_per_site_and_label():
    res = confounding_test([0, 0, 1, 1, 1, 0], list("aabbcc"), warn=False)
    ax = res.plot(normalize=False)
    assert len(ax.patches) == 3 * 2
    assert ax.get_ylabel() == "number of samples"
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [0, 0, 1, 1, 2, 2]


# --- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "sites", "message"),
    [
        (
            [0, 1, 0],
            ["a", "b"],
            "labels has 3 entries but sites has 2; pass one site per sample.",
        ),
        (
            [0, 1, 0, 1],
            ["a", "a", "a", "a"],
            "sites has a single value ('a'); a confounding test needs samples from at "
            "least two sites.",
        ),
        (
            [0.0, np.nan, 1.0, 1.0],
            ["a", "a", "b", "b"],
            "labels has 1 missing value(s) (at positions 1); drop unlabelled samples before "
            "testing for confounding.",
        ),
        (
            [1, 1, 1, 1],
            ["a", "a", "b", "b"],
            "labels has a single class (1); a confounding test needs at least two classes.",
        ),
        (
            [0, 1, 0, 1],
            ["a", None, "b", "b"],
            "sites has 1 missing value(s) (at positions 1)",
        ),
        (
            [[0, 1], [0, 1]],
            ["a", "b"],
            "labels must be 1-D with one label per sample; got shape (2, 2).",
        ),
    ],
)
def test_bad_inputs(labels, sites, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        confounding_test(labels, sites)


def test_bad_method_and_threshold():
    labels, sites = _expand([[3, 4], [5, 6], [1, 2]])
    with pytest.raises(ValueError, match=re.escape("method='fisher' needs a 2x2 table but")):
        confounding_test(labels, sites, method="fisher")
    with pytest.raises(ValueError, match=re.escape("method='exact' is not supported")):
        confounding_test(labels, sites, method="exact")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("warn_threshold=1.5 is outside [0, 1]")):
        confounding_test(labels, sites, warn_threshold=1.5)


def test_table_equals_pandas_crosstab():
    rng = np.random.default_rng(3)
    labels = pd.Series(rng.choice(["normal", "pneumonia", "covid"], 500), name="dx")
    sites = pd.Series(rng.choice(["s1", "s2", "s3", "s4"], 500), name="site")
    res = confounding_test(labels, sites, warn=False)
    pd.testing.assert_frame_equal(res.table, pd.crosstab(sites, labels), check_dtype=False)


def test_groups_count_each_patient_once():
    # 4 patients, 10 images each: the evidence is 4 patients, not 40 images
    labels = np.repeat([0, 0, 1, 1], 10)
    sites = np.repeat(["a", "a", "b", "b"], 10)
    groups = np.repeat(["p1", "p2", "p3", "p4"], 10)
    per_image = confounding_test(labels, sites, warn=False)
    per_patient = confounding_test(labels, sites, groups=groups, warn=False)
    np.testing.assert_array_equal(per_patient.table.to_numpy(), [[2, 0], [0, 2]])
    assert per_patient.n_samples == 4
    assert per_patient.pvalue == pytest.approx(stats.fisher_exact([[2, 0], [0, 2]]).pvalue)
    assert per_image.pvalue < 1e-8 < per_patient.pvalue
    # a patient with images of both labels counts once in each cell
    mixed = confounding_test([0, 1, 1, 0], ["a", "a", "a", "b"], groups=[1, 1, 1, 2], warn=False)
    np.testing.assert_array_equal(mixed.table.to_numpy(), [[1, 1], [1, 0]])
    with pytest.raises(
        ValueError,
        match=re.escape("groups has 3 entries but labels has 4; pass one group (patient)"),
    ):
        confounding_test([0, 1, 1, 0], ["a", "a", "b", "b"], groups=[1, 2, 3])


def test_result_protocol_frame_markdown_and_deprecated_names():
    labels, sites = _expand([[8, 2], [1, 9]])
    res = confounding_test(labels, sites, warn=False)
    frame = res.to_frame()
    pd.testing.assert_frame_equal(frame, res.table)
    assert frame is not res.table  # a copy: editing it leaves the result alone
    lines = res.to_markdown().splitlines()
    assert lines[0] == (
        f"Site-label confounding: Cramér's V {res.cramers_v:.3f}, p = {res.pvalue:.3g} "
        f"({res.method}), label from site alone {res.label_from_site_score:.3f}, 20 samples."
    )
    assert lines[2:] == [
        "| site | 0 | 1 |",
        "| :--- | ---: | ---: |",
        "| 0 | 8 | 2 |",
        "| 1 | 1 | 9 |",
    ]
    with pytest.warns(FutureWarning, match="'label_from_batch_score' was renamed"):
        assert res.label_from_batch_score == res.label_from_site_score
    with pytest.warns(FutureWarning, match="'batch_rule' was renamed 'site_rule'"):
        assert res.batch_rule == res.site_rule
    with pytest.warns(FutureWarning, match="confounding_test: the parameter 'batches'"):
        old = confounding_test(labels, batches=sites, warn=False)
    assert repr(old) == repr(res)
