"""compare_auc: DeLong against two independent references, Obuchowski's clustered variance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import roc_auc_score

from pitfalls.metrics import AUCComparison, compare_auc


# ------------------------------------------------------------------- references
def _kernel(pos, neg):
    """Mann-Whitney kernel psi(X_i, Y_j): 1 above, 1/2 tied, 0 below (O(n^2))."""
    return (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])


def _delong_kernel(y, a, b):
    """DeLong et al. (1988) from the explicit kernel matrix."""
    comps = []
    for s in (a, b):
        psi = _kernel(s[y == 1], s[y == 0])
        comps.append((psi.mean(axis=1), psi.mean(axis=0)))
    v10 = np.vstack([c[0] for c in comps])
    v01 = np.vstack([c[1] for c in comps])
    cov = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    return v10.mean(axis=1), cov


def _fast_delong(y, a, b):
    """Sun and Xu (2014): midranks of the positives, the negatives and both together."""
    order = np.argsort(-y, kind="stable")  # positives first
    m = int(y.sum())
    preds = np.vstack([a, b])[:, order]
    n = preds.shape[1] - m
    tx = np.vstack([stats.rankdata(p[:m]) for p in preds])
    ty = np.vstack([stats.rankdata(p[m:]) for p in preds])
    tz = np.vstack([stats.rankdata(p) for p in preds])
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / 2.0 / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    cov = np.cov(v01) / m + np.cov(v10) / n
    return aucs, cov


def _obuchowski_paper(y, scores, groups):
    """Obuchowski (1997), eqs. for S10, S01, S11 and the covariance of two AUCs, O(n^2)."""
    ids = np.unique(groups)
    big_m, big_n, n_clusters = int(y.sum()), int((1 - y).sum()), len(ids)
    v10, v01, thetas = [], [], []
    for s in scores:
        psi = _kernel(s[y == 1], s[y == 0])
        theta = psi.mean()
        pos_g, neg_g = groups[y == 1], groups[y == 0]
        v10.append(np.array([psi[pos_g == g].sum() / big_n for g in ids]))
        v01.append(np.array([psi[:, neg_g == g].sum() / big_m for g in ids]))
        thetas.append(theta)
    m_i = np.array([np.sum((groups == g) & (y == 1)) for g in ids])
    n_i = np.array([np.sum((groups == g) & (y == 0)) for g in ids])
    factor = n_clusters / (n_clusters - 1)
    cov = np.empty((2, 2))
    for r in range(2):
        for c in range(2):
            d10r, d10c = v10[r] - m_i * thetas[r], v10[c] - m_i * thetas[c]
            d01r, d01c = v01[r] - n_i * thetas[r], v01[c] - n_i * thetas[c]
            s10 = factor / big_m * np.sum(d10r * d10c)
            s01 = factor / big_n * np.sum(d01r * d01c)
            s11 = factor * np.sum(d10r * d01c)
            s11_t = factor * np.sum(d10c * d01r)
            cov[r, c] = s10 / big_m + s01 / big_n + (s11 + s11_t) / (big_m * big_n)
    return np.array(thetas), cov


def _data(n=120, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    a = y + rng.normal(size=n)
    b = 0.7 * y + 0.5 * a + rng.normal(size=n)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    return y, a, b


# ------------------------------------------------------------------------ tests
@pytest.mark.parametrize("ties", [False, True])
def test_delong_equals_fast_delong_and_the_kernel_version(ties):
    y, a, b = _data(ties=ties)
    r = compare_auc(y, a, b)
    aucs, cov = _fast_delong(y, a, b)
    kernel_aucs, kernel_cov = _delong_kernel(y, a, b)
    np.testing.assert_allclose([r.auc_a, r.auc_b], aucs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.covariance, cov, rtol=0, atol=1e-8)
    np.testing.assert_allclose(r.covariance, kernel_cov, rtol=0, atol=1e-12)
    np.testing.assert_allclose(kernel_aucs, [roc_auc_score(y, a), roc_auc_score(y, b)])
    z = (aucs[0] - aucs[1]) / np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert r.statistic == pytest.approx(z, abs=1e-8)
    assert r.pvalue == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 6), st.integers(0, 6), st.integers(0, 5)),
        min_size=4,
        max_size=40,
    )
)
def test_delong_and_obuchowski_equal_their_references_on_any_data(rows):
    y = np.array([int(r[0]) for r in rows])
    y[:4] = [0, 1, 0, 1]
    a = np.array([r[1] for r in rows], dtype=float)
    b = np.array([r[2] for r in rows], dtype=float)
    groups = np.array([f"p{r[3]}" for r in rows])
    _, kernel_cov = _delong_kernel(y, a, b)
    np.testing.assert_allclose(compare_auc(y, a, b).covariance, kernel_cov, atol=1e-12)
    if len(np.unique(groups)) > 1:
        thetas, paper_cov = _obuchowski_paper(y, [a, b], groups)
        clustered = compare_auc(y, a, b, groups=groups)
        np.testing.assert_allclose([clustered.auc_a, clustered.auc_b], thetas)
        np.testing.assert_allclose(clustered.covariance, paper_cov, atol=1e-12)


def test_one_sample_per_patient_is_delong_up_to_the_normalisation():
    y, a, b = _data(n=80, seed=3)
    delong = compare_auc(y, a, b)
    clustered = compare_auc(y, a, b, groups=np.arange(80))
    m, n = int(y.sum()), int((1 - y).sum())
    comps = []
    for s in (a, b):
        psi = _kernel(s[y == 1], s[y == 0])
        comps.append((psi.mean(axis=1), psi.mean(axis=0)))
    s10 = np.cov(np.vstack([c[0] for c in comps]))
    s01 = np.cov(np.vstack([c[1] for c in comps]))
    expected = 80 / 79 * ((m - 1) / m * s10 / m + (n - 1) / n * s01 / n)
    np.testing.assert_allclose(clustered.covariance, expected, atol=1e-14)
    assert clustered.pvalue == pytest.approx(delong.pvalue, abs=0.01)


def test_clustered_test_holds_its_level_where_delong_does_not():
    # two equally good models whose errors are shared by a patient's images
    rng = np.random.default_rng(0)
    rejected = {"delong": 0, "clustered": 0}
    n_sim, n_patients, per_patient = 300, 40, 6
    groups = np.repeat(np.arange(n_patients), per_patient)
    for _ in range(n_sim):
        y = np.repeat(rng.random(n_patients) < 0.5, per_patient).astype(int)
        a = y + np.repeat(rng.normal(0, 1.5, n_patients), per_patient) + rng.normal(size=len(y))
        b = y + np.repeat(rng.normal(0, 1.5, n_patients), per_patient) + rng.normal(size=len(y))
        if y.min() == y.max():
            continue
        rejected["delong"] += compare_auc(y, a, b).pvalue < 0.05
        rejected["clustered"] += compare_auc(y, a, b, groups=groups).pvalue < 0.05
    assert rejected["clustered"] / n_sim < 0.09
    assert rejected["delong"] / n_sim > 0.15  # images treated as independent: false alarms


def test_identical_models_give_p_one():
    y, a, _ = _data()
    r = compare_auc(y, a, 2 * a + 1)  # same ranking
    assert (r.difference, r.se, r.statistic, r.pvalue) == (0.0, 0.0, 0.0, 1.0)


def test_result_protocol():
    y, a, b = _data()
    r = compare_auc(y, a, b, names=("cnn", "radiomics"), confidence=0.9)
    assert isinstance(r, AUCComparison)
    frame = r.to_frame()
    assert frame.index.tolist() == ["cnn", "radiomics", "difference"]
    assert frame.loc["difference", "pvalue"] == r.pvalue
    z = stats.norm.ppf(0.95)
    assert frame.loc["difference", "ci_high"] == pytest.approx(r.difference + z * r.se)
    assert frame.loc["cnn", "se"] == pytest.approx(np.sqrt(r.covariance[0, 0]))
    assert frame.loc["cnn", "ci_low"] <= r.auc_a <= frame.loc["cnn", "ci_high"] <= 1.0
    text = repr(r).splitlines()
    assert text[0] == (
        f"Paired ROC AUC comparison, DeLong: cnn vs radiomics, 120 samples "
        f"({r.n_positive} positive, {r.n_negative} negative)"
    )
    assert text[1].split() == ["AUC", "90%", "CI", "z", "p-value"]
    assert r.to_markdown().splitlines()[0] == "|  | AUC | 90% CI | z | p-value |"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"score_b": [0.1, 0.2, 0.3]}, r"score_b has shape \(3,\) but y_true has 4 samples"),
        (
            {"score_b": [0.1, np.nan, 0.3, 0.2]},
            r"score_b has 1 NaN or infinite value\(s\) \(at positions 1\); every sample needs a score",
        ),
        ({"y_true": [0, 0, 0, 0]}, r"pos_label=1 is not a class of y_true \(0\)"),
        (
            {"y_true": [1, 1, 1, 1]},
            r"y_true has a single class \(1\); ROC AUC and calibration need",
        ),
        ({"y_true": [0, 1, 2, 1]}, r"y_true has 3 classes \(0, 1, 2\); this needs a binary target"),
        (
            {"y_true": [0.5, 1.5, 0.2, 0.1]},
            r"y_true holds continuous values \(0.5, 1.5, 0.2\), not class labels; bin the outcome",
        ),
        ({"groups": ["p1"] * 4}, r"groups has 1 patient; the clustered variance needs at least 2"),
        (
            {"y_true": [0, 1, 0, 0]},
            r"y_true has 1 positive and 3 negative samples; DeLong's variance needs at least 2 "
            r"of each",
        ),
        ({"score_a": ["a", "b", "c", "d"]}, r"score_a must hold numbers"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = {"y_true": [0, 1, 0, 1], "score_a": [0.1, 0.8, 0.3, 0.6],
            "score_b": [0.2, 0.7, 0.4, 0.3], **kwargs}  # fmt: skip
    with pytest.raises(ValueError, match=match):
        compare_auc(args.pop("y_true"), args.pop("score_a"), args.pop("score_b"), **args)
