"""Nested cross-validation with a grid search inside, as in the paper (3 x 3), done fast.

Same result as the plain scikit-learn loop (a ``GridSearchCV`` fitted on each outer
training set, scored on the outer test set), with this waste removed:

* the steps of a pipeline before its final estimator are fitted **once per inner
  split and per distinct setting of their own parameters**, not once per grid
  candidate: when the grid only tunes the final estimator (the paper's random forest
  ``max_depth`` x ``min_samples_leaf``), the variance filter, k-best selection,
  oversampling and recursive feature elimination run once where ``GridSearchCV`` runs
  them six times;
* all fits of all outer folds go through one flat pool of ``n_jobs`` workers instead
  of an outer loop around a parallel search (idle workers at the end of every fold);
* the estimators' own ``n_jobs`` are set to 1 inside that pool, so a forest with
  ``n_jobs=-1`` does not start a thread per core in every worker (oversubscription,
  and per-tree dispatch overhead for forests of many tiny trees). scikit-learn
  estimators give the same result whatever their ``n_jobs``;
* with ``lean_forests=True`` (opt-in), the inner loop's ``RandomForestClassifier``
  (alone or last in the pipeline) is fitted by
  :class:`pitfalls._compat.LeanRandomForestClassifier`: the same trees, without
  scikit-learn's per-tree Python overhead, which on a radiomics-sized table takes
  longer than building the tree. It relies on scikit-learn internals, so it lives in
  ``pitfalls._compat`` and works only on the scikit-learn versions it was checked on.

The work reads as phases: validate the arguments, plan the splits (checked
patient-disjoint before any fit), run the inner fits, refit the best candidate of
each outer fold, render the :class:`NestedCVResult`.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone, is_classifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import GroupKFold, KFold, ParameterGrid, StratifiedKFold
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.utils import indexable
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed

from .._compat import (
    LEAN_FORESTS,
    LeanRandomForestClassifier,
    is_prediction_scorer,
    lean_forests_unavailable_warning,
    num_samples,
    safe_indexing,
)
from .._fit_errors import fit_context
from .._validation import check_groups, check_positive_class
from ..pipeline._fit_steps import fit_steps, transform_steps
from ._check import describe_splitter, split_by_group_checked
from ._nested_result import NestedCVResult
from ._split import StratifiedGroupKFold

__all__ = ["NestedCVResult", "nested_cross_validate"]

Split = tuple[np.ndarray, np.ndarray]


# ----------------------------------------------------------------------------- splits


def _resolve_cv(cv: Any, y: Any, groups: Any, random_state: Any, estimator: Any, name: str) -> Any:
    """An int becomes a (group-aware, stratified when it can) k-fold splitter."""
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"{name}={cv} is less than 2; use {name} >= 2 folds.")
        cv = int(cv)
        shuffle = random_state is not None
        seed = random_state if shuffle else None
        stratify = is_classifier(estimator) and type_of_target(y) in ("binary", "multiclass")
        if groups is not None:
            if stratify:
                return StratifiedGroupKFold(cv, shuffle=shuffle, random_state=seed)
            return GroupKFold(cv, shuffle=shuffle, random_state=seed)
        if stratify:
            return StratifiedKFold(cv, shuffle=shuffle, random_state=seed)
        return KFold(cv, shuffle=shuffle, random_state=seed)
    if isinstance(cv, str) or not hasattr(cv, "split"):
        raise TypeError(
            f"{describe_splitter(name, cv)} is neither an int nor a splitter with a split() "
            "method; pass the number of folds or a splitter such as StratifiedGroupKFold(3)."
        )
    return cv


# -------------------------------------------------------------------- sharing plan


def _final_step(estimator: Any) -> tuple[str, Any] | None:
    """(name, estimator) of a pipeline's final step, or None when sharing is impossible."""
    if not isinstance(estimator, SkPipeline) or len(estimator.steps) < 2:
        return None
    name, final = estimator.steps[-1]
    return None if final is None or final == "passthrough" else (name, final)


def _split_params(params: Mapping[str, Any], final_name: str) -> tuple[dict, dict]:
    """Split a candidate's parameters into (upstream pipeline params, final-step params)."""
    upstream, final = {}, {}
    prefix = f"{final_name}__"
    for key, value in params.items():
        if key == final_name:
            final[""] = value  # the final step itself is replaced
        elif key.startswith(prefix):
            final[key[len(prefix) :]] = value
        else:
            upstream[key] = value
    return upstream, final


def _same_params(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        if a[key] is b[key]:
            continue
        try:
            if not bool(a[key] == b[key]):
                return False
        except (TypeError, ValueError):  # arrays, estimators: identity only
            return False
    return True


def _sharing_plan(
    candidates: list[dict[str, Any]], final_name: str
) -> list[tuple[dict[str, Any], list[int]]]:
    """Group candidates whose upstream parameters are equal: one upstream fit per group."""
    plan: list[tuple[dict[str, Any], list[int]]] = []
    for index, params in enumerate(candidates):
        upstream, _ = _split_params(params, final_name)
        for shared, members in plan:
            if _same_params(shared, upstream):
                members.append(index)
                break
        else:
            plan.append((upstream, [index]))
    return plan


# ------------------------------------------------------------------------ work units


def _single_threaded(estimator: Any) -> Any:
    """Set every ``n_jobs`` parameter (nested ones too) to 1; results do not change."""
    updates = {
        key: 1
        for key, value in estimator.get_params(deep=True).items()
        if (key == "n_jobs" or key.endswith("__n_jobs")) and value not in (None, 1)
    }
    return estimator.set_params(**updates) if updates else estimator


def _with_lean_forest(model: Any) -> Any:
    """``model`` (a fresh clone) with its forest, alone or last step, made lean.

    Only a plain ``RandomForestClassifier`` is replaced (by
    :class:`~pitfalls._compat.LeanRandomForestClassifier` with the same parameters,
    through ``set_params`` for a pipeline); anything else is returned unchanged.
    """
    if type(model) is RandomForestClassifier:
        return LeanRandomForestClassifier(**model.get_params(deep=False))
    if isinstance(model, SkPipeline) and type(model.steps[-1][1]) is RandomForestClassifier:
        name, forest = model.steps[-1]
        return model.set_params(
            **{name: LeanRandomForestClassifier(**forest.get_params(deep=False))}
        )
    return model


def _fitted(
    estimator: Any, params: dict, X_train: Any, y_train: Any, where: str, lean: bool = False
) -> Any:
    """A single-threaded clone of ``estimator`` with ``params``, fitted (errors noted)."""
    model = _single_threaded(clone(estimator).set_params(**clone(params, safe=False)))
    if lean:
        model = _with_lean_forest(model)
    with fit_context(where, y_train):
        model.fit(X_train, y_train)
    return model


def _upstream_task(
    estimator: Any, upstream_params: dict, X: Any, y: Any, train: Any, test: Any, where: str
) -> tuple[Any, Any, Any, float]:
    """Fit the steps before the model once, for every candidate sharing their parameters.

    Returns the model's training rows, their targets, the evaluation rows transformed
    by the fitted steps (samplers skipped, as at prediction time) and the seconds taken.
    """
    start = time.perf_counter()
    pipe = _single_threaded(clone(estimator).set_params(**clone(upstream_params, safe=False)))
    X_train, y_train = safe_indexing(X, train), safe_indexing(y, train)
    steps = [(position, name, step) for position, (name, step) in enumerate(pipe.steps[:-1])]
    with fit_context(where, y_train):
        fitted = fit_steps(steps, X_train, y_train)  # nothing follows the rows
    X_eval = transform_steps(fitted.steps, safe_indexing(X, test))
    return fitted.X, fitted.y, X_eval, time.perf_counter() - start


def _final_task(
    final: Any,
    final_params: dict,
    prepared: tuple[Any, Any, Any, float],
    y_eval: Any,
    scorer: Any,
    where: str,
    lean: bool,
) -> tuple[float, float]:
    """Fit the model of one candidate on the shared steps' output and score it."""
    start = time.perf_counter()
    X_train, y_train, X_eval, _ = prepared
    if "" in final_params:  # the grid replaces the final step itself
        final = final_params.pop("")
    model = _fitted(final, final_params, X_train, y_train, where, lean)
    return float(scorer(model, X_eval, y_eval)), time.perf_counter() - start


def _whole_task(
    estimator: Any,
    params: dict,
    X: Any,
    y: Any,
    split: Split,
    scorer: Any,
    where: str,
    lean: bool,
) -> tuple[float, float]:
    """Fit and score the whole estimator (no pipeline to share): GridSearchCV's unit."""
    start = time.perf_counter()
    train, test = split
    model = _fitted(
        estimator, params, safe_indexing(X, train), safe_indexing(y, train), where, lean
    )
    score = scorer(model, safe_indexing(X, test), safe_indexing(y, test))
    return float(score), time.perf_counter() - start


def _refit_task(
    estimator: Any,
    params: dict,
    X: Any,
    y: Any,
    split: Split,
    scorer: Any,
    restore_n_jobs: bool,
    where: str,
) -> tuple[float, float, float, Any]:
    """Refit the chosen candidate on the outer training rows, score it on the test rows."""
    train, test = split
    start = time.perf_counter()
    model = _fitted(estimator, params, safe_indexing(X, train), safe_indexing(y, train), where)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    score = float(scorer(model, safe_indexing(X, test), safe_indexing(y, test)))
    score_time = time.perf_counter() - start
    if restore_n_jobs:  # hand back the estimator with the user's n_jobs settings
        original = estimator.get_params(deep=True)
        n_jobs_params = {k: v for k, v in original.items() if k.endswith("n_jobs")}
        model.set_params(**{k: v for k, v in n_jobs_params.items() if k in model.get_params()})
    return score, fit_time, score_time, model


def _where(outer: int, inner: int | None, params: Mapping[str, Any]) -> str:
    fold = f"outer fold {outer + 1}" + ("" if inner is None else f", inner fold {inner + 1}")
    what = "refitting" if inner is None else "fitting"
    settings = f" with {dict(params)}" if params else ""
    return f"nested_cross_validate: raised while {what} {fold}{settings}"


def _select_best(scores: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """GridSearchCV's choice: highest mean inner score, NaN as worst, first among ties."""
    means = np.average(scores, axis=1)
    if np.isnan(means).all():
        ranks = np.ones_like(means, dtype=np.int32)
    else:
        filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
        ranks = rankdata(-filled, method="min").astype(np.int32, copy=False)
    return int(ranks.argmin()), means, ranks


# -------------------------------------------------------------------------- phases


@dataclass(frozen=True)
class _Search:
    """What every fit needs, fixed by the validate and plan phases."""

    estimator: Any
    X: Any
    y: Any
    candidates: list[dict[str, Any]]
    scorer: Any
    outer_splits: list[Split]
    inner_splits: list[list[Split]]  # per outer fold, indices into X (not the fold)
    lean: bool

    def empty_scores(self) -> list[np.ndarray]:
        """Per outer fold, a (candidate, inner split) array to fill."""
        return [np.empty((len(self.candidates), len(splits))) for splits in self.inner_splits]


def _validate(
    estimator: Any,
    X: Any,
    y: Any,
    groups: Any,
    param_grid: Any,
    scoring: Any,
    lean_forests: bool,
) -> tuple[Any, Any, Any, Any, list[dict[str, Any]], bool]:
    """Check the arguments; return X, y, groups, the scorer, the candidates, lean or not."""
    X, y = indexable(X, y)
    check_positive_class(scoring, y)
    if groups is not None:
        groups = check_groups(groups, num_samples(X))
    if isinstance(scoring, (list, tuple, set, dict)):
        raise ValueError(
            f"scoring={scoring!r} names several scorers; nested_cross_validate selects "
            "and reports with one, as GridSearchCV without refit=: pass one (e.g. "
            "scoring='f1') and score the others on the estimators that "
            "return_estimator=True gives."
        )
    scorer = check_scoring(estimator, scoring=scoring)
    candidates = list(ParameterGrid(param_grid))
    if not candidates:
        raise ValueError("param_grid is empty; give at least one parameter value to search.")
    if lean_forests and not LEAN_FORESTS:
        lean_forests_unavailable_warning()
    return X, y, groups, scorer, candidates, bool(lean_forests and LEAN_FORESTS)


def _plan_splits(
    outer: Any, inner: Any, X: Any, y: Any, groups: Any, outer_cv: Any, inner_cv: Any
) -> tuple[list[Split], list[list[Split]]]:
    """Both loops' splits; with groups, every fold is checked patient-disjoint first."""
    outer_splits = split_by_group_checked(
        outer, X, y, groups, described=describe_splitter("outer_cv", outer_cv),
        where="the outer loop",
    )  # fmt: skip
    inner_splits = []
    for number, (train, _) in enumerate(outer_splits, start=1):
        local = split_by_group_checked(
            inner, safe_indexing(X, train), safe_indexing(y, train),
            None if groups is None else groups[train],
            described=describe_splitter("inner_cv", inner_cv),
            where=f"the inner loop of outer fold {number}",
        )  # fmt: skip
        # inner indices are relative to the outer training set: map them back to X
        inner_splits.append([(train[tr], train[te]) for tr, te in local])
    return outer_splits, inner_splits


def _run_inner(search: _Search, parallel: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """Every candidate on every inner split: scores per outer fold, and seconds."""
    # The shared-upstream path scores the final step on transformed rows: the same
    # number as scoring the pipeline only for a scorer that reads predictions. Any
    # other callable gets the whole pipeline and the raw rows, as in GridSearchCV.
    final = _final_step(search.estimator) if is_prediction_scorer(search.scorer) else None
    if final is None:
        return _run_whole(search, parallel)
    return _run_shared(search, parallel, *final)


def _run_whole(search: _Search, parallel: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """One fit of the whole estimator per candidate and inner split."""
    scores, fit_time = search.empty_scores(), np.zeros(len(search.outer_splits))
    jobs = [
        (o, s, c)
        for o, splits in enumerate(search.inner_splits)
        for s in range(len(splits))
        for c in range(len(search.candidates))
    ]
    results = parallel(
        delayed(_whole_task)(
            search.estimator, search.candidates[c], search.X, search.y,
            search.inner_splits[o][s], search.scorer, _where(o, s, search.candidates[c]),
            search.lean,
        )
        for o, s, c in jobs
    )  # fmt: skip
    for (o, s, c), (score, seconds) in zip(jobs, results, strict=True):
        scores[o][c, s] = score
        fit_time[o] += seconds
    return scores, fit_time


def _run_shared(
    search: _Search, parallel: Any, final_name: str, final_estimator: Any
) -> tuple[list[np.ndarray], np.ndarray]:
    """The steps before the model once per inner split and upstream setting, then the models."""
    scores, fit_time = search.empty_scores(), np.zeros(len(search.outer_splits))
    plan = _sharing_plan(search.candidates, final_name)
    up_jobs = [
        (o, s, u)
        for o, splits in enumerate(search.inner_splits)
        for s in range(len(splits))
        for u in range(len(plan))
    ]
    upstream = parallel(
        delayed(_upstream_task)(
            search.estimator, plan[u][0], search.X, search.y, *search.inner_splits[o][s],
            _where(o, s, plan[u][0]),
        )
        for o, s, u in up_jobs
    )  # fmt: skip
    prepared = dict(zip(up_jobs, upstream, strict=True))
    final_jobs = [(o, s, u, c) for o, s, u in up_jobs for c in plan[u][1]]
    results = parallel(
        delayed(_final_task)(
            final_estimator, _split_params(search.candidates[c], final_name)[1],
            prepared[o, s, u], safe_indexing(search.y, search.inner_splits[o][s][1]),
            search.scorer, _where(o, s, search.candidates[c]), search.lean,
        )
        for o, s, u, c in final_jobs
    )  # fmt: skip
    for (o, _s, _u), (*_, seconds) in prepared.items():
        fit_time[o] += seconds
    for (o, s, _, c), (score, seconds) in zip(final_jobs, results, strict=True):
        scores[o][c, s] = score
        fit_time[o] += seconds
    return scores, fit_time


def _refit(
    search: _Search, parallel: Any, best: list[int], return_estimator: bool
) -> list[tuple[float, float, float, Any]]:
    """The chosen candidate of each outer fold, refitted and scored on its test rows."""
    return list(
        parallel(
            delayed(_refit_task)(
                search.estimator, search.candidates[b], search.X, search.y, split,
                search.scorer, return_estimator, _where(o, None, search.candidates[b]),
            )
            for o, (b, split) in enumerate(zip(best, search.outer_splits, strict=True))
        )
    )  # fmt: skip


def _render(
    search: _Search,
    scores: list[np.ndarray],
    fit_time: np.ndarray,
    selections: list[tuple[int, np.ndarray, np.ndarray]],
    refits: list[tuple[float, float, float, Any]],
    return_estimator: bool,
) -> NestedCVResult:
    """The result, keyed as cross_validate's dict plus the search's own keys."""
    result = NestedCVResult(
        test_score=np.array([r[0] for r in refits]),
        fit_time=fit_time + np.array([r[1] for r in refits]),
        score_time=np.array([r[2] for r in refits]),
        best_params=[search.candidates[best] for best, _, _ in selections],
        best_score=np.array([means[best] for best, means, _ in selections]),
        cv_results=[
            _cv_results(search.candidates, fold_scores, means, ranks)
            for fold_scores, (_, means, ranks) in zip(scores, selections, strict=True)
        ],
    )
    if return_estimator:
        result["estimator"] = [r[3] for r in refits]
    return result


def _cv_results(
    candidates: list[dict], scores: np.ndarray, means: np.ndarray, ranks: np.ndarray
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "params": candidates,
        "mean_test_score": means,
        "std_test_score": np.std(scores, axis=1),
        "rank_test_score": ranks,
    }
    for split in range(scores.shape[1]):
        out[f"split{split}_test_score"] = scores[:, split]
    return out


# ---------------------------------------------------------------------- public API


def nested_cross_validate(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    groups: Any = None,
    param_grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]],
    outer_cv: Any = 3,
    inner_cv: Any = 3,
    scoring: Any = "f1",
    n_jobs: int | None = None,
    return_estimator: bool = False,
    random_state: int | None = None,
    lean_forests: bool = False,
) -> NestedCVResult:
    """Nested cross-validation: a grid search in each outer training set, scored outside.

    Gives exactly the scores of the plain scikit-learn loop ::

        for train, test in outer_cv.split(X, y, groups):
            search = GridSearchCV(estimator, param_grid, cv=inner_cv, scoring=scoring)
            search.fit(X[train], y[train], groups=groups[train])
            scores.append(scorer(search, X[test], y[test]))

    with the same splits and seeds, but faster: pipeline steps before the final
    estimator are fitted once per inner split (and per distinct value of their own
    grid parameters) instead of once per candidate, every fit of every fold runs in
    one pool of ``n_jobs`` workers, and estimators' own ``n_jobs`` are set to 1 inside
    it (no oversubscription). ``groups`` reach the inner splitter too, so the search
    is patient-level as well (scikit-learn #28696). The result is a dict, keyed as
    ``cross_validate``'s, that can also tabulate and plot itself.

    Parameters
    ----------
    estimator : estimator
        Usually a :class:`pitfalls.pipeline.Pipeline` (or scikit-learn / imbalanced-learn
        pipeline) ending in the model whose hyper-parameters are searched.
    X : array-like of shape (n_samples, n_features)
        Features.
    y : array-like of shape (n_samples,)
        Targets.
    groups : array-like of shape (n_samples,), default=None
        Patient (group) id per sample; when given, integer ``outer_cv`` / ``inner_cv``
        become group-aware k-folds (:class:`StratifiedGroupKFold` for classifiers,
        ``GroupKFold`` otherwise) and both levels split by patient.
    param_grid : dict or list of dicts
        As in ``GridSearchCV``; candidates in ``ParameterGrid`` order.
    outer_cv, inner_cv : int or splitter, default=3
        An int ``k`` means ``k``-fold, stratified for classifiers, group-aware when
        ``groups`` is given, shuffled with ``random_state`` when it is not None (not
        shuffled otherwise, like scikit-learn). A splitter object is used as is.
    scoring : str or callable, default="f1"
        One scorer, as in ``GridSearchCV`` (it selects and it reports). A callable
        ``scorer(estimator, X, y)`` that is not a scikit-learn scorer (from
        ``make_scorer`` or ``get_scorer``) gets the whole fitted pipeline and the raw
        evaluation rows, as in ``GridSearchCV``; the shared upstream fits that make
        this function fast then do not apply.
    n_jobs : int, default=None
        Workers for all fits (joblib; ``joblib.parallel_config(backend="dask")``
        sends them to a Dask cluster).
    return_estimator : bool, default=False
        Also return the estimator refitted with the best parameters on each outer
        training set.
    random_state : int or None, default=None
        Seeds the shuffling of integer ``outer_cv`` / ``inner_cv``.
    lean_forests : bool, default=False
        Fit the inner loop's ``RandomForestClassifier`` (the estimator, or the last
        step of the pipeline) without scikit-learn's per-tree Python overhead: the
        same trees and the same scores, 2 to 3 times faster on radiomics-sized tables
        (a hundred rows; ``benchmarks/bench_nested_cv.py``). It relies on
        scikit-learn internals (``pitfalls._compat``), checked on scikit-learn 1.9;
        with another version it warns and has no effect. The refitted estimators are
        plain scikit-learn forests either way.

    Returns
    -------
    NestedCVResult
        A dict with ``test_score`` (ndarray, one score per outer fold),
        ``best_params`` (list of dicts), ``best_score`` (mean inner score of the
        chosen candidate per fold), ``cv_results`` (per fold: ``params``,
        ``mean_test_score``, ``rank_test_score`` and ``split{k}_test_score`` as in
        ``GridSearchCV``), ``fit_time`` (seconds per outer fold: the inner fits and
        their scoring, plus the refit), ``score_time`` (seconds scoring the refitted
        model on the outer test rows), and ``estimator`` (list) with
        ``return_estimator=True``; plus ``to_frame()``, ``to_markdown()`` and
        ``plot()``.

    Raises
    ------
    ValueError
        Before any fit, for a ``scoring`` that does not fit ``y`` (``"f1"`` with no
        class 1, with a continuous target or more than two classes), several scorers,
        or a splitter that needs ``groups`` when none are given. An error raised by a
        fit keeps its type and message and gains a note (Python 3.11+) naming the outer
        and inner fold, the parameters and the class counts.
    GroupLeakageError
        Before any fit, when ``groups`` are given and a fold of either loop puts a
        patient on both sides (a splitter that ignores groups).

    Notes
    -----
    The equality with the plain loop holds when the estimator is deterministic given
    its parameters (every ``random_state`` fixed), as the plain loop's own
    reproducibility requires; with ``lean_forests=True`` too (the lean forest's trees
    are identical to scikit-learn's, tested tree by tree). Fit parameters are not
    supported; a single scorer selects and reports; a failing fit raises instead of
    scoring ``NaN``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.feature_selection import SelectKBest
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from pitfalls.model_selection import nested_cross_validate
    >>> from pitfalls.pipeline import make_pipeline
    >>> X, y = make_classification(n_samples=60, n_features=8, random_state=0)
    >>> pipe = make_pipeline(SelectKBest(k=4), DecisionTreeClassifier(random_state=0))
    >>> result = nested_cross_validate(
    ...     pipe, X, y, param_grid={"decisiontreeclassifier__max_depth": [1, 3]},
    ...     random_state=0,
    ... )
    >>> result["test_score"].shape, len(result["best_params"])
    ((3,), 3)
    >>> result.to_frame().columns.tolist()
    ['test_score', 'best_score', 'fit_time', 'score_time', 'decisiontreeclassifier__max_depth']
    """
    X, y, groups, scorer, candidates, lean = _validate(
        estimator, X, y, groups, param_grid, scoring, lean_forests
    )
    outer = _resolve_cv(outer_cv, y, groups, random_state, estimator, "outer_cv")
    inner = _resolve_cv(inner_cv, y, groups, random_state, estimator, "inner_cv")
    outer_splits, inner_splits = _plan_splits(outer, inner, X, y, groups, outer_cv, inner_cv)
    search = _Search(estimator, X, y, candidates, scorer, outer_splits, inner_splits, lean)
    parallel = Parallel(n_jobs=n_jobs)
    scores, fit_time = _run_inner(search, parallel)
    selections = [_select_best(fold_scores) for fold_scores in scores]
    refits = _refit(search, parallel, [best for best, _, _ in selections], return_estimator)
    return _render(search, scores, fit_time, selections, refits, return_estimator)
