"""Plots that make a batch effect visible (matplotlib, safe under the Agg backend)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from pitfalls._deprecation import renamed_kwargs
from pitfalls._validation import check_sites, describe_values

__all__ = ["plot_batch_distributions", "plot_permutation_null", "plot_site_label"]


def _new_axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


@renamed_kwargs(batches="sites")
def plot_site_label(
    table_or_labels: Any,
    sites: Any = None,
    *,
    ax: Any = None,
    normalize: bool = True,
) -> Any:
    """Stacked bar per site showing its label mix.

    A site whose bar is a single colour holds a single label: the site alone then
    predicts the label.

    Parameters
    ----------
    table_or_labels : pandas.DataFrame or array-like
        Either a contingency table (rows: sites, columns: labels, as in
        ``ConfoundingResult.table``) or the label of each sample.
    sites : array-like, optional
        Site of each sample; required when ``table_or_labels`` holds labels. Formerly
        ``batches`` (deprecated, removed in 0.3).
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is created when None.
    normalize : bool, default=True
        Show fractions within each site (True) or raw counts (False).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from pitfalls.batch_effects import plot_site_label
    >>> ax = plot_site_label([0, 0, 1, 1, 1], ["a", "a", "a", "b", "b"])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b']
    """
    if isinstance(table_or_labels, pd.DataFrame):
        table = table_or_labels
    else:
        if sites is None:
            raise ValueError(
                "sites is None; pass the site of each sample, or a contingency table "
                "(rows: sites, columns: labels) as the first argument."
            )
        from pitfalls.batch_effects._confounding import contingency_table

        table = contingency_table(table_or_labels, sites)
    values = table.to_numpy(dtype=float)
    if normalize:
        values = values / values.sum(axis=1, keepdims=True)
    ax = _new_axes(ax)
    positions = np.arange(values.shape[0])
    bottom = np.zeros(values.shape[0])
    for j, label in enumerate(table.columns):
        ax.bar(positions, values[:, j], bottom=bottom, label=str(label))
        bottom += values[:, j]
    ax.set_xticks(positions)
    ax.set_xticklabels([str(b) for b in table.index])
    ax.set_xlabel(str(table.index.name or "site"))
    ax.set_ylabel("fraction of samples" if normalize else "number of samples")
    ax.legend(title=str(table.columns.name or "label"))
    return ax


def _resolve_features(frame: pd.DataFrame, features: Any) -> list[Any]:
    """Column labels of ``features``: each a label of ``frame`` or else a position in it."""
    if features is None:
        return list(frame.columns[:4])
    if isinstance(features, str) or not np.iterable(features):
        features = [features]
    n_columns = frame.shape[1]
    resolved = []
    for feature in features:
        if feature in frame.columns:
            resolved.append(feature)
        elif (
            isinstance(feature, numbers.Integral)
            and not isinstance(feature, bool)
            and -n_columns <= feature < n_columns
        ):
            resolved.append(frame.columns[feature])
        else:
            raise ValueError(
                f"features has {feature!r}, which is neither a column of X nor a position "
                f"in 0..{n_columns - 1}; X's columns are {describe_values(frame.columns)}."
            )
    return resolved


@renamed_kwargs(batches="sites")
def plot_batch_distributions(
    X: Any,
    sites: Any,
    *,
    features: Any = None,
    bins: int = 30,
    axes: Any = None,
) -> Any:
    """Histogram of each selected feature, one colour per site.

    Shifted or rescaled distributions between sites are the signature that a model can
    learn instead of the disease, and what :class:`ComBat` removes.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Features.
    sites : array-like of shape (n_samples,)
        Site of each sample. Formerly ``batches`` (deprecated, removed in 0.3).
    features : list of int or str, optional
        Columns to plot: column names of a DataFrame ``X``, or positions (``0`` is the
        first column; a name that is also a column label wins). Default: the first four.
    bins : int, default=30
        Histogram bins (shared by the sites of one feature).
    axes : array of matplotlib Axes, optional
        One Axes per feature; a new figure is created when None.

    Returns
    -------
    numpy.ndarray of matplotlib Axes

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, ``sites`` does not hold one site per sample, a feature is
        neither a column nor a position, or ``axes`` does not hold one Axes per feature.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import pandas as pd
    >>> from pitfalls.batch_effects import plot_batch_distributions
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> axes = plot_batch_distributions(X, ["a", "a", "a", "b", "b", "b"], bins=3)
    >>> len(axes), axes[0].get_title()
    (2, 'feature 0')
    >>> df = pd.DataFrame(X, columns=["age", "volume"])
    >>> [ax.get_title() for ax in plot_batch_distributions(df, list("aaabbb"), features=[1])]
    ['volume']
    """
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float))
    if frame.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {frame.shape}.")
    site_arr = check_sites(sites, frame.shape[0])
    features = _resolve_features(frame, features)
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, len(features), figsize=(3.5 * len(features), 3), squeeze=False)
        axes = axes[0]
    axes = np.atleast_1d(np.asarray(axes, dtype=object))
    if len(axes) != len(features):
        raise ValueError(f"axes has {len(axes)} Axes but {len(features)} features are plotted.")
    levels = pd.unique(site_arr)
    for ax, feature in zip(axes, features, strict=True):
        column = frame[feature].to_numpy(dtype=float)
        edges = np.histogram_bin_edges(column[np.isfinite(column)], bins=bins)
        for level in levels:
            ax.hist(
                column[site_arr == level], bins=edges, alpha=0.5, density=True, label=str(level)
            )
        ax.set_title(f"feature {feature}" if not isinstance(X, pd.DataFrame) else str(feature))
        ax.set_ylabel("density")
    axes[0].legend(title="site")
    return axes


def plot_permutation_null(
    score: float,
    null_scores: Any,
    *,
    pvalue: float | None = None,
    chance: float | None = None,
    ax: Any = None,
    xlabel: str = "score",
) -> Any:
    """Histogram of permutation-null scores with the observed score marked.

    Parameters
    ----------
    score : float
        Observed probe score.
    null_scores : array-like
        Scores obtained after permuting the target.
    pvalue : float, optional
        Shown in the legend.
    chance : float, optional
        Chance level, drawn as a dotted line (0.5 for ROC AUC).
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is created when None.
    xlabel : str, default="score"
        Label of the x axis.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from pitfalls.batch_effects import plot_permutation_null
    >>> ax = plot_permutation_null(0.9, [0.45, 0.5, 0.55], pvalue=0.25, chance=0.5)
    >>> ax.get_xlabel()
    'score'
    """
    null = np.asarray(null_scores, dtype=float)
    ax = _new_axes(ax)
    finite = null[np.isfinite(null)]
    if finite.size:
        ax.hist(
            finite, bins=min(30, max(5, finite.size // 3)), color="0.7", label="permutation null"
        )
    observed = f"observed = {score:.3f}" + (f" (p = {pvalue:.3g})" if pvalue is not None else "")
    ax.axvline(score, color="C3", linewidth=2, label=observed)
    if chance is not None:
        ax.axvline(chance, color="k", linestyle=":", label=f"chance = {chance:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("permutations")
    ax.legend()
    return ax
