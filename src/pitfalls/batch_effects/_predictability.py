"""Can the data source be predicted from the features? (a site-signature probe)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from pitfalls._deprecation import renamed_attribute, renamed_kwargs
from pitfalls._tables import format_number, frame_to_markdown
from pitfalls._validation import check_groups, check_sites, describe_values
from pitfalls.batch_effects._fast_logistic import MAX_FEATURES, batched_logistic_auc
from pitfalls.model_selection import StratifiedGroupKFold

__all__ = ["BatchPredictabilityResult", "batch_predictability"]


@dataclass(frozen=True, repr=False, eq=False)
class BatchPredictabilityResult:
    """Cross-validated predictability of the site from the features.

    Attributes
    ----------
    score : float
        Mean over folds of the ROC AUC (macro one-vs-rest for more than two sites).
        About 0.5 when the features carry no site signature; near 1 when the site can
        be read off the features.
    scores : ndarray of shape (n_splits,)
        ROC AUC of each fold.
    pvalue : float
        Permutation p-value ``(1 + #{null >= score}) / (1 + n_permutations)``; NaN when
        ``n_permutations=0``. (A permutation whose every fold is undefined is left out.)
    null_scores : ndarray of shape (n_permutations,)
        Mean fold AUC after each permutation of the sites.
    sites : ndarray
        The sites, sorted.
    permuted_by : {"group", "sample"}
        Unit whose site was permuted.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.batch_effects import batch_predictability
    >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
    >>> res = batch_predictability(X, [0] * 6 + [1] * 6, cv=2, n_permutations=5,
    ...                            random_state=0)
    >>> res.to_frame()
       fold  roc_auc
    0     0      1.0
    1     1      1.0
    >>> print(res.to_markdown().splitlines()[0])
    Site predictability: ROC AUC 1.000 (chance 0.5), permutation p = 0.167 (5 permutations of samples), 2 sites.
    """

    score: float
    scores: np.ndarray
    pvalue: float
    null_scores: np.ndarray
    sites: np.ndarray
    permuted_by: str

    batches = renamed_attribute("batches", "sites")

    def __repr__(self) -> str:
        return (
            f"BatchPredictabilityResult(score={self.score:.3f}, pvalue={self.pvalue:.3g}, "
            f"n_splits={self.scores.size}, n_permutations={self.null_scores.size}, "
            f"n_sites={self.sites.size})"
        )

    def to_frame(self) -> pd.DataFrame:
        """The site-prediction ROC AUC of each fold (``fold``, ``roc_auc``).

        Returns
        -------
        DataFrame
            One row per fold; the permutation null is in :attr:`null_scores`.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.batch_effects import batch_predictability
        >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
        >>> batch_predictability(X, [0] * 6 + [1] * 6, cv=3, n_permutations=0).to_frame().shape
        (3, 2)
        """
        return pd.DataFrame({"fold": np.arange(self.scores.size), "roc_auc": self.scores})

    def to_markdown(self, digits: int = 3) -> str:
        """A one-line verdict and the fold scores, in Markdown.

        Parameters
        ----------
        digits : int, default=3
            Decimals of the scores.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.batch_effects import batch_predictability
        >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
        >>> res = batch_predictability(X, [0] * 6 + [1] * 6, cv=2, n_permutations=0)
        >>> res.to_markdown().splitlines()[0]
        'Site predictability: ROC AUC 1.000 (chance 0.5), no permutation test, 2 sites.'
        """
        if self.null_scores.size:
            test = (
                f"permutation p = {self.pvalue:.3g} ({self.null_scores.size} permutations "
                f"of {self.permuted_by}s)"
            )
        else:
            test = "no permutation test"
        verdict = (
            f"Site predictability: ROC AUC {format_number(self.score, digits)} (chance 0.5), "
            f"{test}, {self.sites.size} sites."
        )
        frame = self.to_frame().assign(roc_auc=[format_number(v, digits) for v in self.scores])
        return f"{verdict}\n\n{frame_to_markdown(frame)}"

    def plot(self, ax: Any = None) -> Any:
        """Histogram of the permutation null with the observed score marked.

        See :func:`pitfalls.batch_effects.plot_permutation_null`.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from pitfalls.batch_effects import batch_predictability
        >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))] + np.arange(12)[:, None] / 100
        >>> res = batch_predictability(X, [0] * 6 + [1] * 6, cv=2, n_permutations=5,
        ...                            random_state=0)
        >>> res.plot().get_xlabel()
        'site-prediction ROC AUC'
        """
        from pitfalls.batch_effects._plotting import plot_permutation_null

        return plot_permutation_null(
            self.score,
            self.null_scores,
            pvalue=None if np.isnan(self.pvalue) else self.pvalue,
            chance=0.5,
            ax=ax,
            xlabel="site-prediction ROC AUC",
        )


def default_site_probe() -> Any:
    """Standardised logistic regression, the default site classifier.

    Examples
    --------
    >>> from pitfalls.batch_effects._predictability import default_site_probe
    >>> [name for name, _ in default_site_probe().steps]
    ['standardscaler', 'logisticregression']
    """
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _check_probe_inputs(
    X: Any, sites: Any, groups: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    data = check_array(X, dtype=np.float64)
    site_arr = check_sites(sites, data.shape[0])
    levels = pd.unique(site_arr)
    if levels.size < 2:
        raise ValueError(
            f"sites has a single value ({describe_values(levels)}); the site cannot be "
            "predicted when every sample comes from one site."
        )
    group_arr = None if groups is None else check_groups(groups, data.shape[0])
    if group_arr is not None:
        per_group = pd.Series(site_arr).groupby(group_arr).nunique()
        mixed = per_group.index[per_group > 1]
        if mixed.size:
            raise ValueError(
                f"groups {describe_values(mixed)} have samples from more than one site; "
                "permutations exchange whole groups, so each group (patient) must belong to "
                "a single site. Give those patients one id per site or drop them."
            )
    return data, site_arr, group_arr


def _make_folds(
    cv: Any, data: np.ndarray, site_arr: np.ndarray, group_arr: np.ndarray | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(cv, int | np.integer):
        units = np.arange(site_arr.size) if group_arr is None else group_arr
        per_site = pd.Series(units).groupby(site_arr).nunique()
        smallest = per_site.idxmin()
        if per_site.min() < cv:
            unit = "samples" if group_arr is None else "groups"
            raise ValueError(
                f"cv={cv} is greater than the number of {unit} of site {smallest!r} "
                f"({per_site.min()}); use cv <= {per_site.min()} so every fold can hold "
                "every site."
            )
        if group_arr is None:
            splitter: Any = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=seed)
        else:
            splitter = StratifiedGroupKFold(n_splits=int(cv), shuffle=True, random_state=seed)
    else:
        splitter = cv
    return [(train, test) for train, test in splitter.split(data, site_arr, group_arr)]


def _fold_auc(estimator: Any, X_test: np.ndarray, y_test: np.ndarray) -> float:
    """ROC AUC of one fold; macro one-vs-rest over classes present in both train and test."""
    classes = estimator.classes_
    if classes.size == 2 and hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(X_test)).reshape(len(X_test), -1)[:, -1]
        positive = y_test == classes[1]
        if 0 < positive.sum() < positive.size:
            return float(roc_auc_score(positive, scores))
        return np.nan
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X_test)
    else:
        proba = np.asarray(estimator.decision_function(X_test)).reshape(len(X_test), -1)
    if classes.size == 2:
        proba = proba.reshape(len(X_test), -1)[:, -1:]
        classes = classes[1:]
    aucs = []
    for column, cls in enumerate(classes):
        positive = y_test == cls
        if 0 < positive.sum() < positive.size:
            aucs.append(roc_auc_score(positive, proba[:, column]))
    # a binary problem has one curve; a multiclass one needs two classes to average
    if not aucs:
        return np.nan
    return float(np.mean(aucs))


def _cv_scores(
    estimator: Any,
    data: np.ndarray,
    target: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    scores = np.empty(len(folds))
    for i, (train, test) in enumerate(folds):
        if np.unique(target[train]).size < 2:
            scores[i] = np.nan
            continue
        fitted = clone(estimator).fit(data[train], target[train])
        scores[i] = _fold_auc(fitted, data[test], target[test])
    return scores


def _permute(
    site_arr: np.ndarray, group_arr: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    if group_arr is None:
        return rng.permutation(site_arr)
    # every group keeps one site: shuffle the site labels of the groups, not of samples
    _, first, inverse = np.unique(group_arr, return_index=True, return_inverse=True)
    return rng.permutation(site_arr[first])[inverse]


def _default_probe_scores(
    probe: Any,
    data: np.ndarray,
    targets: list[np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    levels: np.ndarray,
    n_jobs: int | None,
) -> np.ndarray:
    """Fold AUCs of the default probe for every target, solved together (two sites)."""
    binary = np.stack([target == levels[1] for target in targets]).astype(np.int8)
    chunks = np.array_split(np.arange(len(targets)), min(len(targets), effective_n_jobs(n_jobs)))
    parts = Parallel(n_jobs=n_jobs)(
        delayed(batched_logistic_auc)(data, binary[chunk], folds) for chunk in chunks
    )
    auc = np.concatenate([part[0] for part in parts])
    failed = np.concatenate([part[1] for part in parts])
    for row, fold in zip(*np.nonzero(failed), strict=True):
        # rare: Newton did not converge, so fit this one the ordinary way
        auc[row, fold] = _cv_scores(probe, data, targets[row], [folds[fold]])[0]
    return auc


def _mean_or_nan(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


@renamed_kwargs(batches="sites")
def batch_predictability(
    X: Any,
    sites: Any,
    *,
    groups: Any = None,
    cv: Any = 5,
    estimator: Any = None,
    n_permutations: int = 100,
    random_state: Any = None,
    n_jobs: int | None = None,
) -> BatchPredictabilityResult:
    """Probe whether the data source (site) can be predicted from the features.

    If a classifier can tell the sites apart from the features (radiomics, image
    embeddings), a model for the disease can learn the site too; combined with a
    site-label imbalance (:func:`confounding_test`) that is the batch effect of the
    paper. The probe cross-validates a site classifier with patient-grouped,
    site-stratified folds and compares its ROC AUC with a permutation null.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Features or embeddings. Do not include the label.
    sites : array-like of shape (n_samples,)
        Site (scanner, batch) of each sample; the target of the probe. Formerly
        ``batches`` (deprecated, removed in 0.3).
    groups : array-like of shape (n_samples,), optional
        Patient of each sample. Folds then keep a patient's samples together (a patient
        signature must not pass for a site signature), and the permutation test
        exchanges the site labels of whole patients, so every patient keeps a single
        site and the number of patients per site is unchanged. Each patient must
        belong to one site.
    cv : int or cross-validation splitter, default=5
        Number of folds (:class:`~pitfalls.model_selection.StratifiedGroupKFold` with
        groups, :class:`~sklearn.model_selection.StratifiedKFold` without, both shuffled
        with ``random_state``) or a splitter whose ``split(X, sites, groups)`` is used.
        The same folds serve the observed score and every permutation.
    estimator : classifier, optional
        Site classifier with ``predict_proba`` or ``decision_function``. Default:
        ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``.
    n_permutations : int, default=100
        Permutations of the sites for the p-value; 0 skips the test.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the permutations.
    n_jobs : int, optional
        Permutations run in parallel with joblib (so a dask or ray backend set with
        ``joblib.parallel_config`` distributes them).

    Returns
    -------
    BatchPredictabilityResult
        With ``score``, ``scores``, ``pvalue``, ``null_scores`` and ``sites``.

    Raises
    ------
    ValueError
        If the lengths differ, there is a single site, a patient spans several sites,
        or a site has fewer samples (patients) than folds.

    Notes
    -----
    ROC AUC is computed per fold; for more than two sites it is the unweighted mean of
    the one-vs-rest AUCs of the sites present in the fold's test set (scikit-learn's
    ``roc_auc_score(..., multi_class="ovr", average="macro")`` when all are present).
    A fold whose training or test set lacks the needed classes (possible for permuted
    labels) gets NaN and is left out of the mean.

    Speed: every permutation reuses the same folds. With the default probe, two sites
    and at most 64 features, the standardisation is computed once per fold and the
    logistic regressions of all permutations are solved together by batched Newton
    steps on scikit-learn's objective (same solution to solver tolerance); otherwise
    the estimator is cloned and fitted per permutation and fold.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.batch_effects import batch_predictability
    >>> rng = np.random.default_rng(0)
    >>> sites = np.repeat(["a", "b"], 30)
    >>> X = rng.normal(size=(60, 4))
    >>> X[sites == "b", 0] += 3.0  # site b leaves a signature on feature 0
    >>> res = batch_predictability(X, sites, n_permutations=19, random_state=0)
    >>> res.score > 0.9, res.pvalue
    (True, 0.05)
    """
    data, site_arr, group_arr = _check_probe_inputs(X, sites, groups)
    if not isinstance(n_permutations, int | np.integer) or n_permutations < 0:
        raise ValueError(
            f"n_permutations={n_permutations!r} must be a non-negative integer; e.g. 100."
        )
    rs = check_random_state(random_state)
    split_seed = int(rs.randint(np.iinfo(np.int32).max))
    perm_rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
    folds = _make_folds(cv, data, site_arr, group_arr, split_seed)
    probe = default_site_probe() if estimator is None else estimator
    # draw every permutation up front: results do not depend on n_jobs or the backend
    permuted = [_permute(site_arr, group_arr, perm_rng) for _ in range(n_permutations)]
    targets = [site_arr, *permuted]
    levels = np.unique(site_arr)
    if estimator is None and levels.size == 2 and data.shape[1] <= MAX_FEATURES:
        fold_scores = _default_probe_scores(probe, data, targets, folds, levels, n_jobs)
    else:
        fold_scores = np.array(
            Parallel(n_jobs=n_jobs)(
                delayed(_cv_scores)(probe, data, target, folds) for target in targets
            ),
            dtype=float,
        ).reshape(len(targets), len(folds))
    scores = fold_scores[0]
    score = _mean_or_nan(scores)
    null_scores = np.array([_mean_or_nan(s) for s in fold_scores[1:]], dtype=float)
    valid = null_scores[np.isfinite(null_scores)]
    if valid.size and np.isfinite(score):
        pvalue = (1.0 + np.sum(valid >= score)) / (1.0 + valid.size)
    else:
        pvalue = float("nan")
    return BatchPredictabilityResult(
        score=score,
        scores=scores,
        pvalue=float(pvalue),
        null_scores=null_scores,
        sites=levels,
        permuted_by="sample" if group_arr is None else "group",
    )
