"""Calibration: are the predicted probabilities the observed frequencies?

A model can rank patients well (high AUC) and still say "80%" for patients of whom 40%
have the disease. :func:`calibration_summary` reports the Brier score, the expected
calibration error, and the calibration slope and intercept of logistic recalibration,
each with a bootstrap interval (patient-level when ``groups`` is given), beside the
values of a model that predicts the prevalence for everyone.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from threadpoolctl import threadpool_limits

from .._tables import format_number, markdown_table, text_table
from ..exceptions import MetricWarning
from ._cluster import PatientPlan, as_generator, plan_patients, replicate_chunks, sample_plan
from ._inputs import check_binary_target, check_probabilities

__all__ = ["CalibrationSummary", "calibration_summary"]

# Probabilities are clipped to [_EPS, 1 - _EPS] before the logit of the recalibration.
_EPS = 1e-8
_MAX_NEWTON = 50
_MAX_HALVINGS = 30  # of a Newton step that would lower the likelihood
_TOLERANCE = 1e-10
_STRATEGIES = ("uniform", "quantile")


# --------------------------------------------------------------------------- pieces
def bin_edges(prob: np.ndarray, n_bins: int, strategy: str) -> np.ndarray:
    """Bin edges of the reliability diagram, as :func:`sklearn.calibration.calibration_curve`."""
    if strategy == "quantile":
        return np.percentile(prob, np.linspace(0.0, 100.0, n_bins + 1))
    return np.linspace(0.0, 1.0, n_bins + 1)


def fit_recalibration(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, start: tuple[float, float] = (0.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression ``P(y) = expit(a + b x)``, one fit per row of ``weights``.

    Newton-Raphson with step halving (each step raises the likelihood), all rows at
    once; a row that does not converge (separation, a singular Hessian) gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._calibration import fit_recalibration
    >>> x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 0.5])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    >>> a, b = fit_recalibration(x, y, np.ones((1, 6)))
    >>> round(float(a[0]), 4), round(float(b[0]), 4)
    (-0.0827, 0.8028)
    """
    rows = len(weights)
    a, b = np.full(rows, start[0]), np.full(rows, start[1])
    active = np.ones(rows, dtype=bool)
    converged = np.zeros(rows, dtype=bool)
    x2 = x * x
    with np.errstate(all="ignore"):  # a diverging (separated) row turns inf / nan: dropped
        _newton(a, b, active, converged, (x, x2, y, weights))
    a[~converged] = np.nan
    b[~converged] = np.nan
    return a, b


def _newton(
    a: np.ndarray, b: np.ndarray, active: np.ndarray, converged: np.ndarray, data: tuple
) -> None:
    x, x2, y, weights = data
    # The log-likelihood at each active row's (a, b): the last step's accepted value is the
    # next step's starting one, so it is computed once per step, not twice.
    before = None
    for _ in range(_MAX_NEWTON):
        w = weights[active]
        mu = expit(a[active, None] + b[active, None] * x)
        resid, curvature = w * (y - mu), w * (mu * (1.0 - mu))
        g0, g1 = resid.sum(axis=1), resid @ x
        h00, h01, h11 = curvature.sum(axis=1), curvature @ x, curvature @ x2
        det = h00 * h11 - h01 * h01
        step_a = (h11 * g0 - h01 * g1) / det
        step_b = (h00 * g1 - h01 * g0) / det
        # A full Newton step from far away can overshoot and diverge on data whose
        # maximum-likelihood fit exists: shorten it until the likelihood does not drop.
        if before is None:
            before = _log_likelihood(a[active], b[active], x, y, w)
        scale, after = _ascent_scale(a[active], b[active], step_a, step_b, (x, y, w), before)
        step_a, step_b = scale * step_a, scale * step_b
        a[active] += step_a
        b[active] += step_b
        index = np.flatnonzero(active)
        finished = np.abs(step_a) + np.abs(step_b) < _TOLERANCE * (1.0 + np.abs(b[index]))
        broken = ~np.isfinite(step_a + step_b)
        converged[index[finished & ~broken]] = True
        active[index[finished | broken]] = False
        before = None if after is None else after[~(finished | broken)]
        if not active.any():
            break


def _log_likelihood(
    a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> Any:
    z = a[:, None] + b[:, None] * x
    return (w * (y * z - np.logaddexp(0.0, z))).sum(axis=1)


def _ascent_scale(
    a: np.ndarray,
    b: np.ndarray,
    step_a: np.ndarray,
    step_b: np.ndarray,
    data: tuple,
    before: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per row, the largest of 1, 1/2, 1/4... whose step does not lower the likelihood.

    Returns the scales and the log-likelihood after the scaled steps (None when some
    row still lowered it after every halving: its last scale was not evaluated).
    """
    x, y, w = data
    scale = np.ones_like(a)
    for _ in range(_MAX_HALVINGS):
        after = _log_likelihood(a + scale * step_a, b + scale * step_b, x, y, w)
        worse = after < before - 1e-12 * np.abs(before)
        if not worse.any():
            return scale, after
        scale[worse] *= 0.5
    return scale, None


@dataclass(frozen=True)
class _Data:
    is_pos: np.ndarray
    prob: np.ndarray
    x: np.ndarray  # logit of the clipped probabilities
    bins: np.ndarray  # bin of each sample
    edges: np.ndarray
    plan: PatientPlan

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    def per_patient(self) -> np.ndarray:
        """Sums per patient: squared error, count, then count / sum y / sum p per bin."""
        codes, g, k = self.plan.codes, self.plan.n_patients, self.n_bins
        y = self.is_pos.astype(float)
        columns = [
            np.bincount(codes, weights=(self.prob - y) ** 2, minlength=g),
            np.bincount(codes, minlength=g).astype(float),
        ]
        cell = codes * k + self.bins
        for values in (np.ones_like(y), y, self.prob):
            columns.append(np.bincount(cell, weights=values, minlength=g * k).reshape(g, k))
        return np.column_stack(columns)


def _scores(sums: np.ndarray, n_bins: int) -> dict[str, np.ndarray]:
    """Brier, ECE and per-bin observed / predicted means from (replicate) sums."""
    count = sums[:, 2 : 2 + n_bins]
    sum_y = sums[:, 2 + n_bins : 2 + 2 * n_bins]
    sum_p = sums[:, 2 + 2 * n_bins :]
    total = sums[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = sum_y / count
        predicted = sum_p / count
        ece = np.abs(sum_y - sum_p).sum(axis=1) / total
        brier = sums[:, 0] / total
    return {"brier": brier, "ece": ece, "observed": observed, "predicted": predicted}


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False, eq=False)
class CalibrationSummary:
    """Result of :func:`calibration_summary`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``brier``, ``ece``, ``slope``, ``intercept``; columns ``value``,
        ``ci_low``, ``ci_high``, ``ideal`` (perfect calibration) and ``prevalence``
        (a model that predicts the prevalence for everyone).
    bins : pandas.DataFrame
        The reliability diagram: one row per bin with ``lower``, ``upper``, ``n``,
        ``mean_predicted``, ``observed`` and the bootstrap interval of ``observed``.
    n_samples : int
    n_groups : int or None
        Patients, when the bootstrap resampled patients.
    n_bootstraps : int
    confidence : float
    prevalence : float
    warnings : tuple of str

    Examples
    --------
    >>> from pitfalls.metrics import calibration_summary
    >>> c = calibration_summary([0, 0, 1, 1, 0, 1], [0.2, 0.6, 0.4, 0.9, 0.1, 0.7], n_bootstraps=0)
    >>> round(c.brier, 4), c.table.index.tolist()
    (0.145, ['brier', 'ece', 'slope', 'intercept'])
    """

    table: pd.DataFrame
    bins: pd.DataFrame
    n_samples: int
    n_groups: int | None
    n_bootstraps: int
    confidence: float
    prevalence: float
    warnings: tuple[str, ...]

    @property
    def brier(self) -> float:
        """Brier score (mean squared error of the probabilities; lower is better)."""
        return float(self.table.loc["brier", "value"])

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean gap between observed and predicted."""
        return float(self.table.loc["ece", "value"])

    @property
    def slope(self) -> float:
        """Calibration slope (1 is ideal; below 1: predictions too extreme, overfitting)."""
        return float(self.table.loc["slope", "value"])

    @property
    def intercept(self) -> float:
        """Calibration intercept of the recalibration fit (0 is ideal)."""
        return float(self.table.loc["intercept", "value"])

    def to_frame(self) -> pd.DataFrame:
        """The table as a new DataFrame.

        Examples
        --------
        >>> from pitfalls.metrics import calibration_summary
        >>> c = calibration_summary([0, 0, 1, 1, 0, 1], [0.2, 0.6, 0.4, 0.9, 0.1, 0.7], n_bootstraps=0)
        >>> c.to_frame().columns.tolist()
        ['value', 'ci_low', 'ci_high', 'ideal', 'prevalence']
        """
        return self.table.copy()

    def _rows(self, digits: int) -> tuple[list[str], list[list[str]]]:
        header = ["metric", "value", f"{100 * self.confidence:g}% CI", "ideal", "prevalence"]
        rows = []
        for name, row in self.table.iterrows():
            ci = (
                ""
                if not self.n_bootstraps
                else f"[{format_number(row['ci_low'], digits)}, {format_number(row['ci_high'], digits)}]"
            )
            cells = [row["value"], row["ideal"], row["prevalence"]]
            rows.append([str(name), *(format_number(float(v), digits) for v in cells)])
            rows[-1].insert(2, ci)
        return header, rows

    def _title(self) -> str:
        unit = (
            f"{self.n_samples} samples"
            if self.n_groups is None
            else f"{self.n_samples} samples from {self.n_groups} patients"
        )
        kind = "patient-level" if self.n_groups is not None else "stratified"
        boot = (
            f"{100 * self.confidence:g}% CI: percentile, {self.n_bootstraps} {kind} bootstrap replicates"
            if self.n_bootstraps
            else "no bootstrap (n_bootstraps=0)"
        )
        return (
            f"Calibration summary: {unit}, prevalence {self.prevalence:.3f}, "
            f"{len(self.bins)} bins\n{boot}"
        )

    def to_text(self, digits: int = 3) -> str:
        """Plain-text table (what ``print`` shows).

        Examples
        --------
        >>> from pitfalls.metrics import calibration_summary
        >>> c = calibration_summary([0, 0, 1, 1, 0, 1], [0.2, 0.6, 0.4, 0.9, 0.1, 0.7], n_bootstraps=0)
        >>> print(c.to_text().splitlines()[3])
        brier      0.145          0.000       0.250
        """
        header, rows = self._rows(digits)
        return f"{self._title()}\n{text_table(header, rows)}"

    def to_markdown(self, digits: int = 3) -> str:
        """Markdown table.

        Examples
        --------
        >>> from pitfalls.metrics import calibration_summary
        >>> c = calibration_summary([0, 0, 1, 1, 0, 1], [0.2, 0.6, 0.4, 0.9, 0.1, 0.7], n_bootstraps=0)
        >>> print(c.to_markdown().splitlines()[0])
        | metric | value | 95% CI | ideal | prevalence |
        """
        header, rows = self._rows(digits)
        return markdown_table(header, rows)

    def plot(self, ax: Any = None) -> Any:
        """Reliability diagram: observed vs predicted per bin, with the bootstrap band.

        Draws the diagonal (perfect calibration) and the prevalence line (a model that
        predicts the prevalence for everyone), and the number of samples per bin as a
        bar chart along the bottom.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> from pitfalls.metrics import calibration_summary
        >>> c = calibration_summary([0, 0, 1, 1, 0, 1], [0.2, 0.6, 0.4, 0.9, 0.1, 0.7],
        ...                         n_bins=3, n_bootstraps=20, random_state=0)
        >>> c.plot().get_xlabel()
        'mean predicted probability'
        """
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(4.5, 4.5), layout="constrained").add_subplot()
        bins = self.bins[self.bins["n"] > 0]
        x = bins["mean_predicted"].to_numpy()
        if self.n_bootstraps:
            ax.fill_between(x, bins["ci_low"], bins["ci_high"], alpha=0.25, color="tab:blue",
                            linewidth=0, label=f"{100 * self.confidence:g}% band")  # fmt: skip
        ax.plot(x, bins["observed"], marker="o", color="tab:blue",
                label=f"model (ECE {self.ece:.3f}, slope {self.slope:.2f})")  # fmt: skip
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        ax.axhline(self.prevalence, linestyle=":", color="tab:red",
                   label=f"prevalence {self.prevalence:.3f}")  # fmt: skip
        share = bins["n"].to_numpy() / max(self.n_samples, 1)
        width = (bins["upper"] - bins["lower"]).to_numpy()
        ax.bar(bins["lower"], 0.2 * share / share.max(), width=width, align="edge",
               color="grey", alpha=0.3, label="samples per bin (scaled)")  # fmt: skip
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted probability",
               ylabel="observed frequency", title="Reliability diagram")  # fmt: skip
        ax.legend(loc="upper left", fontsize="small")
        return ax

    def __repr__(self) -> str:
        return self.to_text()


# --------------------------------------------------------------------------- phases
def _validate(
    y_true: Any, y_prob: Any, groups: Any, n_bins: int, strategy: str, pos_label: Any
) -> _Data:
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins={n_bins!r} is invalid; use a positive integer, e.g. 10.")
    if strategy not in _STRATEGIES:
        raise ValueError(
            f"strategy={strategy!r} is not supported; use 'uniform' (equal-width bins) or "
            "'quantile' (equal-count bins)."
        )
    is_pos = check_binary_target(y_true, pos_label)
    prob = check_probabilities(y_prob, len(is_pos), name="y_prob")
    edges = bin_edges(prob, int(n_bins), strategy)
    bins = np.searchsorted(edges[1:-1], prob)  # scikit-learn's calibration_curve binning
    classes = is_pos.astype(np.intp)
    plan = (
        sample_plan(classes)
        if groups is None
        else plan_patients(groups, classes, n_samples=len(prob))
    )
    x = logit(np.clip(prob, _EPS, 1.0 - _EPS))
    return _Data(is_pos, prob, x, bins, edges, plan)


def _bootstrap(
    data: _Data, start: tuple[float, float], n_bootstraps: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Replicates of every statistic; the same patients for all of them."""
    per_patient = data.per_patient()
    y = data.is_pos.astype(float)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("brier", "ece", "observed", "a", "b")}
    for weights in replicate_chunks(data.plan, n_bootstraps, rng, width=2 * len(y)):
        with threadpool_limits(limits=1, user_api="blas"):
            scores = _scores(weights.astype(np.float64) @ per_patient, data.n_bins)
        a, b = fit_recalibration(data.x, y, np.take(weights, data.plan.codes, axis=1), start)
        for key, values in (*scores.items(), ("a", a), ("b", b)):
            if key in parts:
                parts[key].append(values)
    return {key: np.concatenate(values) for key, values in parts.items()}


def _interval(values: np.ndarray, confidence: float) -> np.ndarray:
    alpha = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return np.nanquantile(values, [alpha, 1.0 - alpha], axis=0)


def _tables(
    data: _Data, point: dict, reps: dict | None, confidence: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    prevalence = float(data.is_pos.mean())
    names = ["brier", "ece", "slope", "intercept"]
    values = [point["brier"][0], point["ece"][0], point["b"][0], point["a"][0]]
    keys = ["brier", "ece", "b", "a"]
    low = [_interval(reps[k], confidence)[0] if reps else np.nan for k in keys]
    high = [_interval(reps[k], confidence)[1] if reps else np.nan for k in keys]
    table = pd.DataFrame(
        {
            "value": values,
            "ci_low": low,
            "ci_high": high,
            "ideal": [0.0, 0.0, 1.0, 0.0],
            "prevalence": [prevalence * (1 - prevalence), 0.0, np.nan, np.nan],
        },
        index=pd.Index(names, name="metric"),
    )
    band = _interval(reps["observed"], confidence) if reps else np.full((2, data.n_bins), np.nan)
    bins = pd.DataFrame(
        {
            "lower": data.edges[:-1],
            "upper": data.edges[1:],
            "n": np.bincount(data.bins, minlength=data.n_bins),
            "mean_predicted": point["predicted"][0],
            "observed": point["observed"][0],
            "ci_low": band[0],
            "ci_high": band[1],
        },
        index=pd.RangeIndex(data.n_bins, name="bin"),
    )
    return table, bins


def calibration_summary(
    y_true: Any,
    y_prob: Any,
    *,
    groups: Any = None,
    n_bins: int = 10,
    strategy: str = "uniform",
    pos_label: Any = 1,
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    random_state: Any = None,
) -> CalibrationSummary:
    """Brier score, calibration error, slope and intercept, with bootstrap intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of a binary problem.
    y_prob : array-like of shape (n_samples,)
        Predicted probability of ``pos_label``, in [0, 1].
    groups : array-like of shape (n_samples,), optional
        Patient id of each sample: the bootstrap then resamples patients (stratified by
        the patient's class where defined), as :func:`classification_summary` does.
    n_bins : int, default=10
        Bins of the reliability diagram and of the expected calibration error.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins on [0, 1], or bins with equal numbers of samples (edges at the
        quantiles of ``y_prob``); as in :func:`sklearn.calibration.calibration_curve`.
    pos_label : object, default=1
        The positive class.
    n_bootstraps : int, default=1000
        Bootstrap replicates; 0 skips the intervals.
    confidence : float, default=0.95
        Coverage of the percentile intervals.
    random_state : int or numpy Generator, optional
        Seed of the bootstrap.

    Returns
    -------
    CalibrationSummary
        ``.brier``, ``.ece``, ``.slope``, ``.intercept``; ``to_frame()``,
        ``to_markdown()``, ``plot()`` (reliability diagram), prints as a table.

    Raises
    ------
    ValueError
        When ``y_prob`` holds values outside [0, 1] (decision scores are not
        probabilities), NaN, or when ``y_true`` is not binary.

    Warns
    -----
    MetricWarning
        When the recalibration fit does not converge (the classes are separated by the
        predictions); slope and intercept are then NaN.

    Notes
    -----
    Brier score: ``mean((y_prob - y)**2)``, equal to scikit-learn's
    ``brier_score_loss``. Expected calibration error: ``sum_b n_b / n * abs(observed_b -
    predicted_b)`` over the bins. Slope and intercept: the maximum-likelihood fit of
    ``logit P(y = 1) = intercept + slope * logit(y_prob)`` (Cox's logistic
    recalibration; probabilities are clipped to [1e-8, 1 - 1e-8] first). A slope under
    1 means predictions too extreme (typical of overfitting), over 1 too timid. This
    intercept is the joint fit's, not "calibration-in-the-large" (the intercept with the
    slope fixed at 1). The ``prevalence`` column is a model that predicts the prevalence
    for everyone: Brier ``p (1 - p)``, perfect ECE, no slope.

    Each replicate refits the recalibration on the resampled samples (Newton's method,
    all replicates at once), so the cost grows as ``n_bootstraps * n_samples``.
    Replicates in which the fit does not converge are left out of the intervals.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics import calibration_summary
    >>> rng = np.random.default_rng(0)
    >>> prob = rng.uniform(0.05, 0.95, 400)
    >>> y = (rng.random(400) < prob).astype(int)
    >>> c = calibration_summary(y, prob, n_bootstraps=200, random_state=0)
    >>> bool(c.table.loc["slope", "ci_low"] < 1 < c.table.loc["slope", "ci_high"])
    True
    >>> calibration_summary(y, 2 * prob - 0.5)
    Traceback (most recent call last):
    ...
    ValueError: y_prob must be probabilities in [0, 1]; got ... value(s) outside ...
    """
    if not isinstance(n_bootstraps, (int, np.integer)) or n_bootstraps < 0:
        raise ValueError(f"n_bootstraps={n_bootstraps!r} is invalid; use a non-negative integer.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} must be in (0, 1), e.g. 0.95.")
    data = _validate(y_true, y_prob, groups, n_bins, strategy, pos_label)
    ones = np.ones((1, data.plan.n_patients))
    point = _scores(ones @ data.per_patient(), data.n_bins)
    a, b = fit_recalibration(data.x, data.is_pos.astype(float), np.ones((1, len(data.x))))
    point.update(a=a, b=b)
    messages = []
    if np.isnan(b[0]):
        messages.append(
            "the logistic recalibration did not converge (the predictions separate the "
            "classes); calibration slope and intercept are reported as nan."
        )
    start = (0.0, 1.0) if np.isnan(b[0]) else (float(a[0]), float(b[0]))
    rng = as_generator(random_state)
    reps = _bootstrap(data, start, int(n_bootstraps), rng) if n_bootstraps else None
    table, bins = _tables(data, point, reps, confidence)
    for message in messages:
        warnings.warn(message, MetricWarning, stacklevel=2)
    return CalibrationSummary(
        table=table,
        bins=bins,
        n_samples=len(data.prob),
        n_groups=None if groups is None else data.plan.n_patients,
        n_bootstraps=int(n_bootstraps),
        confidence=float(confidence),
        prevalence=float(data.is_pos.mean()),
        warnings=tuple(messages),
    )
