"""The result of :func:`~pitfalls.metrics.classification_summary` and how it renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._tables import format_number, markdown_table, text_table

__all__ = ["ClassificationSummary"]


@dataclass(frozen=True, repr=False, eq=False)
class ClassificationSummary:
    """Result of :func:`classification_summary`: metrics, CIs and baselines in one table.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per metric (per-class rows are named ``"recall[label]"``); columns
        ``value``, ``ci_low``, ``ci_high``, ``majority``, ``stratified``.
    labels : list
        Classes, in table order.
    pos_label : object or None
        Positive class for binary problems, ``None`` for multi-class.
    class_counts : dict
        Number of samples of each class in ``y_true``.
    n_bootstraps : int
    confidence : float
    warnings : tuple of str
        The :class:`MetricWarning` messages issued for this summary.
    n_groups : int or None
        Number of patients when ``groups`` was given (the bootstrap then resamples
        patients), else ``None`` (samples are resampled).
    mixed_groups : int
        Patients whose samples have several true classes (resampled as a stratum of
        their own).

    Examples
    --------
    >>> from pitfalls.metrics import classification_summary
    >>> s = classification_summary([0, 0, 1, 1], [0, 1, 1, 1], n_bootstraps=0)
    >>> s["recall"], s.n_samples, s.unit
    (1.0, 4, 'sample')
    """

    table: pd.DataFrame
    labels: list[Any]
    pos_label: Any
    class_counts: dict[Any, int]
    n_bootstraps: int
    confidence: float
    warnings: tuple[str, ...]
    n_groups: int | None = None
    mixed_groups: int = 0
    curve_inputs: Any = field(default=None, repr=False)

    @property
    def n_samples(self) -> int:
        """Number of evaluated samples."""
        return int(sum(self.class_counts.values()))

    @property
    def unit(self) -> str:
        """What the bootstrap resamples: ``"patient"`` (groups given) or ``"sample"``."""
        return "sample" if self.n_groups is None else "patient"

    @property
    def metrics(self) -> dict[str, float]:
        """Point estimate of every metric, by row name.

        Examples
        --------
        >>> from pitfalls.metrics import classification_summary
        >>> classification_summary([0, 1], [0, 1], n_bootstraps=0).metrics["accuracy"]
        1.0
        """
        return {str(k): float(v) for k, v in self.table["value"].items()}

    def __getitem__(self, metric: str) -> float:
        if metric not in self.table.index:
            raise KeyError(
                f"{metric!r} is not in this summary; available: {', '.join(self.table.index)}."
            )
        return float(self.table.loc[metric, "value"])

    def to_frame(self) -> pd.DataFrame:
        """The table as a new DataFrame (metrics as index).

        Examples
        --------
        >>> from pitfalls.metrics import classification_summary
        >>> s = classification_summary([0, 0, 1], [0, 0, 1], n_bootstraps=0)
        >>> s.to_frame().columns.tolist()
        ['value', 'ci_low', 'ci_high', 'majority', 'stratified']
        """
        return self.table.copy()

    def _rows(self, digits: int) -> tuple[list[str], list[list[str]]]:
        pct = f"{100 * self.confidence:g}% CI"
        header = ["metric", "value", pct, "majority", "stratified"]
        rows = []
        for name, row in self.table.iterrows():
            ci = (
                ""
                if self.n_bootstraps == 0
                else f"[{format_number(row['ci_low'], digits)}, {format_number(row['ci_high'], digits)}]"
            )
            rows.append(
                [
                    str(name),
                    format_number(float(row["value"]), digits),
                    ci,
                    format_number(float(row["majority"]), digits),
                    format_number(float(row["stratified"]), digits),
                ]
            )
        return header, rows

    def _bootstrap_line(self) -> str:
        if not self.n_bootstraps:
            return "no bootstrap (n_bootstraps=0)"
        pct = f"{100 * self.confidence:g}% CI: percentile"
        if self.n_groups is None:
            return f"{pct}, {self.n_bootstraps} stratified bootstrap replicates"
        mixed = (
            f"; {self.mixed_groups} patients with several classes resampled as their own stratum"
            if self.mixed_groups
            else ""
        )
        return (
            f"{pct}, {self.n_bootstraps} patient-level bootstrap replicates, {self.n_groups} "
            f"patients (resampled within the patient's class{mixed})"
        )

    def _title(self) -> str:
        counts = ", ".join(f"{k}: {v}" for k, v in self.class_counts.items())
        kind = (
            f"binary, positive class {self.pos_label!r}"
            if self.pos_label is not None
            else f"{len(self.labels)} classes, macro averages"
        )
        patients = "" if self.n_groups is None else f" from {self.n_groups} patients"
        return (
            f"Classification summary: {self.n_samples} samples{patients} ({counts}); {kind}\n"
            f"{self._bootstrap_line()}"
        )

    def to_text(self, digits: int = 3) -> str:
        """The summary as a plain-text table (what ``print`` shows).

        Examples
        --------
        >>> from pitfalls.metrics import classification_summary
        >>> s = classification_summary([0, 0, 1, 1], [0, 1, 1, 1], n_bootstraps=0)
        >>> print(s.to_text().splitlines()[3])
        accuracy           0.750            0.500       0.500
        """
        header, rows = self._rows(digits)
        return f"{self._title()}\n{text_table(header, rows)}"

    def to_markdown(self, digits: int = 3) -> str:
        """The summary as a GitHub-flavoured Markdown table (no ``tabulate`` needed).

        Examples
        --------
        >>> from pitfalls.metrics import classification_summary
        >>> s = classification_summary([0, 0, 1, 1], [0, 1, 1, 1], n_bootstraps=0)
        >>> print(s.to_markdown().splitlines()[0])
        | metric | value | 95% CI | majority | stratified |
        """
        header, rows = self._rows(digits)
        return markdown_table(header, rows)

    def plot(self, axes: Any = None, *, n_bootstraps: int | None = None) -> Any:
        """ROC and precision-recall curves with bootstrap bands and the no-skill baselines.

        Available when the summary was computed with binary ``y_score``. The bands are
        percentile bands of the same bootstrap as the table (patient-level when
        ``groups`` was given), with the same ``random_state``.

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, optional
            Where to draw the ROC and the PR curve. Default: a new figure.
        n_bootstraps : int, optional
            Replicates for the bands; default: the summary's (at most 500).

        Returns
        -------
        ndarray of two matplotlib Axes

        Examples
        --------
        >>> from pitfalls.metrics import classification_summary
        >>> s = classification_summary([0, 0, 1, 1], [0, 1, 1, 1], y_score=[0.1, 0.6, 0.7, 0.9],
        ...                            n_bootstraps=20, random_state=0)
        >>> [ax.get_xlabel() for ax in s.plot()]
        ['false positive rate (1 - specificity)', 'recall (sensitivity)']
        """
        from ._curves import plot_summary_curves

        if self.curve_inputs is None:
            raise ValueError(
                "plot() draws ROC and precision-recall curves, which need scores: call "
                "classification_summary(..., y_score=<positive-class scores>) on a binary problem."
            )
        return plot_summary_curves(self.curve_inputs, axes, n_bootstraps=n_bootstraps)

    def __repr__(self) -> str:
        return self.to_text()
