"""NestedCVResult: cross_validate's dict, with a table, a Markdown table, a figure and a repr."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._tables import format_number, frame_to_markdown

__all__ = ["NestedCVResult"]


class NestedCVResult(dict[str, Any]):
    """The outcome of :func:`nested_cross_validate`: a dict, as ``cross_validate`` returns.

    Everything scikit-learn users do with ``cross_validate``'s result works unchanged
    (``result["test_score"]``, ``result.keys()``, ``"estimator" in result``,
    ``dict(result)``, ``pd.DataFrame(result)`` for the per-fold keys); on top of that it
    follows pitfalls' result protocol: :meth:`to_frame`, :meth:`to_markdown`,
    :meth:`plot` and a repr that summarises it.

    Its keys, one entry per outer fold in each:

    * ``test_score`` (ndarray): the refitted best model's score on the outer test set;
    * ``fit_time`` (ndarray): seconds of the inner fits and their scoring, plus the
      refit; ``score_time`` (ndarray): seconds scoring the refitted model on the outer
      test rows;
    * ``best_params`` (list of dict): the candidate chosen;
    * ``best_score`` (ndarray): its mean inner score (optimistic: the best of several);
    * ``cv_results`` (list of dict): the search's table as ``GridSearchCV.cv_results_``
      has it (``params``, ``mean_test_score``, ``std_test_score``,
      ``rank_test_score``, ``split{k}_test_score``);
    * ``estimator`` (list), with ``return_estimator=True`` only: the refitted models.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection import NestedCVResult
    >>> result = NestedCVResult(
    ...     test_score=np.array([0.8, 0.7]), fit_time=np.array([1.0, 1.2]),
    ...     score_time=np.array([0.01, 0.01]), best_score=np.array([0.9, 0.85]),
    ...     best_params=[{"max_depth": 2}, {"max_depth": 3}], cv_results=[{}, {}],
    ... )
    >>> float(result["test_score"].mean()), "best_params" in result
    (0.75, True)
    >>> result
    NestedCVResult(test_score 0.750 ± 0.071 over 2 outer folds; best inner score 0.875; best_params: {'max_depth': 2}, {'max_depth': 3})
    >>> result.to_frame()
                test_score  best_score  fit_time  score_time  max_depth
    outer_fold
    0                  0.8        0.90       1.0        0.01          2
    1                  0.7        0.85       1.2        0.01          3
    """

    def to_frame(self) -> pd.DataFrame:
        """One row per outer fold: its scores, times and chosen parameters.

        Returns
        -------
        DataFrame
            Indexed by ``outer_fold`` (0, 1, ...); columns ``test_score``,
            ``best_score``, ``fit_time``, ``score_time``, then one column per
            parameter of the grid (missing where a fold's candidate lacks it).

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.model_selection import NestedCVResult
        >>> result = NestedCVResult(
        ...     test_score=np.array([0.5]), fit_time=np.array([2.0]),
        ...     score_time=np.array([0.1]), best_score=np.array([0.6]),
        ...     best_params=[{"C": 1.0}], cv_results=[{}],
        ... )
        >>> result.to_frame().columns.tolist()
        ['test_score', 'best_score', 'fit_time', 'score_time', 'C']
        """
        frame = pd.DataFrame(
            {key: np.asarray(self[key]) for key in _PER_FOLD if key in self},
            index=pd.RangeIndex(len(self["test_score"]), name="outer_fold"),
        )
        params = pd.DataFrame(list(self.get("best_params", [])), index=frame.index)
        return pd.concat([frame, params], axis=1)

    def to_markdown(self, digits: int = 3) -> str:
        """The per-fold table of :meth:`to_frame` as GitHub-flavoured Markdown.

        Parameters
        ----------
        digits : int, default=3
            Decimals of the scores and times.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.model_selection import NestedCVResult
        >>> result = NestedCVResult(
        ...     test_score=np.array([0.5]), fit_time=np.array([2.0]),
        ...     score_time=np.array([0.1]), best_score=np.array([0.6]),
        ...     best_params=[{"C": 1.0}], cv_results=[{}],
        ... )
        >>> print(result.to_markdown())
        | outer_fold | test_score | best_score | fit_time | score_time | C |
        | :--- | ---: | ---: | ---: | ---: | ---: |
        | 0 | 0.500 | 0.600 | 2.000 | 0.100 | 1.000 |
        """
        frame = self.to_frame().map(lambda value: format_number(value, digits))
        return frame_to_markdown(frame, index="outer_fold")

    def plot(self, ax: Any = None) -> Any:
        """Per outer fold, the chosen candidate's inner score beside its outer test score.

        The inner score is the best of the grid, so it tends to be higher: the gap
        between the two is the optimism that nesting keeps out of the reported score.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when None.

        Returns
        -------
        matplotlib Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from pitfalls.model_selection import NestedCVResult
        >>> result = NestedCVResult(
        ...     test_score=np.array([0.8, 0.7]), fit_time=np.array([1.0, 1.2]),
        ...     score_time=np.array([0.01, 0.01]), best_score=np.array([0.9, 0.85]),
        ...     best_params=[{}, {}], cv_results=[{}, {}],
        ... )
        >>> ax = result.plot()
        >>> ax.get_xlabel(), [t.get_text() for t in ax.get_legend().get_texts()]
        ('outer fold', ['best inner score', 'outer test score'])
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3))
        folds = np.arange(len(self["test_score"]))
        ax.plot(folds, self["best_score"], "s", label="best inner score")
        ax.plot(folds, self["test_score"], "o", label="outer test score")
        ax.vlines(folds, self["best_score"], self["test_score"], colors="0.7", zorder=0)
        ax.set_xticks(folds)
        ax.set_xlabel("outer fold")
        ax.set_ylabel("score")
        ax.set_title(
            f"Outer test score {np.mean(self['test_score']):.3f} "
            f"(inner {np.mean(self['best_score']):.3f})",
            fontsize="medium",
        )
        ax.legend(fontsize="small")
        return ax

    def __repr__(self) -> str:
        scores = np.asarray(self["test_score"], dtype=float)
        spread = f" ± {np.std(scores, ddof=1):.3f}" if scores.size > 1 else ""
        params = ", ".join(repr(p) for p in self.get("best_params", []))
        return (
            f"NestedCVResult(test_score {np.mean(scores):.3f}{spread} over {scores.size} "
            f"outer folds; best inner score {np.mean(self['best_score']):.3f}; "
            f"best_params: {params})"
        )


_PER_FOLD = ("test_score", "best_score", "fit_time", "score_time")
