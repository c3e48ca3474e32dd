"""Tests for batch_predictability and generalization_gap."""

from __future__ import annotations

import re

import joblib
import matplotlib
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pitfalls.batch_effects import batch_predictability, generalization_gap
from pitfalls.batch_effects._predictability import _permute, default_site_probe
from pitfalls.model_selection import StratifiedGroupKFold

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def _site_cohort(*, signature, n_per_site=40, n_sites=2, n_features=5, seed=0):
    """Features where each site shifts the means by ``signature`` standard deviations."""
    rng = np.random.default_rng(seed)
    sites = np.repeat([f"site{i}" for i in range(n_sites)], n_per_site)
    codes = np.unique(sites, return_inverse=True)[1]
    X = rng.normal(size=(sites.size, n_features))
    X += signature * rng.normal(size=(n_sites, n_features))[codes]
    return X, sites


# --- batch_predictability separates cohorts with / without a site signature -------------


def test_site_signature_is_detected():
    X, sites = _site_cohort(signature=1.5)
    res = batch_predictability(X, sites, cv=3, n_permutations=9, random_state=0)
    assert res.score > 0.95
    assert res.pvalue == pytest.approx(1 / 10)
    assert res.null_scores.shape == (9,)
    assert res.scores.shape == (3,)
    assert np.abs(res.null_scores.mean() - 0.5) < 0.15
    assert res.permuted_by == "sample"


def test_no_site_signature_scores_near_chance():
    X, sites = _site_cohort(signature=0.0, seed=1)
    res = batch_predictability(X, sites, cv=3, n_permutations=9, random_state=0)
    assert abs(res.score - 0.5) < 0.15
    assert res.pvalue > 0.1


def test_multiclass_fold_scores_match_sklearn_ovr_macro():
    X, sites = _site_cohort(signature=0.5, n_sites=3, n_per_site=20, seed=2)
    cv = StratifiedKFold(4, shuffle=True, random_state=3)
    res = batch_predictability(X, sites, cv=cv, n_permutations=0)
    expected = []
    for train, test in cv.split(X, sites):
        model = default_site_probe().fit(X[train], sites[train])
        expected.append(
            roc_auc_score(
                sites[test], model.predict_proba(X[test]), multi_class="ovr", average="macro"
            )
        )
    np.testing.assert_allclose(res.scores, expected)
    assert res.score == pytest.approx(np.mean(expected))
    assert np.isnan(res.pvalue)


def test_groups_keep_patient_signature_from_passing_as_site_signature():
    # every patient has 4 near-identical samples and sits at one site; the features carry
    # the patient, not the site. Sample-level folds let 1-NN find the patient's twin.
    rng = np.random.default_rng(4)
    n_patients, per_patient = 30, 4
    patient_signature = rng.normal(size=(n_patients, 3))
    groups = np.repeat(np.arange(n_patients), per_patient)
    X = patient_signature[groups] + 0.01 * rng.normal(size=(groups.size, 3))
    sites = np.where(groups % 2 == 0, "a", "b")
    knn = KNeighborsClassifier(n_neighbors=1)
    leaky = batch_predictability(X, sites, estimator=knn, n_permutations=0, random_state=0)
    grouped = batch_predictability(
        X, sites, groups=groups, estimator=knn, n_permutations=19, random_state=0
    )
    assert leaky.score > 0.95
    assert abs(grouped.score - 0.5) < 0.2
    assert grouped.permuted_by == "group"
    assert grouped.pvalue > 0.1


def test_group_folds_are_the_pitfalls_splitter():
    X, sites = _site_cohort(signature=1.0, n_per_site=24, seed=5)
    groups = np.arange(sites.size) // 3
    res = batch_predictability(X, sites, groups=groups, cv=3, n_permutations=0, random_state=0)
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    cv = StratifiedGroupKFold(3, shuffle=True, random_state=seed)
    expected = []
    for train, test in cv.split(X, sites, groups):
        assert not set(groups[train]) & set(groups[test])
        model = default_site_probe().fit(X[train], sites[train])
        expected.append(roc_auc_score(sites[test] == "site1", model.decision_function(X[test])))
    np.testing.assert_allclose(res.scores, expected)


def test_reproducible_and_independent_of_n_jobs():
    X, sites = _site_cohort(signature=0.3, n_per_site=20, seed=6)
    first = batch_predictability(X, sites, cv=3, n_permutations=6, random_state=7)
    again = batch_predictability(X, sites, cv=3, n_permutations=6, random_state=7)
    with joblib.parallel_config(backend="threading"):
        parallel = batch_predictability(X, sites, cv=3, n_permutations=6, random_state=7, n_jobs=2)
    np.testing.assert_array_equal(first.null_scores, again.null_scores)
    np.testing.assert_array_equal(first.null_scores, parallel.null_scores)
    assert first.score == parallel.score


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 2), min_size=2, max_size=12),
    st.lists(st.integers(1, 4), min_size=12, max_size=12),
    st.integers(0, 2**31),
)
def test_group_permutation_keeps_one_site_per_patient(site_of_patient, sizes, seed):
    groups = np.repeat(np.arange(len(site_of_patient)), sizes[: len(site_of_patient)])
    sites = np.asarray(site_of_patient)[groups]
    permuted = _permute(sites, groups, np.random.default_rng(seed))
    per_patient = pd.Series(permuted).groupby(groups)
    assert all(len(set(values)) == 1 for _, values in per_patient)
    # patients per site are unchanged: it is the patients' site labels that are shuffled
    assert sorted(per_patient.first()) == sorted(site_of_patient)


def test_plot_shows_null_and_observed():
    X, sites = _site_cohort(signature=1.0, n_per_site=15)
    res = batch_predictability(X, sites, cv=3, n_permutations=4, random_state=0)
    ax = res.plot()
    assert ax.get_xlabel() == "site-prediction ROC AUC"
    assert re.search(r"observed = 1\.000|observed = 0\.9\d\d", ax.get_legend_handles_labels()[1][1])
    assert "n_permutations=4" in repr(res)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"sites": ["a"] * 19},
            "sites has 19 entries but X has 20 samples; pass one site per sample.",
        ),
        (
            {"sites": ["a"] * 20},
            "sites has a single value ('a'); the site cannot be predicted when every "
            "sample comes from one site.",
        ),
        (
            {"sites": ["a"] * 17 + ["b"] * 3},
            "cv=5 is greater than the number of samples of site 'b' (3); use cv <= 3 so "
            "every fold can hold every site.",
        ),
        (
            {"sites": ["a"] * 10 + ["b"] * 10, "groups": [0] * 11 + list(range(1, 10))},
            "groups 0 have samples from more than one site; permutations exchange whole "
            "groups, so each group (patient) must belong to a single site.",
        ),
        (
            {"sites": ["a"] * 10 + [None] * 10},
            "sites has 10 missing value(s)",
        ),
        (
            {"sites": ["a", "b"] * 10, "n_permutations": -1},
            "n_permutations=-1 must be a non-negative integer; e.g. 100.",
        ),
    ],
)
def test_batch_predictability_bad_inputs(kwargs, message):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=re.escape(message)):
        batch_predictability(X, **kwargs)


# --- generalization_gap ---------------------------------------------------------------


def _xray_like(*, confounded, seed=0, n=120):
    """Internal cohort with a disease feature and a source artefact.

    When ``confounded``, pneumonia comes from the pediatric source and normals from the
    adult one, and the artefact (source) is much cleaner than the disease signal. The
    external set holds pediatric normals: the artefact of the pneumonia source, no disease.
    """
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    pediatric = y == 1 if confounded else rng.random(n) < 0.5
    disease = y + rng.normal(0, 1.0, n)
    artefact = pediatric + rng.normal(0, 0.05, n)
    X = np.c_[disease, artefact, rng.normal(size=n)]
    n_ext = 60
    X_ext = np.c_[rng.normal(0, 1.0, n_ext), 1 + rng.normal(0, 0.05, n_ext), rng.normal(size=n_ext)]
    return X, y, X_ext, np.zeros(n_ext, dtype=int)


def test_confounded_model_fails_external_normals():
    X, y, X_ext, y_ext = _xray_like(confounded=True)
    res = generalization_gap(LogisticRegression(), X, y, X_ext, y_ext, random_state=0)
    assert res.internal_score > 0.95
    assert res.external_class == 0
    assert np.isnan(res.external_score)
    assert res.external_fraction_correct < 0.1
    assert np.nanmean(res.internal_class_recall) > 0.95
    assert res.gap > 0.85
    assert res.gap == pytest.approx(
        np.nanmean(res.internal_class_recall) - res.external_fraction_correct
    )


def test_unconfounded_model_generalises():
    X, y, X_ext, y_ext = _xray_like(confounded=False, seed=1)
    res = generalization_gap(LogisticRegression(), X, y, X_ext, y_ext, random_state=0)
    assert res.external_fraction_correct > 0.5
    assert abs(res.gap) < 0.25


def test_internal_scores_match_sklearn_cross_val_score():
    X, y, _, _ = _xray_like(confounded=False, seed=2)
    external = np.r_[0:20, 60:80]
    X_ext, y_ext = X[external] + 0.1, y[external]
    res = generalization_gap(
        LogisticRegression(), X, y, X_ext, y_ext, scoring="roc_auc", cv=4, random_state=3
    )
    expected = cross_val_score(
        LogisticRegression(),
        X,
        y,
        cv=StratifiedKFold(4, shuffle=True, random_state=3),
        scoring="roc_auc",
    )
    np.testing.assert_allclose(res.internal_scores, expected)
    model = LogisticRegression().fit(X, y)
    assert res.external_score == pytest.approx(roc_auc_score(y_ext, model.decision_function(X_ext)))
    assert res.gap == pytest.approx(res.internal_score - res.external_score)
    assert res.external_class is None
    assert res.internal_class_recall is None


def test_groups_give_patient_disjoint_internal_folds():
    X, y, X_ext, y_ext = _xray_like(confounded=True, seed=3)
    groups = np.arange(y.size) // 2
    res = generalization_gap(
        LogisticRegression(), X, y, X_ext, y_ext, groups=groups, cv=3, random_state=0
    )
    cv = StratifiedGroupKFold(3, shuffle=True, random_state=0)
    expected = cross_val_score(LogisticRegression(), X, y, groups=groups, cv=cv, scoring="f1")
    np.testing.assert_allclose(res.internal_scores, expected)
    assert "external_class=0" in repr(res)
    assert res.plot().get_ylabel() == "recall of class 0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            lambda X, y, Xe, ye: (X, y[:-1], Xe, ye),
            "X_internal has 120 samples but y_internal has 119; pass one label per sample.",
        ),
        (
            lambda X, y, Xe, ye: (X, y, Xe, np.r_[np.nan, ye[1:]]),
            "y_external has 1 missing value(s) (at positions 0); drop unlabelled samples.",
        ),
        (
            lambda X, y, Xe, ye: (X, np.ones_like(y), Xe, ye),
            "y_internal has a single class (1); a classifier needs at least two.",
        ),
        (
            lambda X, y, Xe, ye: (X, y, Xe, ye + 2),
            "y_external has class(es) 2 not in y_internal (0, 1); the model cannot predict them.",
        ),
        (
            lambda X, y, Xe, ye: (X, y, Xe[:, :2], ye),
            "X_external has 2 features but X_internal has 3; both need the same features.",
        ),
    ],
)
def test_generalization_gap_bad_inputs(args, message):
    data = _xray_like(confounded=True)
    with pytest.raises(ValueError, match=re.escape(message)):
        generalization_gap(clone(LogisticRegression()), *args(*data))


@pytest.mark.parametrize(("signature", "n_features"), [(0.0, 5), (3.0, 5), (0.3, 40)])
def test_fast_default_probe_equals_cloned_sklearn_fits(signature, n_features):
    # estimator=None takes the batched-Newton path; passing the same pipeline explicitly
    # fits scikit-learn's LogisticRegression per permutation and fold. lbfgs stops at
    # tol=1e-4, which can flip a near-tie in a fold's ranking: compare at a tight tol.
    X, sites = _site_cohort(signature=signature, n_per_site=24, n_features=n_features, seed=8)
    X[:, 1] = 1.0  # a constant feature is standardised as StandardScaler does
    groups = np.arange(sites.size) // 2
    kwargs = {"groups": groups, "cv": 3, "n_permutations": 5, "random_state": 9}
    fast = batch_predictability(X, sites, **kwargs)
    exact = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-12, max_iter=10_000))
    slow = batch_predictability(X, sites, estimator=exact, **kwargs)
    np.testing.assert_allclose(fast.scores, slow.scores, atol=1e-6)
    np.testing.assert_allclose(fast.null_scores, slow.null_scores, atol=1e-6)
    assert fast.pvalue == slow.pvalue


def test_batched_hessians_agree_between_gemm_and_stacked_forms():
    from pitfalls.batch_effects._fast_logistic import _hessians, _upper_outer

    rng = np.random.default_rng(10)
    design = rng.normal(size=(30, 4))
    curvature = rng.uniform(0, 0.25, size=(30, 6))
    outer = _upper_outer(design)
    expected = np.stack([design.T @ (design * c[:, None]) for c in curvature.T])
    np.testing.assert_allclose(_hessians(design, curvature, outer), expected)
    np.testing.assert_allclose(_hessians(design, curvature, None), expected)


def _flatten(X):
    return X.reshape(len(X), -1)


def test_generalization_gap_accepts_image_arrays():
    # Image models take (N, H, W) arrays; the gap must not force them to 2-D.
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    images = rng.normal(size=(80, 4, 4)) + y[:, None, None]  # class shifts every pixel
    external = rng.normal(size=(20, 4, 4)) + 1.0  # all class 1
    model = make_pipeline(FunctionTransformer(_flatten), LogisticRegression())
    result = generalization_gap(model, images, y, external, np.ones(20, int), cv=4, random_state=0)
    flat = generalization_gap(
        model,
        images.reshape(80, -1),
        y,
        external.reshape(20, -1),
        np.ones(20, int),
        cv=4,
        random_state=0,
    )
    np.testing.assert_allclose(result.internal_scores, flat.internal_scores)
    assert result.external_fraction_correct == flat.external_fraction_correct


# --- result protocol: to_frame, to_markdown, deprecated spellings --------------------------


def test_predictability_result_frame_markdown_and_deprecated_names():
    X, sites = _site_cohort(signature=1.5)
    res = batch_predictability(X, sites, cv=3, n_permutations=9, random_state=0)
    frame = res.to_frame()
    assert frame.columns.tolist() == ["fold", "roc_auc"]
    np.testing.assert_array_equal(frame["roc_auc"], res.scores)
    lines = res.to_markdown(digits=2).splitlines()
    assert lines[0] == (
        f"Site predictability: ROC AUC {res.score:.2f} (chance 0.5), permutation p = 0.1 "
        "(9 permutations of samples), 2 sites."
    )
    assert lines[2] == "| fold | roc_auc |" and len(lines) == 4 + 3
    assert "n_sites=2" in repr(res)
    with pytest.warns(FutureWarning, match="'batches' was renamed 'sites'"):
        np.testing.assert_array_equal(res.batches, ["site0", "site1"])
    with pytest.warns(FutureWarning, match="batch_predictability: the parameter 'batches'"):
        old = batch_predictability(X, batches=sites, cv=3, n_permutations=9, random_state=0)
    np.testing.assert_array_equal(old.null_scores, res.null_scores)


def test_generalization_gap_frame_and_markdown():
    X, y, X_ext, y_ext = _xray_like(confounded=True)
    single = generalization_gap(LogisticRegression(), X, y, X_ext, y_ext, cv=3, random_state=0)
    frame = single.to_frame()
    assert frame["set"].tolist() == ["internal"] * 3 + ["external"]
    np.testing.assert_array_equal(frame["score"][:3], single.internal_scores)
    np.testing.assert_array_equal(frame["class_recall"][:3], single.internal_class_recall)
    assert frame["class_recall"].iloc[3] == single.external_fraction_correct
    assert np.isnan(frame["score"].iloc[3]) and np.isnan(frame["fold"].iloc[3])
    markdown = single.to_markdown()
    assert markdown.startswith("Generalization gap (recall of class 0, the external set's only")
    assert f"gap {single.gap:.3f}." in markdown.splitlines()[0]
    both = generalization_gap(LogisticRegression(), X, y, X[40:80], y[40:80], cv=3, random_state=0)
    assert both.to_frame()["score"].iloc[3] == both.external_score
    assert both.to_frame()["class_recall"].isna().all()
    assert both.to_markdown().splitlines()[0] == (
        f"Generalization gap (f1): internal {both.internal_score:.3f}, external "
        f"{both.external_score:.3f}, gap {both.gap:.3f}."
    )
