"""What one experiment returns: the paper's table beside this run's, figures, notes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._tables import frame_to_markdown

__all__ = ["ExperimentResult", "format_mean_sd", "format_pvalue"]


def format_mean_sd(mean: float, sd: float | None = None, *, digits: int = 2) -> str:
    """Format a mean with its standard deviation the way the paper prints it.

    Parameters
    ----------
    mean : float
    sd : float, optional
        ``None`` for a single value (the paper's deep-learning rows).
    digits : int, default=2

    Examples
    --------
    >>> from pitfalls.reproduction import format_mean_sd
    >>> format_mean_sd(0.8512, 0.0498)
    '0.85±0.05'
    >>> format_mean_sd(0.999, digits=3)
    '0.999'
    >>> format_mean_sd(float("nan"))
    'n/a'
    """
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f}±{sd:.{digits}f}"


def format_pvalue(pvalue: float) -> str:
    """Format a p-value as the paper does (``<0.001`` below one in a thousand).

    Examples
    --------
    >>> from pitfalls.reproduction import format_pvalue
    >>> format_pvalue(1e-9), format_pvalue(0.0312)
    ('<0.001', '0.031')
    """
    if pvalue is None or math.isnan(pvalue):
        return "n/a"
    return "<0.001" if pvalue < 0.001 else f"{pvalue:.3f}"


@dataclass(repr=False)
class ExperimentResult:
    """The outcome of one reproduced experiment.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"oversampling"``.
    title : str
        One-line title of the experiment.
    reference : str
        Where it is in the paper, e.g. ``"Table 2, models A and B"``.
    table : pandas.DataFrame
        The printed table: the paper's figure beside this run's, as formatted strings.
    scores : pandas.DataFrame
        This run's numbers: one row per model (index), one column per metric (means).
    comparisons : pandas.DataFrame
        One row per leaky/correct pair (or naive/meaningful contrast): ``leaky``,
        ``correct``, ``metric``, ``leaky_value``, ``correct_value`` and, where a
        rank-sum test applies, ``statistic`` and ``pvalue`` (paper convention:
        ``ranksums(correct, leaky)``, negative when the leaky model scores higher).
    figures : dict of str to matplotlib Figure
        Figures to write beside the report (name -> figure).
    notes : list of str
        How this run differs from the paper, and what the numbers mean.
    settings : dict
        The settings the experiment ran with.
    raw : pandas.DataFrame, optional
        Per-repeat scores (long format) for further analysis.
    elapsed : float
        Wall time in seconds.
    study : pitfalls.report.StudyReport, optional
        The study report of the experiment's correct model (patient-level
        intervals, baselines, calibration, sites, the leaky-vs-correct gap and the
        filled checklists); ``None`` where the experiment is not a classification
        (Table 3). :func:`write_report` writes it beside the tables.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.reproduction import ExperimentResult
    >>> r = ExperimentResult(
    ...     name="demo", title="Demo", reference="none",
    ...     table=pd.DataFrame({"Model": ["A"], "F1": ["0.90"]}),
    ...     scores=pd.DataFrame({"f1": [0.9, 0.5]}, index=["A", "B"]),
    ...     comparisons=pd.DataFrame({"leaky": ["A"], "correct": ["B"], "metric": ["f1"],
    ...                               "leaky_value": [0.9], "correct_value": [0.5]}),
    ... )
    >>> r.leaky_beats_correct
    True
    >>> print(r.to_text())  # doctest: +ELLIPSIS
    Demo (none)
    ...
    """

    name: str
    title: str
    reference: str
    table: pd.DataFrame
    scores: pd.DataFrame
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    raw: pd.DataFrame | None = None
    elapsed: float = 0.0
    study: Any = None

    @property
    def leaky_beats_correct(self) -> bool:
        """Whether every leaky (or naive) model scores above its correct twin.

        ``True`` when there is nothing to compare (e.g. Table 3).

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.reproduction import ExperimentResult
        >>> ExperimentResult(name="t3", title="Table 3", reference="", table=pd.DataFrame(),
        ...                  scores=pd.DataFrame()).leaky_beats_correct
        True
        """
        if self.comparisons.empty:
            return True
        leaky = self.comparisons["leaky_value"].to_numpy(dtype=float)
        correct = self.comparisons["correct_value"].to_numpy(dtype=float)
        return bool(np.all(leaky > correct))

    def _comparison_lines(self) -> list[str]:
        lines = []
        for row in self.comparisons.to_dict("records"):
            text = (
                f"{row['leaky']} vs {row['correct']} ({row['metric']}): "
                f"{row['leaky_value']:.3f} vs {row['correct_value']:.3f}"
            )
            if "statistic" in row and not pd.isna(row.get("statistic")):
                pvalue = format_pvalue(row["pvalue"])
                pvalue = f"p{pvalue}" if pvalue.startswith("<") else f"p={pvalue}"
                text += f"; rank-sum statistic={row['statistic']:.2f}, {pvalue}"
                if not pd.isna(row.get("paper_statistic", np.nan)):
                    text += (
                        f" (paper: statistic={row['paper_statistic']:.2f}, p{row['paper_pvalue']})"
                    )
            lines.append(text)
        return lines

    def to_text(self) -> str:
        """The experiment as plain text: title, table, comparisons, notes.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.reproduction import ExperimentResult
        >>> r = ExperimentResult(name="d", title="Demo", reference="Table 9",
        ...                      table=pd.DataFrame({"F1": ["0.50"]}), scores=pd.DataFrame(),
        ...                      notes=["synthetic data"])
        >>> print(r.to_text())
        Demo (Table 9)
        <BLANKLINE>
          F1
        0.50
        <BLANKLINE>
        note: synthetic data
        (0.0 s)
        """
        lines = [f"{self.title} ({self.reference})", ""]
        lines.append(self.table.to_string(index=False))
        comparisons = self._comparison_lines()
        if comparisons:
            lines.append("")
            lines.extend(comparisons)
        if self.notes:
            lines.append("")
            lines.extend(f"note: {note}" for note in self.notes)
        lines.append(f"({self.elapsed:.1f} s)")
        return "\n".join(lines)

    def to_markdown(self, *, figure_paths: dict[str, str] | None = None) -> str:
        """The experiment as a Markdown section.

        Parameters
        ----------
        figure_paths : dict of str to str, optional
            Figure name -> path relative to the Markdown file, to link the figures.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.reproduction import ExperimentResult
        >>> r = ExperimentResult(name="d", title="Demo", reference="Table 9",
        ...                      table=pd.DataFrame({"F1": ["0.50"]}), scores=pd.DataFrame())
        >>> print(r.to_markdown(figure_paths={"plot": "figures/d-plot.png"}))
        ## Demo
        <BLANKLINE>
        *Table 9* · 0.0 s
        <BLANKLINE>
        | F1 |
        | :--- |
        | 0.50 |
        <BLANKLINE>
        ![plot](figures/d-plot.png)
        <BLANKLINE>
        """
        parts = [f"## {self.title}", "", f"*{self.reference}* · {self.elapsed:.1f} s", ""]
        parts += [frame_to_markdown(self.table), ""]
        comparisons = self._comparison_lines()
        if comparisons:
            parts += [f"- {line}" for line in comparisons] + [""]
        for name, path in (figure_paths or {}).items():
            parts += [f"![{name}]({path})", ""]
        if self.notes:
            parts += ["Notes:", "", *(f"- {note}" for note in self.notes), ""]
        return "\n".join(parts)

    def to_frame(self) -> pd.DataFrame:
        """This run's numbers: one row per model, one column per metric (a copy of ``scores``).

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.reproduction import ExperimentResult
        >>> r = ExperimentResult(name="d", title="Demo", reference="", table=pd.DataFrame(),
        ...                      scores=pd.DataFrame({"f1": [0.9]}, index=["A"]))
        >>> float(r.to_frame().loc["A", "f1"])
        0.9
        """
        return self.scores.copy()

    def __repr__(self) -> str:
        return (
            f"ExperimentResult(name={self.name!r}, reference={self.reference!r}, "
            f"models={list(map(str, self.scores.index))}, "
            f"leaky_beats_correct={self.leaky_beats_correct}, figures={sorted(self.figures)}, "
            f"elapsed={self.elapsed:.1f} s)"
        )

    def __str__(self) -> str:
        return self.to_text()
