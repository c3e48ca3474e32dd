"""Compare two lists of scores from repeated runs (leaky vs correct protocol, model A vs B).

The paper compares the score distributions of the leaky and the correct protocol over
repeated runs with the Wilcoxon rank-sum test; :func:`compare_runs` does exactly that
(scipy's :func:`scipy.stats.ranksums`), adds an effect size that does not depend on the
number of repeats (the rank-biserial correlation), and offers the Nadeau-Bengio
corrected resampled t-test for scores that come from repeated cross-validation on the
same data, where the ordinary tests are too liberal because training sets overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

__all__ = ["RunComparison", "compare_runs"]

_ALTERNATIVES = ("two-sided", "less", "greater")
_TESTS = ("ranksums", "corrected_t")


@dataclass(frozen=True)
class RunComparison:
    """Result of :func:`compare_runs`.

    Attributes
    ----------
    statistic : float
        Test statistic: the rank-sum z statistic (``test="ranksums"``) or the corrected
        t statistic (``test="corrected_t"``). Positive when run ``a`` scores higher.
    pvalue : float
        p-value for ``alternative``.
    effect_size : float
        Rank-biserial correlation ``P(a > b) - P(a < b)`` over all pairs of scores
        (ties count half), in [-1, 1]; 1 means every score of ``a`` beats every
        score of ``b``. Reported for both tests.
    mean_a, sd_a, mean_b, sd_b : float
        Mean and sample standard deviation (``ddof=1``) of each run's scores.
    n_a, n_b : int
        Number of scores in each run.
    test : str
        ``"ranksums"`` or ``"corrected_t"``.
    alternative : str
        ``"two-sided"``, ``"greater"`` (a scores higher) or ``"less"``.

    Examples
    --------
    >>> from pitfalls.metrics import compare_runs
    >>> res = compare_runs([0.9, 0.8, 0.85], [0.7, 0.75, 0.72])
    >>> res.effect_size
    1.0
    >>> round(res.mean_difference, 3)
    0.127
    """

    statistic: float
    pvalue: float
    effect_size: float
    mean_a: float
    sd_a: float
    mean_b: float
    sd_b: float
    n_a: int
    n_b: int
    test: str
    alternative: str

    @property
    def mean_difference(self) -> float:
        """``mean_a - mean_b``: how much run ``a`` scores above run ``b`` on average."""
        return self.mean_a - self.mean_b

    def to_dict(self) -> dict[str, Any]:
        """All fields and ``mean_difference`` as a plain dict (for JSON or a DataFrame row).

        Examples
        --------
        >>> from pitfalls.metrics import compare_runs
        >>> sorted(compare_runs([1, 2], [3, 4]).to_dict())[:3]
        ['alternative', 'effect_size', 'mean_a']
        """
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["mean_difference"] = self.mean_difference
        return out

    def __repr__(self) -> str:
        name = "Wilcoxon rank-sum" if self.test == "ranksums" else "corrected resampled t"
        stat = "z" if self.test == "ranksums" else "t"
        return (
            f"RunComparison({name}, {self.alternative}: {stat}={self.statistic:.3f}, "
            f"p={_format_p(self.pvalue)}, rank-biserial={self.effect_size:+.3f}; "
            f"a={self.mean_a:.3f} ± {self.sd_a:.3f} (n={self.n_a}), "
            f"b={self.mean_b:.3f} ± {self.sd_b:.3f} (n={self.n_b}))"
        )

    __str__ = __repr__


def _format_p(p: float) -> str:
    if math.isnan(p):
        return "nan"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _check_scores(scores: Any, name: str) -> np.ndarray:
    arr = np.asarray(scores, dtype=float)
    if arr.ndim != 1:
        arr = arr.ravel() if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one score per run); got shape {arr.shape}.")
    if arr.size < 2:
        raise ValueError(
            f"{name} has {arr.size} score(s); compare_runs needs at least 2 scores per run "
            "(repeat the experiment, e.g. n_repeats >= 2)."
        )
    n_bad = int(np.count_nonzero(~np.isfinite(arr)))
    if n_bad:
        raise ValueError(
            f"{name} has {n_bad} NaN or infinite score(s); drop the failed runs or fix the "
            "metric (an undefined metric is not a score of 0)."
        )
    return arr


def rank_biserial(a: np.ndarray, b: np.ndarray) -> float:
    """Rank-biserial correlation ``P(a > b) - P(a < b)``; ties count half.

    Computed from the Mann-Whitney U of ``a`` (average ranks for ties), so it costs a
    sort rather than ``len(a) * len(b)`` comparisons.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._compare import rank_biserial
    >>> rank_biserial(np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    1.0
    >>> rank_biserial(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    0.0
    """
    n_a, n_b = a.size, b.size
    ranks = stats.rankdata(np.concatenate([a, b]))
    u_a = ranks[:n_a].sum() - n_a * (n_a + 1) / 2.0
    return float(2.0 * u_a / (n_a * n_b) - 1.0)


def _corrected_t(
    a: np.ndarray, b: np.ndarray, n_train: int, n_test: int, alternative: str
) -> tuple[float, float]:
    # Nadeau & Bengio (2003): the variance of the mean of J resampled differences is
    # (1/J + n_test/n_train) * var(d), not var(d)/J, because the training sets overlap.
    diff = a - b
    n_runs = diff.size
    mean = float(diff.mean())
    var = float(diff.var(ddof=1))
    if var == 0.0:
        # Identical differences in every run: no spread to test against.
        statistic = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    else:
        statistic = mean / math.sqrt((1.0 / n_runs + n_test / n_train) * var)
    dist = stats.t(df=n_runs - 1)
    if alternative == "two-sided":
        pvalue = 1.0 if statistic == 0.0 else float(2.0 * dist.sf(abs(statistic)))
    elif alternative == "greater":
        pvalue = float(dist.sf(statistic))
    else:
        pvalue = float(dist.cdf(statistic))
    return float(statistic), min(pvalue, 1.0)


def compare_runs(
    scores_a: Any,
    scores_b: Any,
    *,
    alternative: Literal["two-sided", "less", "greater"] = "two-sided",
    test: Literal["ranksums", "corrected_t"] = "ranksums",
    n_train: int | None = None,
    n_test: int | None = None,
) -> RunComparison:
    """Compare the scores of two protocols over repeated runs.

    Parameters
    ----------
    scores_a, scores_b : array-like of shape (n_runs,)
        One score per run (e.g. the F1 of each of 100 repeats) for protocol ``a``
        (e.g. leaky) and protocol ``b`` (e.g. correct). NaN scores are an error.
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"`` tests whether ``a`` scores higher than ``b``.
    test : {"ranksums", "corrected_t"}, default="ranksums"
        ``"ranksums"``: Wilcoxon rank-sum test, exactly :func:`scipy.stats.ranksums`
        (normal approximation, no tie correction), as in the paper. Use it for
        independent runs.
        ``"corrected_t"``: Nadeau-Bengio corrected resampled t-test on the paired
        differences ``a - b``. Use it when both protocols were scored on the *same*
        repeated cross-validation splits: the folds share training data, so the runs
        are not independent and uncorrected tests report p-values that are too small.
        Needs ``len(scores_a) == len(scores_b)`` (paired by position), ``n_train``
        and ``n_test``.
    n_train, n_test : int, optional
        Training- and test-set sizes of one split; only for ``test="corrected_t"``.

    Returns
    -------
    RunComparison
        ``statistic``, ``pvalue``, ``effect_size`` (rank-biserial correlation),
        mean and sd of each run, and a one-line readable repr.

    See Also
    --------
    scipy.stats.ranksums : The rank-sum test used by default.

    References
    ----------
    .. [1] C. Nadeau and Y. Bengio, "Inference for the generalization error",
       Machine Learning 52, 239-281 (2003).

    Examples
    --------
    >>> from pitfalls.metrics import compare_runs
    >>> leaky = [0.91, 0.93, 0.90, 0.94, 0.92]
    >>> correct = [0.71, 0.69, 0.75, 0.73, 0.70]
    >>> res = compare_runs(leaky, correct, alternative="greater")
    >>> round(res.statistic, 3), round(res.pvalue, 4), res.effect_size
    (2.611, 0.0045, 1.0)
    >>> res
    RunComparison(Wilcoxon rank-sum, greater: z=2.611, p=0.005, rank-biserial=+1.000;
    a=0.920 ± 0.016 (n=5), b=0.716 ± 0.024 (n=5))
    >>> compare_runs(leaky, correct, test="corrected_t", n_train=80, n_test=20).test
    'corrected_t'
    """
    if alternative not in _ALTERNATIVES:
        raise ValueError(
            f"alternative={alternative!r} is not supported; use one of {', '.join(map(repr, _ALTERNATIVES))}."
        )
    if test not in _TESTS:
        raise ValueError(
            f"test={test!r} is not supported; use one of {', '.join(map(repr, _TESTS))}."
        )
    a = _check_scores(scores_a, "scores_a")
    b = _check_scores(scores_b, "scores_b")

    if test == "ranksums":
        if n_train is not None or n_test is not None:
            raise ValueError(
                "n_train and n_test are only used by test='corrected_t'; drop them or "
                "pass test='corrected_t'."
            )
        result = stats.ranksums(a, b, alternative=alternative)
        statistic, pvalue = float(result.statistic), float(result.pvalue)
    else:
        if a.size != b.size:
            raise ValueError(
                f"test='corrected_t' pairs the runs by position, but scores_a has {a.size} "
                f"scores and scores_b has {b.size}; pass scores from the same splits."
            )
        for name, value in (("n_train", n_train), ("n_test", n_test)):
            if value is None or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(
                    f"{name}={value!r} is invalid; test='corrected_t' needs the size of "
                    "one training and one test set as positive integers."
                )
        statistic, pvalue = _corrected_t(a, b, int(n_train), int(n_test), alternative)  # type: ignore[arg-type]

    return RunComparison(
        statistic=statistic,
        pvalue=pvalue,
        effect_size=rank_biserial(a, b),
        mean_a=float(a.mean()),
        sd_a=float(a.std(ddof=1)),
        mean_b=float(b.mean()),
        sd_b=float(b.std(ddof=1)),
        n_a=int(a.size),
        n_b=int(b.size),
        test=test,
        alternative=alternative,
    )
