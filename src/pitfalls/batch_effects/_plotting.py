"""Plots that make a batch effect visible (matplotlib, safe under the Agg backend)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["plot_batch_distributions", "plot_permutation_null", "plot_site_label"]


def _new_axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


def plot_site_label(
    table_or_labels: Any,
    batches: Any = None,
    *,
    ax: Any = None,
    normalize: bool = True,
) -> Any:
    """Stacked bar per batch (site) showing its label mix.

    A batch whose bar is a single colour holds a single label: the site alone then
    predicts the label.

    Parameters
    ----------
    table_or_labels : pandas.DataFrame or array-like
        Either a contingency table (rows: batches, columns: labels, as in
        ``ConfoundingResult.table``) or the label of each sample.
    batches : array-like, optional
        Batch of each sample; required when ``table_or_labels`` holds labels.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is created when None.
    normalize : bool, default=True
        Show fractions within each batch (True) or raw counts (False).

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
        if batches is None:
            raise ValueError(
                "batches is None; pass the batch of each sample, or a contingency table "
                "(rows: batches, columns: labels) as the first argument."
            )
        from pitfalls.batch_effects._confounding import contingency_table

        table = contingency_table(table_or_labels, batches)
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
    ax.set_xlabel(str(table.index.name or "batch"))
    ax.set_ylabel("fraction of samples" if normalize else "number of samples")
    ax.legend(title=str(table.columns.name or "label"))
    return ax


def plot_batch_distributions(
    X: Any,
    batches: Any,
    *,
    features: Any = None,
    bins: int = 30,
    axes: Any = None,
) -> Any:
    """Histogram of each selected feature, one colour per batch (site).

    Shifted or rescaled distributions between batches are the signature that a model can
    learn instead of the disease, and what :class:`ComBat` removes.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Features.
    batches : array-like of shape (n_samples,)
        Batch of each sample.
    features : list of int or str, optional
        Columns to plot (positions, or names when ``X`` is a DataFrame). Default: the
        first four.
    bins : int, default=30
        Histogram bins (shared by the batches of one feature).
    axes : array of matplotlib Axes, optional
        One Axes per feature; a new figure is created when None.

    Returns
    -------
    numpy.ndarray of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from pitfalls.batch_effects import plot_batch_distributions
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> axes = plot_batch_distributions(X, ["a", "a", "a", "b", "b", "b"], bins=3)
    >>> len(axes), axes[0].get_title()
    (2, 'feature 0')
    """
    from pitfalls._validation import check_batches

    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float))
    if frame.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {frame.shape}.")
    batch_arr = check_batches(batches, frame.shape[0])
    if features is None:
        features = list(frame.columns[:4])
    elif not isinstance(X, pd.DataFrame):
        features = [int(f) for f in features]
    unknown = [f for f in features if f not in frame.columns]
    if unknown:
        raise ValueError(f"features {unknown!r} are not columns of X.")
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, len(features), figsize=(3.5 * len(features), 3), squeeze=False)
        axes = axes[0]
    axes = np.atleast_1d(np.asarray(axes, dtype=object))
    if len(axes) != len(features):
        raise ValueError(f"axes has {len(axes)} Axes but {len(features)} features are plotted.")
    levels = pd.unique(batch_arr)
    for ax, feature in zip(axes, features, strict=True):
        column = frame[feature].to_numpy(dtype=float)
        edges = np.histogram_bin_edges(column[np.isfinite(column)], bins=bins)
        for level in levels:
            ax.hist(
                column[batch_arr == level], bins=edges, alpha=0.5, density=True, label=str(level)
            )
        ax.set_title(f"feature {feature}" if not isinstance(X, pd.DataFrame) else str(feature))
        ax.set_ylabel("density")
    axes[0].legend(title="batch")
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
