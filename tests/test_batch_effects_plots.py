"""Tests for the batch-effect plots (Agg backend, return values, bad inputs)."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from pitfalls.batch_effects import (
    plot_batch_distributions,
    plot_permutation_null,
    plot_site_label,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_site_label_bars_are_fractions_per_site():
    labels = ["pneu"] * 3 + ["normal"] * 5
    sites = ["kids"] * 4 + ["adults"] * 4
    ax = plot_site_label(labels, sites)
    heights = np.array([p.get_height() for p in ax.patches]).reshape(2, 2)
    # columns: adults, kids (sorted); rows: normal, pneu
    np.testing.assert_allclose(heights, [[1.0, 0.25], [0.0, 0.75]])
    np.testing.assert_allclose(heights.sum(axis=0), 1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["normal", "pneu"]


def test_site_label_draws_on_given_axes_and_needs_batches():
    _, ax = plt.subplots()
    table = pd.crosstab(pd.Series(["a", "b"], name="site"), pd.Series([0, 1], name="y"))
    assert plot_site_label(table, ax=ax) is ax
    assert ax.get_xlabel() == "site"
    with pytest.raises(ValueError, match=re.escape("batches is None; pass the batch")):
        plot_site_label([0, 1])


def test_batch_distributions_one_axes_per_feature():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"glcm": rng.normal(size=40), "shape": rng.normal(size=40)})
    sites = np.repeat(["a", "b"], 20)
    axes = plot_batch_distributions(df, sites, features=["shape"], bins=5)
    assert len(axes) == 1
    assert axes[0].get_title() == "shape"
    # two sites, 5 bins each
    assert len(axes[0].patches) == 10
    with pytest.raises(ValueError, match=re.escape("features ['texture'] are not columns of X.")):
        plot_batch_distributions(df, sites, features=["texture"])
    with pytest.raises(ValueError, match=re.escape("batches has 3 entries but X has 40")):
        plot_batch_distributions(df, ["a", "b", "a"])


def test_permutation_null_marks_observed_and_chance():
    ax = plot_permutation_null(0.8, [0.4, 0.5, 0.6, np.nan], pvalue=0.2, chance=0.5)
    lines = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    assert lines == {"observed = 0.800 (p = 0.2)": 0.8, "chance = 0.5": 0.5}
