"""The report's own figures, drawn on demand (matplotlib imported only when drawn).

Each function returns a new :class:`matplotlib.figure.Figure` built without pyplot, so
drawing never opens a window and never touches pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["forest_plot", "gap_bars", "grouped_bars", "new_figure"]


def new_figure(width: float = 6.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def grouped_bars(table: pd.DataFrame, *, title: str, ylabel: str, stacked: bool = False) -> Any:
    """One group of bars per row of ``table`` (a split), one bar per column (class, site)."""
    figure = new_figure(max(4.0, 1.2 * len(table) + 2.0), 3.6)
    ax = figure.add_subplot()
    positions = np.arange(len(table))
    n_bars = max(len(table.columns), 1)
    width = 0.8 if stacked else 0.8 / n_bars
    bottom = np.zeros(len(table))
    for k, column in enumerate(table.columns):
        values = table[column].to_numpy(dtype=float)
        offset = 0.0 if stacked else (k - (n_bars - 1) / 2) * width
        ax.bar(
            positions + offset,
            values,
            width=width,
            bottom=bottom if stacked else None,
            label=str(column),
        )
        if stacked:
            bottom = bottom + values
    ax.set_xticks(positions, [str(v) for v in table.index])
    ax.set(title=title, ylabel=ylabel, xlabel=str(table.index.name or ""))
    ax.legend(fontsize="small", title=str(table.columns.name or ""), frameon=False)
    return figure


def forest_plot(
    levels: pd.DataFrame, *, title: str, xlabel: str, reference: float | None = None
) -> Any:
    """One row per level: its estimate and interval (``value``, ``low``, ``high``)."""
    figure = new_figure(6.0, max(2.0, 0.45 * len(levels) + 1.2))
    ax = figure.add_subplot()
    y = np.arange(len(levels))[::-1]
    value = levels["value"].to_numpy(dtype=float)
    low = levels["low"].to_numpy(dtype=float)
    high = levels["high"].to_numpy(dtype=float)
    has_ci = ~(np.isnan(low) | np.isnan(high))
    ax.errorbar(
        value[has_ci],
        y[has_ci],
        xerr=[value[has_ci] - low[has_ci], high[has_ci] - value[has_ci]],
        fmt="o",
        color="tab:blue",
        capsize=3,
    )
    ax.plot(value[~has_ci], y[~has_ci], "o", color="tab:blue")
    if reference is not None:
        ax.axvline(reference, linestyle="--", color="grey", linewidth=1)
    ax.set_yticks(y, [str(v) for v in levels.index])
    ax.set(title=title, xlabel=xlabel)
    return figure


def gap_bars(
    names: Sequence[str],
    values: Sequence[Any],
    lows: Sequence[Any],
    highs: Sequence[Any],
    *,
    title: str,
    ylabel: str,
    colours: Sequence[str],
) -> Any:
    """Bars with interval whiskers (internal vs external, leaky vs correct)."""
    figure = new_figure(max(4.0, 1.3 * len(names) + 1.5), 3.8)
    ax = figure.add_subplot()
    value = np.asarray(values, dtype=float)
    low = np.asarray([np.nan if v is None else v for v in lows], dtype=float)
    high = np.asarray([np.nan if v is None else v for v in highs], dtype=float)
    positions = np.arange(len(names))
    ax.bar(positions, value, color=list(colours), width=0.6)
    has_ci = ~(np.isnan(low) | np.isnan(high))
    if has_ci.any():
        ax.errorbar(
            positions[has_ci],
            value[has_ci],
            yerr=[value[has_ci] - low[has_ci], high[has_ci] - value[has_ci]],
            fmt="none",
            color="black",
            capsize=4,
        )
    ax.set_xticks(positions, list(names))
    ax.set(title=title, ylabel=ylabel, ylim=(0, max(1.0, float(np.nanmax(np.r_[value, high])))))
    return figure
