"""LeakageGapResult: both protocols' scores over repeats, the test, the table, the plot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._tables import frame_to_markdown, text_table
from ..metrics import RunComparison

__all__ = ["LeakageGapResult"]

_DISPLAY = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "average_precision": "Average precision",
}

_APPROACH = {
    "oversampling": "oversampling",
    "feature_selection": "feature selection",
    "augmentation": "data augmentation",
    "preprocessing": "preprocessing",
    "group_split": "distributing data points of patients",
    "site": "evaluation across sites",
}

# Row and tick labels of the site pitfall: neither protocol leaks, one is optimistic.
_SITE_PROTOCOLS = ("Internal CV (sites mixed)", "Site held out")


@dataclass(frozen=True, eq=False)  # compared by identity: its fields hold arrays
class LeakageGapResult:
    """Scores of the leaky and the correct protocol over repeats, and their comparison.

    Returned by :func:`~pitfalls.experiments.leakage_gap`; every score is the mean over
    the folds of one repeat's cross-validation.

    Attributes
    ----------
    pitfall : str
        The pitfall measured.
    metrics : list of str
        Scorer names; the first is the primary one used by the test and the plot.
    leaky, correct : dict of str -> ndarray of shape (n_repeats,)
        Scores per metric of the leaky and the correct protocol.
    comparison : RunComparison
        :func:`pitfalls.metrics.compare_runs` of the primary metric's leaky scores
        against its correct scores (Wilcoxon rank-sum, as in the paper).
    steps : tuple of str
        Pipeline steps fitted on all data in the leaky protocol (empty for
        ``"group_split"`` and ``"site"``).
    site_scores : DataFrame or None
        For ``"site"``: each held-out site's scores, one row per repeat and site
        (``repeat``, ``site``, one column per metric); ``correct`` holds their mean
        per repeat. None for the other pitfalls.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.experiments import LeakageGapResult
    >>> from pitfalls.metrics import compare_runs
    >>> leaky, correct = np.array([0.9, 0.8, 0.85]), np.array([0.5, 0.6, 0.55])
    >>> res = LeakageGapResult("oversampling", ["f1"], {"f1": leaky}, {"f1": correct},
    ...                        compare_runs(leaky, correct), ("ros",))
    >>> round(res.inflation, 2), res.effect_size
    (0.3, 1.0)
    >>> res.summary()
                               F1
    approach
    Incorrect oversampling  0.85±0.05
    Correct oversampling    0.55±0.05
    >>> print(res)  # the whole table, never truncated, and the test
    Leakage gap of oversampling over 3 repeats
    approach                       F1
    Incorrect oversampling  0.85±0.05
    Correct oversampling    0.55±0.05
    F1: inflation +0.30, Wilcoxon rank-sum z=1.96, p=0.0495, effect size 1.00
    """

    pitfall: str
    metrics: list[str]
    leaky: dict[str, np.ndarray]
    correct: dict[str, np.ndarray]
    comparison: RunComparison
    steps: tuple[str, ...] = field(default=())
    site_scores: pd.DataFrame | None = field(default=None)

    @property
    def leaky_scores(self) -> np.ndarray:
        """Primary-metric scores of the leaky protocol, one per repeat."""
        return self.leaky[self.metrics[0]]

    @property
    def correct_scores(self) -> np.ndarray:
        """Primary-metric scores of the correct protocol, one per repeat."""
        return self.correct[self.metrics[0]]

    @property
    def statistic(self) -> float:
        """Wilcoxon rank-sum z statistic (positive when the leaky protocol scores higher)."""
        return self.comparison.statistic

    @property
    def pvalue(self) -> float:
        """Two-sided p-value of the Wilcoxon rank-sum test."""
        return self.comparison.pvalue

    @property
    def effect_size(self) -> float:
        """Rank-biserial correlation in [-1, 1]; 1 means every leaky score beats every correct one."""
        return self.comparison.effect_size

    @property
    def inflation(self) -> float:
        """Mean leaky score minus mean correct score (the part of the score due to leakage)."""
        return float(np.mean(self.leaky_scores) - np.mean(self.correct_scores))

    def summary(self, decimals: int = 2) -> pd.DataFrame:
        """A table like the paper's Table 2: mean ± sd of every metric, per approach.

        Parameters
        ----------
        decimals : int, default=2
            Decimals shown.

        Returns
        -------
        DataFrame
            One row per approach (``"Incorrect <pitfall>"``, ``"Correct <pitfall>"``),
            one column per metric, cells ``"mean±sd"`` (sample sd). pandas may truncate
            a wide frame on screen: ``print(result)`` (:meth:`to_text`) and
            :meth:`to_markdown` show every column.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.experiments import LeakageGapResult
        >>> from pitfalls.metrics import compare_runs
        >>> a, b = np.array([1.0, 0.8]), np.array([0.2, 0.4])
        >>> res = LeakageGapResult("group_split", ["accuracy"], {"accuracy": a},
        ...                        {"accuracy": b}, compare_runs(a, b))
        >>> res.summary(decimals=1).loc["Correct distributing data points of patients"].tolist()
        ['0.3±0.1']
        """
        rows = dict(zip(self._protocol_names(), (self.leaky, self.correct), strict=True))
        table = pd.DataFrame(
            {
                _DISPLAY.get(metric, metric): [
                    f"{np.mean(scores[metric]):.{decimals}f}"
                    f"±{np.std(scores[metric], ddof=1):.{decimals}f}"
                    for scores in rows.values()
                ]
                for metric in self.metrics
            },
            index=pd.Index(list(rows), name="approach"),
        )
        return table

    def _test_line(self) -> str:
        metric = _DISPLAY.get(self.metrics[0], self.metrics[0])
        return (
            f"{metric}: inflation {self.inflation:+.2f}, Wilcoxon rank-sum z={self.statistic:.2f}, "
            f"p={self.pvalue:.3g}, effect size {self.effect_size:.2f}"
        )

    def to_text(self, decimals: int = 2) -> str:
        """The Table-2 summary as plain text with every column, then the rank-sum test.

        What ``print(result)`` shows.

        Parameters
        ----------
        decimals : int, default=2
            Decimals shown.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.experiments import LeakageGapResult
        >>> from pitfalls.metrics import compare_runs
        >>> a, b = np.array([1.0, 0.8]), np.array([0.2, 0.4])
        >>> res = LeakageGapResult("oversampling", ["f1"], {"f1": a}, {"f1": b}, compare_runs(a, b))
        >>> print(res.to_text().splitlines()[-1])
        F1: inflation +0.60, Wilcoxon rank-sum z=1.55, p=0.121, effect size 1.00
        """
        table = self.summary(decimals)
        rows = [[str(name), *map(str, row)] for name, row in table.iterrows()]
        title = (
            f"Leakage gap of {self.pitfall.replace('_', ' ')} over {len(self.leaky_scores)} repeats"
        )
        header = [str(table.index.name), *map(str, table.columns)]
        return f"{title}\n{text_table(header, rows)}\n{self._test_line()}"

    def to_markdown(self, decimals: int = 2) -> str:
        """The Table-2 summary as a Markdown table with every column, then the test.

        Parameters
        ----------
        decimals : int, default=2
            Decimals shown.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.experiments import LeakageGapResult
        >>> from pitfalls.metrics import compare_runs
        >>> a, b = np.array([1.0, 0.8]), np.array([0.2, 0.4])
        >>> res = LeakageGapResult("oversampling", ["f1"], {"f1": a}, {"f1": b}, compare_runs(a, b))
        >>> print(res.to_markdown())
        | approach | F1 |
        | :--- | ---: |
        | Incorrect oversampling | 0.90±0.14 |
        | Correct oversampling | 0.30±0.14 |
        <BLANKLINE>
        F1: inflation +0.60, Wilcoxon rank-sum z=1.55, p=0.121, effect size 1.00
        """
        table = frame_to_markdown(self.summary(decimals), index="approach")
        return f"{table}\n\n{self._test_line()}"

    def __str__(self) -> str:
        return self.to_text()

    def _protocol_names(self) -> tuple[str, str]:
        if self.pitfall == "site":
            return _SITE_PROTOCOLS
        label = _APPROACH.get(self.pitfall, self.pitfall)
        return f"Incorrect {label}", f"Correct {label}"

    def to_frame(self) -> pd.DataFrame:
        """All scores in long-by-protocol form: ``repeat``, ``protocol``, one column per metric.

        Returns
        -------
        DataFrame
            ``2 * n_repeats`` rows; ``protocol`` is ``"leaky"`` or ``"correct"``. For
            ``"site"``, a ``site`` column, and one more row per repeat and held-out
            site with ``protocol`` ``"held_out_site"``.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.experiments import LeakageGapResult
        >>> from pitfalls.metrics import compare_runs
        >>> a, b = np.array([1.0, 0.8]), np.array([0.2, 0.4])
        >>> LeakageGapResult("oversampling", ["f1"], {"f1": a}, {"f1": b},
        ...                  compare_runs(a, b)).to_frame()
           repeat protocol   f1
        0       0    leaky  1.0
        1       1    leaky  0.8
        2       0  correct  0.2
        3       1  correct  0.4
        """
        frames = []
        for protocol, scores in (("leaky", self.leaky), ("correct", self.correct)):
            n_repeats = len(scores[self.metrics[0]])
            frame = pd.DataFrame({"repeat": np.arange(n_repeats), "protocol": protocol})
            for metric in self.metrics:
                frame[metric] = scores[metric]
            frames.append(frame)
        if self.site_scores is not None:
            frames.append(self.site_scores.assign(protocol="held_out_site"))
            frames[0] = frames[0].assign(site=None)
            frames[1] = frames[1].assign(site=None)
        return pd.concat(frames, ignore_index=True)

    def plot(self, ax: Any = None, *, metric: str | None = None) -> Any:
        """Both score distributions side by side (box plot with the repeats as dots).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when None.
        metric : str, optional
            Metric to plot; the primary one by default.

        Returns
        -------
        matplotlib Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from pitfalls.experiments import LeakageGapResult
        >>> from pitfalls.metrics import compare_runs
        >>> a, b = np.array([1.0, 0.8, 0.9]), np.array([0.2, 0.4, 0.3])
        >>> ax = LeakageGapResult("oversampling", ["f1"], {"f1": a}, {"f1": b},
        ...                       compare_runs(a, b)).plot()
        >>> ax.get_ylabel(), ax.get_title()
        ('F1', 'Inflation +0.60 (Wilcoxon z=1.96, p=0.05)')
        """
        import matplotlib.pyplot as plt

        metric = self.metrics[0] if metric is None else metric
        if metric not in self.metrics:
            raise ValueError(f"metric={metric!r} was not computed; use one of {self.metrics}.")
        names = [name.replace(" ", "\n", 1) for name in self._protocol_names()]
        data = [self.leaky[metric], self.correct[metric]]
        if self.site_scores is not None:  # each held-out site beside the internal score
            by_site = self.site_scores.groupby("site", sort=False)[metric]
            data = [self.leaky[metric], *(scores.to_numpy() for _, scores in by_site)]
            names = [names[0], *(f"Site {site}\nheld out" for site in by_site.groups)]
        if ax is None:
            _, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(data)), 4))
        ax.boxplot(data, widths=0.5, showfliers=False)
        ax.set_xticks(range(1, len(data) + 1), names)
        if self.site_scores is not None:
            mean = float(np.mean(self.correct[metric]))
            ax.axhline(mean, color="grey", linestyle="--", linewidth=1,
                       label=f"held-out sites' mean {mean:.2f}")  # fmt: skip
            ax.legend(loc="best", fontsize="small", frameon=False)
        rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
        for position, scores in enumerate(data, start=1):
            jitter = rng.uniform(-0.12, 0.12, size=len(scores))
            ax.plot(position + jitter, scores, "o", alpha=0.5, markersize=3)
        ax.set_ylabel(_DISPLAY.get(metric, metric))
        inflation = float(np.mean(self.leaky[metric]) - np.mean(self.correct[metric]))
        title = f"Inflation {inflation:+.2f}"
        if metric == self.metrics[0]:  # the rank-sum test is of the primary metric
            title += f" (Wilcoxon z={self.statistic:.2f}, p={self.pvalue:.2g})"
        ax.set_title(title, fontsize="medium")
        return ax

    def __repr__(self) -> str:
        return (
            f"LeakageGapResult(pitfall={self.pitfall!r}, {self.metrics[0]}: leaky "
            f"{np.mean(self.leaky_scores):.3f} vs correct {np.mean(self.correct_scores):.3f}, "
            f"inflation {self.inflation:+.3f}, z={self.statistic:.2f}, p={self.pvalue:.3g}, "
            f"n_repeats={len(self.leaky_scores)})"
        )
