"""calibration_summary against scikit-learn and scipy; ROC / PR curves with bootstrap bands."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import (
    CalibrationSummary,
    _calibration,
    _recalibration,
    calibration_summary,
    classification_summary,
    curve_bands,
    plot_pr,
    plot_roc,
)
from pitfalls.metrics._cluster import as_generator, plan_patients, replicate_chunks, sample_plan
from pitfalls.metrics._recalibration import (
    RecalibrationBootstrap,
    RecalibrationData,
    fit_recalibration,
)


def _calibration_data(n=400, seed=0, slope=0.6, n_patients=None):
    """Probabilities too extreme (true slope ``slope``), optionally shared by patients."""
    rng = np.random.default_rng(seed)
    if n_patients is None:
        x = rng.normal(0, 2, n)
        groups = None
    else:
        groups = np.repeat(np.arange(n_patients), n // n_patients)
        x = np.repeat(rng.normal(0, 2, n_patients), n // n_patients) + rng.normal(0, 0.3, n)
    y = (rng.random(len(x)) < expit(0.3 + slope * x)).astype(int)
    if groups is not None:  # one outcome per patient
        y = np.repeat(y[:: n // n_patients], n // n_patients)
    return y, expit(x), groups


def _scipy_recalibration(y, prob):
    """Reference: minimise the logistic negative log-likelihood with scipy."""
    x = logit(np.clip(prob, 1e-8, 1 - 1e-8))

    def nll(theta):
        eta = theta[0] + theta[1] * x
        return np.sum(np.logaddexp(0, eta) - y * eta)

    return optimize.minimize(nll, [0.0, 1.0], method="BFGS", options={"gtol": 1e-10}).x


def test_point_values_equal_sklearn_and_scipy():
    y, prob, _ = _calibration_data()
    c = calibration_summary(y, prob, n_bootstraps=0)
    assert c.brier == pytest.approx(brier_score_loss(y, prob), rel=1e-12)
    model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
    model.fit(logit(prob)[:, None], y)
    assert c.slope == pytest.approx(model.coef_[0, 0], abs=1e-5)
    assert c.intercept == pytest.approx(model.intercept_[0], abs=1e-5)
    intercept, slope = _scipy_recalibration(y, prob)
    assert (c.intercept, c.slope) == pytest.approx((intercept, slope), abs=1e-5)
    assert c.slope < 1  # the probabilities were made too extreme


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_bins_equal_calibration_curve_and_ece_by_hand(strategy):
    y, prob, _ = _calibration_data(seed=1)
    c = calibration_summary(y, prob, n_bins=8, strategy=strategy, n_bootstraps=0)
    observed, predicted = calibration_curve(y, prob, n_bins=8, strategy=strategy)
    filled = c.bins[c.bins["n"] > 0]
    np.testing.assert_allclose(filled["observed"], observed)
    np.testing.assert_allclose(filled["mean_predicted"], predicted)
    ece = np.sum(filled["n"] / len(y) * np.abs(filled["observed"] - filled["mean_predicted"]))
    assert c.ece == pytest.approx(ece)
    assert c.bins["n"].sum() == len(y)


# A full Newton step from the start (0, 1) diverged to 1e42 on these rows (found by
# hypothesis at the dependency floors); the maximum-likelihood fit exists.
_OVERSHOOT = [(False, 0.5)] * 3 + [(False, 1 / 3), (False, 0.020010919945748353)] + [
    (False, 0.7653936886172602), (False, 0.7653936886172602), (True, 0.5), (True, 0.5),
    (True, 1 / 3), (False, 0.011947140880650985), (False, 1 / 3),
    (True, 0.020010919945748353), (False, 1 / 3), (False, 0.011947140880650985),
    (True, 0.7653936886172602), (True, 0.7653936886172602), (False, 0.011947140880650985),
    (False, 0.011947140880650985), (True, 0.020010919945748353), (False, 0.9888296627998352),
    (True, 0.020010919945748353), (True, 0.9888296627998352),
]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.01, 0.99)), min_size=6, max_size=80))
@example(_OVERSHOOT)
def test_weighted_recalibration_equals_the_fit_on_repeated_rows(rows):
    y = np.array([float(r[0]) for r in rows])
    y[:4] = [0, 1, 1, 0]
    x = logit(np.array([r[1] for r in rows]))
    x[:4] = [-1.0, -0.5, 0.5, 1.0]  # overlap: the maximum-likelihood fit exists
    weights = np.random.default_rng(len(rows)).integers(0, 3, (3, len(rows)))
    weights[:, :4] = 1
    a, b = fit_recalibration(x, y, weights.astype(float))
    for r in range(3):
        rep = np.repeat(np.arange(len(rows)), weights[r])
        a_ref, b_ref = fit_recalibration(x[rep], y[rep], np.ones((1, len(rep))))
        assert np.isnan(a[r]) == np.isnan(a_ref[0])
        if not np.isnan(a[r]):
            assert (a[r], b[r]) == pytest.approx((a_ref[0], b_ref[0]), abs=1e-7)


def test_separated_classes_give_nan_slope_and_a_warning():
    with pytest.warns(MetricWarning, match=r"recalibration did not converge"):
        c = calibration_summary([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], n_bootstraps=0)
    assert np.isnan(c.slope) and np.isnan(c.intercept)
    assert c.brier == pytest.approx(brier_score_loss([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9]))


def test_bootstrap_intervals_cover_and_patient_level_is_wider():
    y, prob, groups = _calibration_data(n=600, n_patients=100, seed=2)
    sample = calibration_summary(y, prob, n_bootstraps=500, random_state=0).to_frame()
    patient = calibration_summary(y, prob, groups=groups, n_bootstraps=500, random_state=0)
    frame = patient.to_frame()
    assert (frame["ci_low"] <= frame["value"]).all() and (frame["value"] <= frame["ci_high"]).all()
    width = lambda f: f["ci_high"] - f["ci_low"]  # noqa: E731
    # six images share each patient's outcome: the honest intervals are about sqrt(6) wider
    assert (width(frame) > 1.5 * width(sample)).all()
    assert patient.n_groups == 100
    assert "600 samples from 100 patients" in repr(patient)
    assert "500 patient-level bootstrap replicates" in repr(patient)
    again = calibration_summary(y, prob, groups=groups, n_bootstraps=500, random_state=0)
    pd.testing.assert_frame_equal(again.to_frame(), frame)
    pd.testing.assert_frame_equal(again.bins, patient.bins)


def test_table_and_plot():
    y, prob, _ = _calibration_data(seed=4)
    c = calibration_summary(y, prob, n_bins=5, n_bootstraps=100, random_state=0)
    assert isinstance(c, CalibrationSummary)
    prevalence = y.mean()
    assert c.table.loc["brier", "prevalence"] == pytest.approx(prevalence * (1 - prevalence))
    assert c.table["ideal"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert c.to_markdown().splitlines()[0] == "| metric | value | 95% CI | ideal | prevalence |"
    band = c.bins[["ci_low", "ci_high"]].to_numpy()
    assert (band[:, 0] <= c.bins["observed"] + 1e-12).all()
    ax = c.plot()
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["95% band", f"model (ECE {c.ece:.3f}, slope {c.slope:.2f})"]
    assert f"prevalence {prevalence:.3f}" in labels


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"y_prob": [0.2, 1.3, -0.1, 0.5]},
            r"y_prob must be probabilities in \[0, 1\]; got 2 value\(s\) outside \(1.3, -0.1\). "
            r"Pass predict_proba\(X\)\[:, 1\]",
        ),
        ({"y_prob": [0.2, np.inf, 0.1, 0.5]}, r"y_prob has 1 NaN or infinite value\(s\)"),
        ({"n_bins": 0}, r"n_bins=0 is invalid; use a positive integer"),
        ({"strategy": "kmeans"}, r"strategy='kmeans' is not supported; use 'uniform'"),
        ({"y_true": [0, 1, 2, 1]}, r"y_true has 3 classes"),
        ({"y_true": ["a", 1, 0, 1]}, r"y_true has labels of mixed types"),
        ({"n_bootstraps": -1}, r"n_bootstraps=-1 is invalid"),
    ],
)
def test_calibration_bad_inputs(kwargs, match):
    args = {"y_true": [0, 1, 0, 1], "y_prob": [0.2, 0.7, 0.4, 0.5], **kwargs}
    with pytest.raises(ValueError, match=match):
        calibration_summary(args.pop("y_true"), args.pop("y_prob"), **args)


# ------------------------------------------------------- bootstrap of the recalibration
def _patients(n_patients, per_patient, seed, slope=0.8, separated=False):
    """Logit predictions of patients with several samples each; codes 0 .. n_patients - 1."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(n_patients), per_patient)
    x = np.repeat(rng.normal(0, 1.5, n_patients), per_patient) + rng.normal(0, 0.5, len(codes))
    x = logit(np.clip(np.round(expit(x), 4), 1e-8, 1 - 1e-8))  # rounded like stored scores
    y = (rng.random(len(x)) < expit(0.2 + slope * x)).astype(float)
    if separated:
        y = (x > 0).astype(float)
    return x, y, codes


def _multiplicities(n_patients, n_replicates, seed):
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_patients, np.full(n_patients, 1 / n_patients), size=n_replicates)


def _full_fit(x, y):
    """The fit of all samples (NaN if separated) and the start of the replicates' fits."""
    a, b = fit_recalibration(x, y, np.ones((1, len(x))))
    full = (float(a[0]), float(b[0]))
    return full, (0.0, 1.0) if np.isnan(b[0]) else full


def _scipy_weighted_fit(x, y, w, start):
    """Reference: maximise the weighted log-likelihood with scipy's trust-region Newton."""

    def nll(theta):
        eta = theta[0] + theta[1] * x
        return np.sum(w * (np.logaddexp(0, eta) - y * eta))

    def grad(theta):
        r = w * (expit(theta[0] + theta[1] * x) - y)
        return np.array([r.sum(), r @ x])

    def hess(theta):
        v = w * expit(theta[0] + theta[1] * x) * expit(-(theta[0] + theta[1] * x))
        return np.array([[v.sum(), v @ x], [v @ x, v @ (x * x)]])

    result = optimize.minimize(nll, start, jac=grad, hess=hess, method="trust-exact",
                               options={"gtol": 1e-11})  # fmt: skip
    return result.x


def test_taylor_coefficients_equal_the_derivatives_of_expit():
    eta = np.array([-30.0, -3.0, -0.4, 0.0, 0.7, 5.0, 30.0])
    s = expit(eta)
    c = _recalibration._taylor_coefficients(eta, 3)
    np.testing.assert_allclose(c[:, 0], s, rtol=1e-15)
    np.testing.assert_allclose(c[:, 1], s * (1 - s), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(c[:, 2], s * (1 - s) * (1 - 2 * s) / 2, rtol=1e-12, atol=1e-16)
    third = s * (1 - s) * (1 - 6 * s + 6 * s * s) / 6
    np.testing.assert_allclose(c[:, 3], third, rtol=1e-11, atol=1e-16)


@pytest.mark.parametrize("per_patient", [1, 5])
def test_bootstrap_fits_equal_scipy_and_sklearn_on_each_replicate(per_patient):
    x, y, codes = _patients(400, per_patient, seed=10)
    full, start = _full_fit(x, y)
    boot = RecalibrationBootstrap(RecalibrationData.build(x, y, codes), full)
    weights = _multiplicities(400, 6, seed=11)
    a, b = boot.fit(weights)
    # the Taylor starts are all but the fits already: one pass over the samples confirms them
    a_start, b_start, trusted = boot.starts(weights.astype(float))
    assert trusted.all()
    np.testing.assert_allclose(a_start, a, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b_start, b, rtol=0, atol=1e-9)
    for r in range(len(weights)):
        w = weights[r, codes].astype(float)
        a_ref, b_ref = _scipy_weighted_fit(x, y, w, start)
        assert (a[r], b[r]) == pytest.approx((a_ref, b_ref), abs=1e-6)
        model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
        model.fit(x[:, None], y, sample_weight=w)
        assert (a[r], b[r]) == pytest.approx((model.intercept_[0], model.coef_[0, 0]), abs=1e-5)


@pytest.mark.parametrize(
    ("n_patients", "per_patient", "seed", "separated"),
    [(300, 4, 0, False), (40, 3, 1, False), (15, 2, 2, False), (25, 4, 3, True), (2000, 1, 4, False)],
)  # fmt: skip
def test_bootstrap_fits_equal_the_solver_started_at_the_full_fit(
    n_patients, per_patient, seed, separated
):
    """The Taylor starts change the cost, not the fits: the solver of every replicate
    before them (fit_recalibration from the full-data fit) gives the same values, and
    NaN for the same (separated) replicates."""
    x, y, codes = _patients(n_patients, per_patient, seed, separated=separated)
    full, start = _full_fit(x, y)
    weights = _multiplicities(n_patients, 150, seed + 100)
    boot = RecalibrationBootstrap(RecalibrationData.build(x, y, codes), full)
    a, b = boot.fit(weights)
    a_ref, b_ref = fit_recalibration(x, y, weights[:, codes].astype(float), start)
    np.testing.assert_array_equal(np.isnan(b), np.isnan(b_ref))
    np.testing.assert_allclose(a, a_ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-8)
    assert boot.taylor == (not separated)  # no series around a fit that does not exist
    # on separated data the previous solver stops on a few replicates with a huge slope
    # (its steps fall under the tolerance): kept as it was, as the rest
    if separated:
        assert np.isnan(b).mean() > 0.5
    elif n_patients == 15:
        assert np.isnan(b).any() and not np.isnan(b).all()  # some replicates separate


def test_bootstrap_fits_with_a_low_order_series_and_without_one(monkeypatch):
    """Many units leave room for a short series only (starts further off), or none."""
    x, y, codes = _patients(500, 2, seed=5)
    full, start = _full_fit(x, y)
    weights = _multiplicities(500, 40, seed=6)
    a_ref, b_ref = fit_recalibration(x, y, weights[:, codes].astype(float), start)
    data = RecalibrationData.build(x, y, codes)
    for cells, order in ((500 * 7, 1), (500 * 6, 0)):
        monkeypatch.setattr(_recalibration, "_MOMENT_CELLS", cells)
        assert _recalibration._taylor_order(len(x), 500) == order
        boot = RecalibrationBootstrap(data, full)
        assert boot.taylor == (order > 0)
        a, b = boot.fit(weights)
        np.testing.assert_allclose(a, a_ref, rtol=0, atol=1e-8)
        np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(3, 40),
    st.integers(1, 4),
    st.floats(-1.0, 3.0),
    st.integers(0, 2**16),
)
def test_bootstrap_fits_equal_the_previous_solver_on_random_data(
    n_patients, per_patient, slope, seed
):
    x, y, codes = _patients(n_patients, per_patient, seed, slope=slope)
    full, start = _full_fit(x, y)
    weights = _multiplicities(n_patients, 20, seed + 1)
    a, b = RecalibrationBootstrap(RecalibrationData.build(x, y, codes), full).fit(weights)
    a_ref, b_ref = fit_recalibration(x, y, weights[:, codes].astype(float), start)
    np.testing.assert_array_equal(np.isnan(b), np.isnan(b_ref))
    np.testing.assert_allclose(a, a_ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-8)


def _previous_replicates(y, prob, groups, n_bootstraps, seed):
    """Replicate slopes and intercepts of calibration_summary before the Taylor starts: the
    same replicates (chunks of width 2 n), each chunk fitted from the full-data fit."""
    x = logit(np.clip(prob, 1e-8, 1 - 1e-8))
    yf = y.astype(float)
    _, start = _full_fit(x, yf)
    classes = y.astype(np.intp)
    plan = (
        sample_plan(classes) if groups is None else plan_patients(groups, classes, n_samples=len(y))
    )
    fits = [
        fit_recalibration(x, yf, np.take(w, plan.codes, axis=1), start)
        for w in replicate_chunks(plan, n_bootstraps, as_generator(seed), width=2 * len(y))
    ]
    a, b = (np.concatenate(values) for values in zip(*fits, strict=True))
    return a, b


@pytest.mark.parametrize(("n", "n_patients"), [(3000, 300), (48, 12), (600, 600), (500, None)])
def test_summary_replicates_and_intervals_equal_the_previous_implementation(n, n_patients):
    y, prob, groups = _calibration_data(n=n, n_patients=n_patients, seed=8)
    ids = None if groups is None else np.char.add("p", groups.astype(str))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        c = calibration_summary(y, prob, groups=ids, n_bootstraps=300, random_state=3)
    a_ref, b_ref = _previous_replicates(y, prob, ids, 300, 3)
    data = _calibration._validate(y, prob, ids, 10, "uniform", 1)
    reps = _calibration._bootstrap(data, (c.intercept, c.slope), 300, as_generator(3))
    # the small set has separated replicates: NaN as before, the same ones
    assert np.isnan(b_ref).any() == (n_patients == 12)
    np.testing.assert_array_equal(np.isnan(reps["b"]), np.isnan(b_ref))
    np.testing.assert_allclose(reps["a"], a_ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(reps["b"], b_ref, rtol=0, atol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, values in (("slope", b_ref), ("intercept", a_ref)):
            expected = np.nanquantile(values, [0.025, 0.975])
            np.testing.assert_allclose(
                c.table.loc[name, ["ci_low", "ci_high"]], expected, atol=1e-8
            )


def test_separated_data_keep_nan_intervals():
    y = np.array([0, 0, 0, 1, 1, 1] * 4)
    prob = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9] * 4)
    groups = np.repeat(np.arange(12), 2).astype(str)
    with pytest.warns(MetricWarning, match=r"recalibration did not converge"):
        c = calibration_summary(y, prob, groups=groups, n_bootstraps=50, random_state=0)
    assert c.table.loc[["slope", "intercept"], ["ci_low", "ci_high"]].isna().all().all()
    assert c.table.loc["brier", ["ci_low", "ci_high"]].notna().all()


# ---------------------------------------------------------------------------- curves
def test_curve_points_and_areas_equal_sklearn():
    y, prob, _ = _calibration_data(seed=5)
    score = np.round(prob, 2)  # ties
    bands = curve_bands(y, score, n_bootstraps=50, random_state=0)
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(bands.fpr, fpr)
    np.testing.assert_allclose(bands.tpr, tpr)
    table = bands.to_frame()
    assert table.loc["roc_auc", "value"] == pytest.approx(roc_auc_score(y, score))
    assert table.loc["average_precision", "value"] == pytest.approx(
        average_precision_score(y, score)
    )
    assert table.loc["average_precision", "baseline"] == pytest.approx(y.mean())


def test_bands_agree_with_the_summary_and_widen_with_patients():
    y, prob, groups = _calibration_data(n=600, n_patients=100, seed=6)
    sample = curve_bands(y, prob, n_bootstraps=400, random_state=0)
    patient = curve_bands(y, prob, groups=groups, n_bootstraps=400, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        summary = classification_summary(
            y, prob >= 0.5, y_score=prob, groups=groups, n_bootstraps=2000, random_state=1
        ).to_frame()
    # the same patient-level bootstrap: the same AUC interval, up to Monte Carlo error
    np.testing.assert_allclose(
        patient.table.loc["roc_auc", ["ci_low", "ci_high"]],
        summary.loc["roc_auc", ["ci_low", "ci_high"]],
        atol=0.02,
    )
    width = lambda b: np.mean(b.tpr_band[1] - b.tpr_band[0])  # noqa: E731
    assert width(patient) > 1.5 * width(sample)
    # the point curve lies inside its band almost everywhere
    inside = (np.interp(sample.grid, sample.fpr, sample.tpr) >= sample.tpr_band[0] - 1e-9) & (
        np.interp(sample.grid, sample.fpr, sample.tpr) <= sample.tpr_band[1] + 1e-9
    )
    assert inside.mean() > 0.95
    assert "patient-level bootstrap replicates" in repr(patient)


def test_plots_draw_bands_and_baselines():
    y, prob, groups = _calibration_data(n=300, n_patients=50, seed=7)
    ax = plot_roc(y, prob, groups=groups, n_bootstraps=30, random_state=0)
    labels = ax.get_legend_handles_labels()[1]
    assert labels[0] == "95% patient-level band"
    assert labels[-1] == "chance (AUC 0.5)"
    ax = plot_pr(y, prob, n_bootstraps=30, random_state=0)
    assert ax.get_legend_handles_labels()[1][-1] == f"no skill (prevalence {y.mean():.3f})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        summary = classification_summary(y, prob >= 0.5, y_score=prob, groups=groups,
                                         n_bootstraps=30, random_state=0)  # fmt: skip
        no_score = classification_summary(y, prob >= 0.5, n_bootstraps=0)
    axes = summary.plot()
    assert [a.get_title() for a in axes] == ["ROC curve", "Precision-recall curve"]
    with pytest.raises(ValueError, match=r"plot\(\) draws ROC and precision-recall curves"):
        no_score.plot()
