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


def test_site_label_draws_on_given_axes_and_needs_sites():
    _, ax = plt.subplots()
    table = pd.crosstab(pd.Series(["a", "b"], name="site"), pd.Series([0, 1], name="y"))
    assert plot_site_label(table, ax=ax) is ax
    assert ax.get_xlabel() == "site"
    with pytest.raises(ValueError, match=re.escape("sites is None; pass the site of each sample")):
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
    message = (
        "features has 'texture', which is neither a column of X nor a position in 0..1; "
        "X's columns are 'glcm', 'shape'."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_batch_distributions(df, sites, features=["texture"])
    with pytest.raises(ValueError, match=re.escape("position in 0..1")):
        plot_batch_distributions(df, sites, features=[2])
    with pytest.raises(ValueError, match=re.escape("sites has 3 entries but X has 40")):
        plot_batch_distributions(df, ["a", "b", "a"])


def test_batch_distributions_take_positions_of_a_dataframe():
    # the docstring allows positions for every X: a DataFrame's too (they were refused)
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(30, 6)), columns=[f"f{i}" for i in range(6)])
    sites = np.repeat(["a", "b", "c"], 10)
    by_position = plot_batch_distributions(df, sites, features=[0, 5], bins=4)
    assert [ax.get_title() for ax in by_position] == ["f0", "f5"]
    by_name = plot_batch_distributions(df, sites, features=["f0", "f5"], bins=4)
    for a, b in zip(by_position, by_name, strict=True):
        assert [p.get_height() for p in a.patches] == [p.get_height() for p in b.patches]
    # a label wins over a position when the columns are integers
    numbered = pd.DataFrame(df.to_numpy(), columns=[5, 4, 3, 2, 1, 0])
    assert [ax.get_title() for ax in plot_batch_distributions(numbered, sites, features=[0])] == [
        "0"
    ]
    np.testing.assert_allclose(
        [
            p.get_height()
            for p in plot_batch_distributions(numbered, sites, features=[0])[0].patches
        ],
        [p.get_height() for p in plot_batch_distributions(df, sites, features=[5])[0].patches],
    )


def test_deprecated_batches_keyword_of_the_plots():
    sites = ["a", "a", "b", "b"]
    with pytest.warns(FutureWarning, match="plot_site_label: the parameter 'batches'"):
        ax = plot_site_label([0, 1, 1, 1], batches=sites)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    with pytest.warns(FutureWarning, match="plot_batch_distributions: the parameter 'batches'"):
        axes = plot_batch_distributions(np.eye(4), batches=sites, features=[1])
    assert axes[0].get_title() == "feature 1"


def test_permutation_null_marks_observed_and_chance():
    ax = plot_permutation_null(0.8, [0.4, 0.5, 0.6, np.nan], pvalue=0.2, chance=0.5)
    lines = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    assert lines == {"observed = 0.800 (p = 0.2)": 0.8, "chance = 0.5": 0.5}
