"""ROC and precision-recall curves with bootstrap bands and the no-skill baselines drawn.

A curve without its uncertainty invites over-reading a bump; a curve without the
no-skill line (the diagonal for ROC, the prevalence for precision-recall) invites
reading a PR curve of a rare outcome as poor, or a ROC curve as good. Both are drawn.

Bands are pointwise percentile bands of the bootstrap curves: ROC curves are averaged
vertically (true positive rate at a grid of false positive rates), PR curves at a grid
of recalls (the precision at the first threshold that reaches that recall). With
``groups`` the bootstrap resamples patients, as :func:`classification_summary` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._cluster import (
    PatientPlan,
    as_generator,
    plan_patients,
    replicate_chunks,
    sample_plan,
)
from ._inputs import check_binary_target, check_scores_1d

__all__ = ["CurveBands", "CurveInputs", "curve_bands", "plot_pr", "plot_roc"]

_GRID = np.linspace(0.0, 1.0, 201)


@dataclass(frozen=True)
class CurveInputs:
    """What a summary keeps to draw its curves later (binary scores only)."""

    is_pos: np.ndarray
    score: np.ndarray
    groups: np.ndarray | None
    n_bootstraps: int
    confidence: float
    random_state: Any


@dataclass(frozen=True, repr=False)
class CurveBands:
    """Point ROC / PR curves, their bootstrap bands on a grid, and AUC / AP with CIs.

    Attributes
    ----------
    fpr, tpr : ndarray
        The ROC curve at every distinct threshold (from (0, 0) to (1, 1)).
    recall, precision : ndarray
        The precision-recall curve at every distinct threshold.
    grid : ndarray
        Grid of false positive rates (ROC) and recalls (PR) the bands are given on.
    tpr_band, precision_band : ndarray of shape (2, len(grid))
        Lower and upper percentile band.
    table : pandas.DataFrame
        Rows ``roc_auc``, ``average_precision``; columns ``value``, ``ci_low``,
        ``ci_high``, ``baseline`` (0.5, prevalence).
    unit : str
        ``"patient"`` or ``"sample"``: what the bootstrap resampled.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    grid: np.ndarray
    tpr_band: np.ndarray
    precision_band: np.ndarray
    table: pd.DataFrame
    prevalence: float
    n_bootstraps: int
    confidence: float
    unit: str

    def to_frame(self) -> pd.DataFrame:
        """AUC and AP with their CIs and baselines (a copy)."""
        return self.table.copy()

    def __repr__(self) -> str:
        auc = self.table.loc["roc_auc"]
        ap = self.table.loc["average_precision"]
        return (
            f"CurveBands(roc_auc={auc['value']:.3f} [{auc['ci_low']:.3f}, {auc['ci_high']:.3f}], "
            f"average_precision={ap['value']:.3f} [{ap['ci_low']:.3f}, {ap['ci_high']:.3f}], "
            f"{self.n_bootstraps} {self.unit}-level bootstrap replicates)"
        )


@dataclass(frozen=True)
class _Levels:
    """Samples sorted by descending score, and where each distinct score ends."""

    columns: np.ndarray  # weight column (patient) of each sorted sample
    is_pos: np.ndarray  # of each sorted sample
    ends: np.ndarray  # index of the last sample of each distinct score

    @classmethod
    def of(cls, score: np.ndarray, is_pos: np.ndarray, codes: np.ndarray) -> _Levels:
        order = np.argsort(-score, kind="stable")
        ends = np.flatnonzero(np.diff(score[order]) != 0)
        return cls(codes[order], is_pos[order], np.r_[ends, len(order) - 1])

    def curves(self, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        """FPR, TPR (both from 0), precision, recall per row of patient weights."""
        sample_weights = np.take(weights, self.columns, axis=1).astype(np.float64)
        seen = np.cumsum(sample_weights, axis=1)[:, self.ends]
        sample_weights *= self.is_pos
        tp = np.cumsum(sample_weights, axis=1)[:, self.ends]
        fp = seen - tp
        with np.errstate(divide="ignore", invalid="ignore"):
            tpr = tp / tp[:, -1:]
            fpr = fp / fp[:, -1:]
            # nothing predicted positive yet (a replicate without the top samples): 1, as
            # scikit-learn's precision_recall_curve starts
            precision = np.where(seen > 0, tp / np.where(seen > 0, seen, 1.0), 1.0)
        zeros = np.zeros((len(weights), 1))
        return np.hstack([zeros, fpr]), np.hstack([zeros, tpr]), precision, tpr


def _areas(fpr: np.ndarray, tpr: np.ndarray, precision: np.ndarray, recall: np.ndarray) -> Any:
    auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)
    steps = np.diff(np.hstack([np.zeros((len(recall), 1)), recall]), axis=1)
    ap = np.sum(steps * precision, axis=1)
    return auc, ap


def _on_grid(fpr: np.ndarray, tpr: np.ndarray, precision: np.ndarray, recall: np.ndarray) -> Any:
    tpr_grid = np.empty((len(fpr), len(_GRID)))
    precision_grid = np.empty((len(fpr), len(_GRID)))
    for r in range(len(fpr)):
        tpr_grid[r] = np.interp(_GRID, fpr[r], tpr[r])
        first = np.searchsorted(recall[r], _GRID, side="left")
        precision_grid[r] = precision[r][np.minimum(first, recall.shape[1] - 1)]
    return tpr_grid, precision_grid


def _plan(is_pos: np.ndarray, groups: Any) -> PatientPlan:
    classes = is_pos.astype(np.intp)
    if groups is None:
        return sample_plan(classes)
    return plan_patients(groups, classes, n_samples=len(is_pos))


def _bands(values: np.ndarray, confidence: float) -> np.ndarray:
    alpha = (1.0 - confidence) / 2.0
    return np.nanquantile(values, [alpha, 1.0 - alpha], axis=0)


def curve_bands(
    y_true: Any,
    y_score: Any,
    *,
    groups: Any = None,
    pos_label: Any = 1,
    n_bootstraps: int = 200,
    confidence: float = 0.95,
    random_state: Any = None,
) -> CurveBands:
    """ROC and PR curves with pointwise bootstrap bands (the numbers :func:`plot_roc` draws).

    Parameters are those of :func:`plot_roc`.

    Returns
    -------
    CurveBands

    Examples
    --------
    >>> from pitfalls.metrics import curve_bands
    >>> bands = curve_bands([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
    ...                     n_bootstraps=50, random_state=0)
    >>> table = bands.to_frame()
    >>> round(float(table.loc["roc_auc", "value"]), 3), float(table.loc["average_precision", "baseline"])
    (0.889, 0.5)
    """
    is_pos = check_binary_target(y_true, pos_label)
    score = check_scores_1d(y_score, len(is_pos), name="y_score")
    if not isinstance(n_bootstraps, (int, np.integer)) or n_bootstraps < 1:
        raise ValueError(f"n_bootstraps={n_bootstraps!r} is invalid; use a positive integer.")
    plan = _plan(is_pos, groups)
    levels = _Levels.of(score, is_pos, plan.codes)
    fpr, tpr, precision, recall = levels.curves(np.ones((1, plan.n_patients)))
    auc, ap = _areas(fpr, tpr, precision, recall)
    rng = as_generator(random_state)
    replicate_areas, tpr_grids, precision_grids = [], [], []
    for weights in replicate_chunks(plan, int(n_bootstraps), rng, width=3 * len(is_pos)):
        curves = levels.curves(weights)
        replicate_areas.append(np.column_stack(_areas(*curves)))
        tpr_grid, precision_grid = _on_grid(*curves)
        tpr_grids.append(tpr_grid)
        precision_grids.append(precision_grid)
    areas = _bands(np.concatenate(replicate_areas), confidence)
    prevalence = float(is_pos.mean())
    table = pd.DataFrame(
        {
            "value": [float(auc[0]), float(ap[0])],
            "ci_low": areas[0],
            "ci_high": areas[1],
            "baseline": [0.5, prevalence],
        },
        index=pd.Index(["roc_auc", "average_precision"], name="metric"),
    )
    return CurveBands(
        fpr=fpr[0],
        tpr=tpr[0],
        recall=recall[0],
        precision=precision[0],
        grid=_GRID.copy(),
        tpr_band=_bands(np.concatenate(tpr_grids), confidence),
        precision_band=_bands(np.concatenate(precision_grids), confidence),
        table=table,
        prevalence=prevalence,
        n_bootstraps=int(n_bootstraps),
        confidence=float(confidence),
        unit="sample" if groups is None else "patient",
    )


def _new_axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(4.5, 4.0), layout="constrained").add_subplot()


def _draw_roc(bands: CurveBands, ax: Any) -> Any:
    ax = _new_axes(ax)
    row = bands.table.loc["roc_auc"]
    pct = f"{100 * bands.confidence:g}%"
    ax.fill_between(bands.grid, *bands.tpr_band, alpha=0.25, color="tab:blue", linewidth=0,
                    label=f"{pct} {bands.unit}-level band")  # fmt: skip
    ax.plot(bands.fpr, bands.tpr, color="tab:blue",
            label=f"AUC {row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]")  # fmt: skip
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance (AUC 0.5)")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="false positive rate (1 - specificity)",
           ylabel="true positive rate (sensitivity)", title="ROC curve")  # fmt: skip
    ax.legend(loc="lower right", fontsize="small")
    return ax


def _draw_pr(bands: CurveBands, ax: Any) -> Any:
    ax = _new_axes(ax)
    row = bands.table.loc["average_precision"]
    pct = f"{100 * bands.confidence:g}%"
    ax.fill_between(bands.grid, *bands.precision_band, step="post", alpha=0.25,
                    color="tab:orange", linewidth=0, label=f"{pct} {bands.unit}-level band")  # fmt: skip
    ax.step(np.r_[0.0, bands.recall], np.r_[bands.precision[0], bands.precision], where="pre",
            color="tab:orange",
            label=f"AP {row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]")  # fmt: skip
    ax.axhline(bands.prevalence, linestyle="--", color="grey",
               label=f"no skill (prevalence {bands.prevalence:.3f})")  # fmt: skip
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall (sensitivity)",
           ylabel="precision (PPV)", title="Precision-recall curve")  # fmt: skip
    ax.legend(loc="lower left", fontsize="small")
    return ax


def plot_roc(
    y_true: Any,
    y_score: Any,
    *,
    groups: Any = None,
    pos_label: Any = 1,
    n_bootstraps: int = 200,
    confidence: float = 0.95,
    random_state: Any = None,
    ax: Any = None,
) -> Any:
    """ROC curve with a bootstrap band, its AUC with CI, and the chance diagonal.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of a binary problem.
    y_score : array-like of shape (n_samples,)
        Score (probability) of ``pos_label``.
    groups : array-like of shape (n_samples,), optional
        Patient id of each sample: the bootstrap then resamples patients (stratified by
        the patient's class), so the band is patient-level.
    pos_label : object, default=1
        The positive class.
    n_bootstraps : int, default=200
        Bootstrap replicates of the band.
    confidence : float, default=0.95
        Coverage of the pointwise percentile band and of the AUC interval.
    random_state : int or numpy Generator, optional
        Seed of the bootstrap.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure (no pyplot needed).

    Returns
    -------
    matplotlib.axes.Axes

    See Also
    --------
    curve_bands : The numbers behind the figure.
    plot_pr : The precision-recall curve.

    Examples
    --------
    >>> from pitfalls.metrics import plot_roc
    >>> ax = plot_roc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], n_bootstraps=20,
    ...               random_state=0)
    >>> ax.get_legend_handles_labels()[1][-1]
    'chance (AUC 0.5)'
    """
    bands = curve_bands(y_true, y_score, groups=groups, pos_label=pos_label,
                        n_bootstraps=n_bootstraps, confidence=confidence,
                        random_state=random_state)  # fmt: skip
    return _draw_roc(bands, ax)


def plot_pr(
    y_true: Any,
    y_score: Any,
    *,
    groups: Any = None,
    pos_label: Any = 1,
    n_bootstraps: int = 200,
    confidence: float = 0.95,
    random_state: Any = None,
    ax: Any = None,
) -> Any:
    """Precision-recall curve with a bootstrap band, AP with CI, and the prevalence line.

    The horizontal line is the precision of a model with no skill (it equals the
    prevalence at every recall): on a rare outcome a PR curve far below 1 can still be
    far above it, and a ROC curve can look good while precision stays near it.

    Parameters are those of :func:`plot_roc`.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from pitfalls.metrics import plot_pr
    >>> ax = plot_pr([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], n_bootstraps=20,
    ...              random_state=0)
    >>> ax.get_legend_handles_labels()[1][-1]
    'no skill (prevalence 0.500)'
    """
    bands = curve_bands(y_true, y_score, groups=groups, pos_label=pos_label,
                        n_bootstraps=n_bootstraps, confidence=confidence,
                        random_state=random_state)  # fmt: skip
    return _draw_pr(bands, ax)


def plot_summary_curves(inputs: CurveInputs, axes: Any, *, n_bootstraps: int | None) -> Any:
    """Both curves of a :class:`ClassificationSummary`, side by side."""
    if axes is None:
        from matplotlib.figure import Figure

        axes = Figure(figsize=(9.0, 4.0), layout="constrained").subplots(1, 2)
    n = n_bootstraps if n_bootstraps is not None else min(max(inputs.n_bootstraps, 1), 500)
    bands = curve_bands(inputs.is_pos, inputs.score, groups=inputs.groups, pos_label=True,
                        n_bootstraps=n, confidence=inputs.confidence,
                        random_state=inputs.random_state)  # fmt: skip
    _draw_roc(bands, axes[0])
    _draw_pr(bands, axes[1])
    return np.asarray(axes)
