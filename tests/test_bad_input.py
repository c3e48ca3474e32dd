"""Bad input found while auditing (issue 15): ComBat at the float64 limit and without
convergence, assign_splits on an empty manifest. Each failed on the code before.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from pitfalls._manifest import ManifestError
from pitfalls.batch_effects import ComBat
from pitfalls.model_selection import assign_splits


def site_kwargs(sites):
    # ComBat's fit/transform argument (being renamed from ``batches`` to ``sites``).
    name = "sites" if "sites" in inspect.signature(ComBat.fit).parameters else "batches"
    return {name: sites}


def shifted_sites(seed=0):
    rng = np.random.default_rng(seed)
    sites = np.repeat(["a", "b", "c"], 30)
    X = rng.normal(size=(90, 4)) * [1.0, 2.0, 0.5, 3.0]
    X += (sites == "b")[:, None] * 2.0 + (sites == "c")[:, None] * rng.normal(0, 1, 4)
    X *= np.where(sites == "c", 1.8, 1.0)[:, None]
    return X, sites


@pytest.mark.parametrize("parametric", [True, False])
def test_combat_is_exactly_equivariant_to_power_of_two_scales(parametric):
    X, sites = shifted_sites()
    combat = ComBat(parametric=parametric)
    base = combat.fit_transform(X, **site_kwargs(sites))
    scaled = ComBat(parametric=parametric).fit_transform(X * 2.0**520, **site_kwargs(sites))
    np.testing.assert_array_equal(scaled, base * 2.0**520)  # bit for bit


def test_combat_harmonises_features_near_the_float64_limit():
    X, sites = shifted_sites(1)
    base = ComBat().fit_transform(X, **site_kwargs(sites))
    combat = ComBat().fit(X * 1e160, **site_kwargs(sites))  # was 100% NaN
    out = combat.transform(X * 1e160, **site_kwargs(sites))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out / 1e160, base, rtol=1e-9)
    assert np.isinf(combat.var_pooled_).all() and np.isfinite(combat.grand_mean_).all()


def test_combat_zero_variance_feature_keeps_the_median_variance_rule():
    X, sites = shifted_sites(2)
    X[:, 1] = 5.0
    combat = ComBat(empirical_bayes=False).fit(X, **site_kwargs(sites))
    design = (sites[:, None] == np.array(["a", "b", "c"])).astype(float)
    beta = np.linalg.lstsq(design, X, rcond=None)[0]
    residual_var = ((X - design @ beta) ** 2).mean(axis=0)
    expected = residual_var.copy()
    expected[1] = np.median(residual_var[[0, 2, 3]])
    np.testing.assert_allclose(combat.var_pooled_, expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_iter": 0}, r"max_iter=0 must be a positive integer; use e.g. 1000"),
        ({"max_iter": -3}, r"max_iter=-3 must be a positive integer"),
        ({"max_iter": 2.5}, r"max_iter=2.5 must be a positive integer"),
        ({"tol": -1}, r"tol=-1 must be a positive number; use e.g. 1e-4"),
        ({"tol": 0.0}, r"tol=0.0 must be a positive number"),
        ({"tol": float("nan")}, r"tol=nan must be a positive number"),
    ],
)
def test_combat_refuses_solver_settings_that_cannot_converge(kwargs, message):
    X, sites = shifted_sites()
    with pytest.raises(ValueError, match=message):
        ComBat(**kwargs).fit(X, **site_kwargs(sites))


def test_combat_warns_when_the_solver_stops_before_converging():
    X, sites = shifted_sites()
    with pytest.warns(ConvergenceWarning, match=r"did not converge .* in max_iter=1 iterations"):
        combat = ComBat(max_iter=1).fit(X, **site_kwargs(sites))
    assert (combat.n_iter_ == 1).all()
    ComBat().fit(X, **site_kwargs(sites))  # converges: no warning (warnings are errors here)


@pytest.mark.parametrize("label", [None, "label"])
def test_assign_splits_refuses_an_empty_manifest(label):
    empty = pd.DataFrame({"patient": pd.Series([], dtype=str), "label": pd.Series([], dtype=int)})
    with pytest.raises(
        ManifestError,
        match=r"the manifest has no rows; assign_splits needs at least one group \(patient\) "
        r"per split \(3 requested: 'train', 'val', 'test'\)",
    ):
        assign_splits(empty, group="patient", label=label)
