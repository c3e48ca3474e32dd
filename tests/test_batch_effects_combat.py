"""Tests for pitfalls.batch_effects.ComBat."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline

from pitfalls.batch_effects import ComBat

neuroCombat = pytest.importorskip("neuroCombat").neuroCombat


def _multisite(seed=0, n_per_site=(20, 25, 15), n_features=8):
    """Features with site-specific shift and scale, plus age and sex effects to keep."""
    rng = np.random.default_rng(seed)
    sites = np.concatenate([np.full(n, f"s{i}") for i, n in enumerate(n_per_site)])
    n = sites.size
    age = rng.uniform(20, 80, n)
    sex = rng.choice(["F", "M"], n)
    X = rng.normal(size=(n, n_features)) + 0.03 * age[:, None] + 0.5 * (sex == "M")[:, None]
    shift = rng.normal(0, 2, size=(len(n_per_site), n_features))
    scale = rng.uniform(0.5, 2.0, size=(len(n_per_site), 1))
    codes = np.unique(sites, return_inverse=True)[1]
    X = X * scale[codes] + shift[codes]
    return X, sites, pd.DataFrame({"age": age, "sex": sex})


def _neurocombat(X, sites, covariates=None, **kwargs):
    covars = pd.DataFrame({"site": sites})
    cat, cont = None, None
    if covariates is not None:
        covars = covars.join(covariates)
        cat, cont = ["sex"], ["age"]
    with contextlib.redirect_stdout(io.StringIO()):  # neuroCombat prints progress
        out = neuroCombat(
            X.T.copy(), covars, "site", categorical_cols=cat, continuous_cols=cont, **kwargs
        )
    return out["data"].T


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({}, {}),
        ({"mean_only": True}, {"mean_only": True}),
        ({"parametric": False}, {"parametric": False}),
        ({"parametric": False, "mean_only": True}, {"parametric": False, "mean_only": True}),
        ({"empirical_bayes": False}, {"eb": False}),
    ],
)
@pytest.mark.parametrize("with_covariates", [False, True])
def test_fit_transform_matches_neurocombat(ours, theirs, with_covariates):
    X, sites, covariates = _multisite()
    cov = covariates if with_covariates else None
    expected = _neurocombat(X, sites, cov, **theirs)
    got = ComBat(**ours).fit_transform(X, sites=sites, covariates=cov)
    # neuroCombat casts continuous covariates to float32: agreement to ~1e-7 then
    np.testing.assert_allclose(got, expected, atol=1e-5 if with_covariates else 1e-10)


def test_removes_site_signature_and_keeps_covariate_effect():
    X, sites, covariates = _multisite(seed=3, n_per_site=(60, 60), n_features=5)
    Xh = ComBat().fit_transform(X, sites=sites, covariates=covariates)
    for name in ("s0", "s1"):
        assert np.abs(Xh[sites == name].mean(0) - Xh.mean(0)).max() < 0.2
    before = np.abs(X[sites == "s0"].mean(0) - X[sites == "s1"].mean(0)).max()
    assert before > 1.0
    # the age effect (0.03 per year, times the site scale) survives harmonisation
    slope = np.polyfit(covariates["age"], Xh[:, 0], 1)[0]
    assert slope > 0.01


def test_transform_of_new_samples_uses_training_estimates_only():
    X, sites, _ = _multisite(seed=1)
    train = np.arange(X.shape[0]) % 3 != 0
    combat = ComBat().fit(X[train], sites=sites[train])
    out_test = combat.transform(X[~train], sites=sites[~train])
    # transforming a sample alone or with others gives the same row: no test statistic used
    one_by_one = np.vstack(
        [combat.transform(X[[i]], sites=sites[[i]]) for i in np.flatnonzero(~train)]
    )
    np.testing.assert_allclose(out_test, one_by_one)
    # and the fitted state does not depend on the test rows
    refit = ComBat().fit(np.vstack([X[train], X[train][:0]]), sites=sites[train])
    np.testing.assert_allclose(refit.gamma_star_, combat.gamma_star_)


def test_unseen_site_at_transform_is_a_clear_error():
    X, sites, _ = _multisite()
    combat = ComBat().fit(X, sites=sites)
    message = (
        "sites has 2 sample(s) from site(s) not seen in fit: 'new' (seen: 's0', 's1', "
        "'s2'). ComBat can only harmonise sites present in the training data;"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        combat.transform(X[:3], sites=["s0", "new", "new"])


def test_site_column_pipeline_in_cross_validate():
    X, sites, _ = _multisite(seed=2, n_per_site=(30, 30))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, sites.size)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(site=sites)
    pipe = make_pipeline(ComBat(site="site"), LogisticRegression())
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    result = cross_validate(pipe, df, y, cv=cv, scoring="roc_auc", error_score="raise")
    assert result["test_score"].shape == (3,)
    # the fitted ComBat inside one fold equals a ComBat fitted on that fold's training rows
    train, _ = next(cv.split(df, y))
    fold_pipe = clone(pipe).fit(df.iloc[train], y[train])
    direct = ComBat().fit(X[train], sites=sites[train])
    np.testing.assert_allclose(fold_pipe[0].gamma_star_, direct.gamma_star_)
    # the model never sees the site column
    assert fold_pipe[-1].n_features_in_ == X.shape[1]


def test_metadata_routing_in_pipeline():
    X, sites, _ = _multisite(seed=4, n_per_site=(20, 20))
    y = np.tile([0, 1], 20)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(ComBat(), LogisticRegression()).fit(X, y, sites=sites)
        proba = pipe.predict_proba(X, sites=sites)
    expected = LogisticRegression().fit(ComBat().fit_transform(X, sites=sites), y)
    np.testing.assert_allclose(
        proba, expected.predict_proba(ComBat().fit_transform(X, sites=sites))
    )


def test_site_column_covariates_and_output_names():
    X, sites, covariates = _multisite()
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df = df.assign(site=sites, age=covariates["age"], sex=covariates["sex"])
    combat = ComBat(site="site", covariate_cols=["age", "sex"]).set_output(transform="pandas")
    out = combat.fit_transform(df)
    assert list(out.columns) == [f"f{i}" for i in range(X.shape[1])]
    np.testing.assert_allclose(out.to_numpy(), _neurocombat(X, sites, covariates), atol=1e-5)


def test_transform_without_covariates_uses_their_training_average():
    X, sites, covariates = _multisite()
    combat = ComBat(mean_only=True).fit(X, sites=sites, covariates=covariates)
    # with shifts only, the covariate value does not change the adjustment
    with_cov = combat.transform(X, sites=sites, covariates=covariates)
    without = combat.transform(X, sites=sites)
    np.testing.assert_allclose(with_cov, without)


@pytest.mark.parametrize(
    ("make_call", "message"),
    [
        (
            lambda X, s: ComBat().fit(X),
            "sites is None; pass the site of each sample to fit(X, sites=...), or set "
            "site= (the site column) when X is a DataFrame.",
        ),
        (
            lambda X, s: ComBat().fit(X, sites=np.full(X.shape[0], "a")),
            "sites has a single value ('a'); ComBat needs samples from at least two sites.",
        ),
        (
            lambda X, s: ComBat().fit(X, sites=s[:-1]),
            "sites has 59 entries but X has 60 samples; pass one site per sample.",
        ),
        (
            lambda X, s: ComBat().fit(X, sites=np.append(s[:-1], "lonely")),
            "site(s) 'lonely' have a single sample; ComBat needs at least 2 samples per "
            "site to estimate its scale (or use mean_only=True).",
        ),
        (
            lambda X, s: ComBat().fit(X[:, :1], sites=s),
            "X has 1 feature(s); empirical Bayes pools estimates across features and needs at "
            "least 2. Use empirical_bayes=False.",
        ),
        (
            lambda X, s: ComBat(site="site").fit(X),
            "site='site' needs X to be a pandas DataFrame; got ndarray.",
        ),
        (
            lambda X, s: ComBat(site="site").fit(pd.DataFrame(X).assign(site=s), sites=s),
            "site='site' is set, so sites and covariates come from the columns of X;",
        ),
        (
            lambda X, s: ComBat(site="scanner").fit(pd.DataFrame({"a": [1.0], "site": [0]})),
            "Column(s) 'scanner' not found in X; available columns: 'a', 'site'.",
        ),
        (
            lambda X, s: ComBat().fit(X, sites=s, covariates=pd.DataFrame({"dx": s})),
            "covariates are collinear with sites",
        ),
        (
            lambda X, s: ComBat().fit(X, sites=s).transform(X[:, :3], sites=s),
            "X has 3 features, but ComBat was fitted with 8 features.",
        ),
        (
            lambda X, s: ComBat().fit(X, sites=s).transform(X, sites=s, covariates=X[:, :1]),
            "covariates were passed to transform but not to fit;",
        ),
    ],
)
def test_bad_inputs(make_call, message):
    X, sites, _ = _multisite()
    with pytest.raises(ValueError, match=re.escape(message)):
        make_call(X, sites)


def test_nan_in_features_is_rejected():
    X, sites, _ = _multisite()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input contains NaN"):
        ComBat().fit(X, sites=sites)


def test_nonparametric_large_site_does_not_underflow():
    # 400 samples per site: neuroCombat's product of densities underflows, log space does not
    X, sites, _ = _multisite(seed=5, n_per_site=(400, 400), n_features=40)
    out = ComBat(parametric=False).fit_transform(X, sites=sites)
    assert np.all(np.isfinite(out))

    def site_gap(data):
        return np.median(np.abs(data[sites == "s0"].mean(0) - data[sites == "s1"].mean(0)))

    assert site_gap(out) < 0.3 * site_gap(X)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 4),
    st.integers(2, 6),
    st.integers(0, 2**31),
)
def test_without_shrinkage_every_site_gets_the_pooled_location_and_scale(n_sites, n_features, seed):
    # with empirical_bayes=False ComBat maps each site exactly onto the grand mean and the
    # pooled variance, feature by feature
    rng = np.random.default_rng(seed)
    sites = np.repeat(np.arange(n_sites), rng.integers(3, 9, n_sites))
    X = rng.normal(size=(sites.size, n_features)) * rng.uniform(0.1, 5, (n_sites, 1))[sites]
    X += rng.normal(0, 10, (n_sites, n_features))[sites]
    combat = ComBat(empirical_bayes=False).fit(X, sites=sites)
    out = combat.transform(X, sites=sites)
    for site in range(n_sites):
        rows = out[sites == site]
        np.testing.assert_allclose(rows.mean(axis=0), combat.grand_mean_, atol=1e-8)
        np.testing.assert_allclose(rows.var(axis=0, ddof=1), combat.var_pooled_, rtol=1e-8)
    # and the result does not depend on the order of the rows
    order = rng.permutation(sites.size)
    shuffled = ComBat(empirical_bayes=False).fit_transform(X[order], sites=sites[order])
    np.testing.assert_allclose(shuffled, out[order], atol=1e-10)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({}, {}),
        ({"mean_only": True}, {"mean_only": True}),
        ({"parametric": False}, {"parametric": False}),
        ({"empirical_bayes": False}, {"eb": False}),
    ],
)
@pytest.mark.parametrize("with_covariates", [False, True])
def test_reference_site_matches_neurocombat(ours, theirs, with_covariates, monkeypatch):
    # neuroCombat's ref_batch path still calls np.int, removed in numpy 2
    monkeypatch.setattr(np, "int", int, raising=False)
    X, sites, covariates = _multisite()
    cov = covariates if with_covariates else None
    expected = _neurocombat(X, sites, cov, ref_batch="s1", **theirs)
    got = ComBat(ref_site="s1", **ours).fit_transform(X, sites=sites, covariates=cov)
    # the parametric solver stops at a relative change of 1e-4, and neuroCombat measures
    # that change with the sign of the old value: iteration counts can differ by one
    iterative = ours.get("parametric", True) and not ours.get("mean_only", False)
    exact = not with_covariates and not (iterative and ours.get("empirical_bayes", True))
    np.testing.assert_allclose(got, expected, atol=1e-10 if exact else 1e-4)
    # the reference site is the target: its samples come back unchanged
    np.testing.assert_allclose(got[sites == "s1"], X[sites == "s1"], atol=1e-12)


def test_unknown_reference_site_is_an_error():
    X, sites, _ = _multisite()
    with pytest.raises(
        ValueError,
        match=re.escape("ref_site='s9' is not one of the sites ('s0', 's1', 's2'); pass"),
    ):
        ComBat(ref_site="s9").fit(X, sites=sites)


def test_deprecated_batch_spellings_warn_and_give_the_same_result():
    X, sites, _ = _multisite()
    frame = pd.DataFrame(X).assign(hospital=sites)
    new = ComBat(site="hospital", ref_site="s1").fit(frame)
    with pytest.warns(FutureWarning) as caught:
        old = ComBat(batch_col="hospital", ref_batch="s1")
    assert [str(w.message) for w in caught] == [
        "ComBat: the parameter 'batch_col' was renamed 'site' in pitfalls 0.1; 'batch_col' "
        "will be removed in 0.3. Use 'site' instead.",
        "ComBat: the parameter 'ref_batch' was renamed 'ref_site' in pitfalls 0.1; "
        "'ref_batch' will be removed in 0.3. Use 'ref_site' instead.",
    ]
    assert caught[0].filename == __file__  # points at the caller's line
    assert old.get_params() == new.get_params()  # stored under the new names only
    assert "batch_col" not in old.get_params() and clone(old).site == "hospital"
    np.testing.assert_array_equal(old.fit(frame).transform(frame), new.transform(frame))
    with pytest.warns(FutureWarning, match="'ref_batch' will be removed in 0.3"):
        assert ComBat().set_params(ref_batch="s2").ref_site == "s2"
    with pytest.warns(FutureWarning, match="attribute 'batches_' was renamed 'sites_'"):
        np.testing.assert_array_equal(new.batches_, ["s0", "s1", "s2"])
    with pytest.warns(FutureWarning, match="'batches' was renamed 'sites'"):
        via_old = ComBat().fit(X, batches=sites).transform(X, batches=sites)
    np.testing.assert_array_equal(via_old, ComBat().fit_transform(X, sites=sites))
    with pytest.raises(TypeError, match="got both 'sites' and its deprecated spelling 'batches'"):
        ComBat().fit(X, sites=sites, batches=sites)


def test_deprecated_batches_metadata_is_still_routed():
    X, sites, _ = _multisite(seed=4, n_per_site=(20, 20))
    y = np.tile([0, 1], 20)
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.warns(FutureWarning, match="'batches' was renamed 'sites'"):
            pipe = make_pipeline(ComBat(), LogisticRegression()).fit(X, y, batches=sites)
        proba = pipe.predict_proba(X, sites=sites)
    expected = LogisticRegression().fit(ComBat().fit_transform(X, sites=sites), y)
    np.testing.assert_allclose(
        proba, expected.predict_proba(ComBat().fit_transform(X, sites=sites))
    )
