"""Paired comparison of two models' ROC AUCs: DeLong's test, clustered by patient on request.

Two models scored on the same samples have correlated AUCs; testing them as if they
were independent throws away that pairing (and its power). DeLong, DeLong and
Clarke-Pearson (1988) estimate the covariance of the two AUCs from the *placements*
(structural components) of every sample: for a positive, the share of negatives it
outranks; for a negative, the share of positives that outrank it. Sun and Xu (2014)
compute the placements from midranks in ``O(n log n)``; here they come from searches of
each class's sorted scores in the other's, which counts the same pairs.

When a patient contributes several samples, those samples are not independent, and the
plain DeLong variance is too small. Obuchowski (1997) sums the structural components
per patient (cluster) and takes their variance across patients:
``var = I / (I - 1) * sum_i z_i**2`` with
``z_i = (V10_i - m_i * AUC) / M + (V01_i - n_i * AUC) / N``, where patient ``i`` has
``m_i`` positive and ``n_i`` negative samples (``M``, ``N`` in total) and ``V10_i``,
``V01_i`` are the sums of its samples' placements. A patient may have samples of both
classes; that is what the clustered variance is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._tables import format_number, markdown_table, text_table
from ._cluster import plan_patients
from ._inputs import check_binary_target, check_scores_1d

__all__ = ["AUCComparison", "compare_auc"]


def placements(score: np.ndarray, is_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placements (structural components) of positives and negatives.

    ``V10[i]``: share of negatives scored below positive ``i`` (ties count half);
    ``V01[j]``: share of positives scored above negative ``j`` (ties count half). Their
    means both equal the ROC AUC.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._delong import placements
    >>> v10, v01 = placements(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]) == 1)
    >>> v10.tolist(), v01.tolist(), float(v10.mean())
    ([0.5, 1.0], [1.0, 0.5], 0.75)
    """
    pos, neg = score[is_pos], score[~is_pos]
    pos_order, neg_order = np.argsort(pos, kind="stable"), np.argsort(neg, kind="stable")
    sorted_pos, sorted_neg = pos[pos_order], neg[neg_order]
    # sorted needles: numpy's binary search then reuses the previous position (several
    # times faster than searching for the scores in their original order)
    v10 = np.empty(len(pos))
    below = np.searchsorted(sorted_neg, sorted_pos, side="left")
    at_or_below = np.searchsorted(sorted_neg, sorted_pos, side="right")
    v10[pos_order] = (below + 0.5 * (at_or_below - below)) / len(neg)
    v01 = np.empty(len(neg))
    above = len(pos) - np.searchsorted(sorted_pos, sorted_neg, side="right")
    at_or_above = len(pos) - np.searchsorted(sorted_pos, sorted_neg, side="left")
    v01[neg_order] = (above + 0.5 * (at_or_above - above)) / len(pos)
    return v10, v01


def _delong_covariance(components: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """DeLong's covariance matrix of the AUCs (one row of components per model)."""
    v10 = np.vstack([c[0] for c in components])
    v01 = np.vstack([c[1] for c in components])
    return np.cov(v10, ddof=1) / v10.shape[1] + np.cov(v01, ddof=1) / v01.shape[1]


def _clustered_components(
    components: list[tuple[np.ndarray, np.ndarray]], is_pos: np.ndarray, codes: np.ndarray
) -> np.ndarray:
    """Obuchowski's per-patient terms ``z_i``, one row per model."""
    n_patients = int(codes.max()) + 1
    n_pos, n_neg = int(is_pos.sum()), int((~is_pos).sum())
    m = np.bincount(codes[is_pos], minlength=n_patients)
    n = np.bincount(codes[~is_pos], minlength=n_patients)
    rows = []
    for v10, v01 in components:
        auc = v10.mean()
        s10 = np.bincount(codes[is_pos], weights=v10, minlength=n_patients)
        s01 = np.bincount(codes[~is_pos], weights=v01, minlength=n_patients)
        rows.append((s10 - m * auc) / n_pos + (s01 - n * auc) / n_neg)
    return np.vstack(rows)


@dataclass(frozen=True, repr=False, eq=False)
class AUCComparison:
    """Result of :func:`compare_auc`: both AUCs, their difference with CI, and the test.

    Attributes
    ----------
    auc_a, auc_b : float
        ROC AUC of each model.
    difference : float
        ``auc_a - auc_b``.
    ci_low, ci_high : float
        Wald confidence interval of the difference.
    se : float
        Standard error of the difference.
    statistic : float
        ``difference / se`` (standard normal under equal AUCs).
    pvalue : float
        Two-sided p-value.
    covariance : ndarray of shape (2, 2)
        Covariance matrix of the two AUCs.
    method : str
        ``"DeLong"`` or ``"Obuchowski, clustered by patient"``.
    names : tuple of str
    n_samples, n_positive, n_negative : int
    n_groups : int or None
        Number of patients (clusters) when ``groups`` was given.
    confidence : float

    Examples
    --------
    >>> from pitfalls.metrics import compare_auc
    >>> r = compare_auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
    ...                 [0.2, 0.3, 0.5, 0.6, 0.1, 0.4])
    >>> round(r.difference, 3), r.method
    (-0.111, 'DeLong')
    """

    auc_a: float
    auc_b: float
    difference: float
    ci_low: float
    ci_high: float
    se: float
    statistic: float
    pvalue: float
    covariance: np.ndarray
    method: str
    names: tuple[str, str]
    n_samples: int
    n_positive: int
    n_negative: int
    n_groups: int | None
    confidence: float

    def to_frame(self) -> pd.DataFrame:
        """One row per model and one for the difference.

        Columns ``auc``, ``ci_low``, ``ci_high``, ``se``, ``statistic``, ``pvalue``
        (the last two on the difference row). Each AUC's interval is its Wald interval
        from the same variance estimate, clipped to [0, 1].

        Examples
        --------
        >>> from pitfalls.metrics import compare_auc
        >>> r = compare_auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
        ...                 [0.2, 0.3, 0.5, 0.6, 0.1, 0.4], names=("cnn", "radiomics"))
        >>> r.to_frame().index.tolist()
        ['cnn', 'radiomics', 'difference']
        """
        z = stats.norm.ppf(0.5 + self.confidence / 2.0)
        rows = {}
        for name, auc, var in zip(
            self.names, (self.auc_a, self.auc_b), np.diag(self.covariance), strict=True
        ):
            se = float(np.sqrt(max(var, 0.0)))
            low, high = max(auc - z * se, 0.0), min(auc + z * se, 1.0)
            rows[name] = [auc, low, high, se, np.nan, np.nan]
        rows["difference"] = [
            self.difference, self.ci_low, self.ci_high, self.se, self.statistic, self.pvalue
        ]  # fmt: skip
        frame = pd.DataFrame.from_dict(
            rows, orient="index", columns=["auc", "ci_low", "ci_high", "se", "statistic", "pvalue"]
        )
        frame.index.name = "model"
        return frame

    def _rows(self, digits: int) -> tuple[list[str], list[list[str]]]:
        pct = f"{100 * self.confidence:g}% CI"
        header = ["", "AUC", pct, "z", "p-value"]
        rows = []
        for name, row in self.to_frame().iterrows():
            ci = (
                f"[{format_number(row['ci_low'], digits)}, {format_number(row['ci_high'], digits)}]"
            )
            test = name == "difference"
            rows.append(
                [
                    str(name),
                    format_number(float(row["auc"]), digits),
                    ci,
                    format_number(float(row["statistic"]), 2) if test else "",
                    _format_p(float(row["pvalue"])) if test else "",
                ]
            )
        return header, rows

    def _title(self) -> str:
        unit = (
            f"{self.n_samples} samples"
            if self.n_groups is None
            else f"{self.n_samples} samples from {self.n_groups} patients"
        )
        return (
            f"Paired ROC AUC comparison, {self.method}: {self.names[0]} vs {self.names[1]}, "
            f"{unit} ({self.n_positive} positive, {self.n_negative} negative)"
        )

    def to_text(self, digits: int = 3) -> str:
        """Plain-text table (what ``print`` shows).

        Examples
        --------
        >>> from pitfalls.metrics import compare_auc
        >>> r = compare_auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
        ...                 [0.2, 0.3, 0.5, 0.6, 0.1, 0.4])
        >>> print(r.to_text().splitlines()[1])
                      AUC          95% CI      z  p-value
        """
        header, rows = self._rows(digits)
        return f"{self._title()}\n{text_table(header, rows)}"

    def to_markdown(self, digits: int = 3) -> str:
        """Markdown table.

        Examples
        --------
        >>> from pitfalls.metrics import compare_auc
        >>> r = compare_auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
        ...                 [0.2, 0.3, 0.5, 0.6, 0.1, 0.4])
        >>> print(r.to_markdown().splitlines()[0])
        |  | AUC | 95% CI | z | p-value |
        """
        header, rows = self._rows(digits)
        return markdown_table(header, rows)

    def __repr__(self) -> str:
        return self.to_text()


def _format_p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _validate(
    y_true: Any, score_a: Any, score_b: Any, pos_label: Any, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} must be in (0, 1), e.g. 0.95.")
    is_pos = check_binary_target(y_true, pos_label)
    n_pos, n_neg = int(is_pos.sum()), int((~is_pos).sum())
    if min(n_pos, n_neg) < 2:
        raise ValueError(
            f"y_true has {n_pos} positive and {n_neg} negative samples; DeLong's variance "
            "needs at least 2 of each (and is only reliable with many more)."
        )
    a = check_scores_1d(score_a, len(is_pos), name="score_a")
    b = check_scores_1d(score_b, len(is_pos), name="score_b")
    return is_pos, a, b


def _variance(
    components: list[tuple[np.ndarray, np.ndarray]], is_pos: np.ndarray, groups: Any
) -> tuple[np.ndarray, int | None]:
    if groups is None:
        return _delong_covariance(components), None
    plan = plan_patients(groups, None, n_samples=len(is_pos))
    if plan.n_patients < 2:
        raise ValueError(
            f"groups has {plan.n_patients} patient; the clustered variance needs at least 2 "
            "patients (and is only reliable with many more)."
        )
    z = _clustered_components(components, is_pos, plan.codes)
    factor = plan.n_patients / (plan.n_patients - 1)
    return factor * (z @ z.T), plan.n_patients


def compare_auc(
    y_true: Any,
    score_a: Any,
    score_b: Any,
    *,
    groups: Any = None,
    pos_label: Any = 1,
    confidence: float = 0.95,
    names: tuple[str, str] = ("A", "B"),
) -> AUCComparison:
    """Paired test of two models' ROC AUCs on the same samples (DeLong; clustered by patient).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of a binary problem.
    score_a, score_b : array-like of shape (n_samples,)
        Each model's score (probability) of ``pos_label`` for the *same* samples, in
        the same order. Every sample needs both scores (the test is paired).
    groups : array-like of shape (n_samples,), optional
        Patient id of each sample. When given, the variance is Obuchowski's clustered
        variance (patients, not samples, are the independent units). A patient may have
        positive and negative samples.
    pos_label : object, default=1
        The positive class.
    confidence : float, default=0.95
        Coverage of the confidence intervals.
    names : (str, str), default=("A", "B")
        Names of the two models in the table.

    Returns
    -------
    AUCComparison
        ``.auc_a``, ``.auc_b``, ``.difference`` with ``.ci_low`` / ``.ci_high``,
        ``.statistic``, ``.pvalue``; ``to_frame()``, ``to_markdown()``, prints as a table.

    Raises
    ------
    ValueError
        When the scores do not cover the same samples (different lengths, a NaN where
        one model did not score a sample), when ``y_true`` is not binary or has fewer
        than two samples of a class, or when ``groups`` has fewer than two patients.

    Notes
    -----
    Without ``groups`` the variance is DeLong et al. (1988); it equals the fast
    algorithm of Sun and Xu (2014). With ``groups`` it is Obuchowski (1997); with one
    sample per patient it is the DeLong variance up to the factors ``I / (I - 1)`` and
    ``(M - 1) / M``, ``(N - 1) / N`` of its own normalisation. The statistic is
    ``difference / se``, compared with the standard normal; when both models rank every
    pair alike, ``se`` is 0, the statistic 0 and the p-value 1.

    Examples
    --------
    >>> from pitfalls.metrics import compare_auc
    >>> y = [0, 0, 1, 1, 0, 1, 0, 1]
    >>> a = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.3, 0.7]
    >>> b = [0.2, 0.55, 0.5, 0.6, 0.1, 0.4, 0.45, 0.5]
    >>> r = compare_auc(y, a, b)
    >>> round(r.auc_a, 3), round(r.auc_b, 3), round(r.pvalue, 3)
    (0.938, 0.75, 0.268)
    >>> print(r)
    Paired ROC AUC comparison, DeLong: A vs B, 8 samples (4 positive, 4 negative)
                  AUC           95% CI     z  p-value
    A           0.938   [0.764, 1.000]
    B           0.750   [0.350, 1.000]
    difference  0.188  [-0.144, 0.519]  1.11    0.268
    >>> r = compare_auc(y, a, b, groups=["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4"])
    >>> r.method, r.n_groups
    ('Obuchowski, clustered by patient', 4)
    """
    is_pos, a, b = _validate(y_true, score_a, score_b, pos_label, confidence)
    components = [placements(a, is_pos), placements(b, is_pos)]
    covariance, n_groups = _variance(components, is_pos, groups)
    auc_a, auc_b = (float(c[0].mean()) for c in components)
    difference = auc_a - auc_b
    variance = covariance[0, 0] + covariance[1, 1] - 2.0 * covariance[0, 1]
    se = float(np.sqrt(max(variance, 0.0)))
    if se > 0:
        statistic = difference / se
        pvalue = float(2.0 * stats.norm.sf(abs(statistic)))
    else:  # both models order every positive-negative pair alike
        statistic, pvalue = 0.0, 1.0
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    return AUCComparison(
        auc_a=auc_a,
        auc_b=auc_b,
        difference=difference,
        ci_low=difference - z * se,
        ci_high=difference + z * se,
        se=se,
        statistic=float(statistic),
        pvalue=pvalue,
        covariance=covariance,
        method="DeLong" if n_groups is None else "Obuchowski, clustered by patient",
        names=(str(names[0]), str(names[1])),
        n_samples=len(is_pos),
        n_positive=int(is_pos.sum()),
        n_negative=int((~is_pos).sum()),
        n_groups=n_groups,
        confidence=float(confidence),
    )
