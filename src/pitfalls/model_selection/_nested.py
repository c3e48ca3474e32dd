"""Nested cross-validation with a grid search inside, as in the paper (3 x 3), done fast.

Same result as the plain scikit-learn loop (a ``GridSearchCV`` fitted on each outer
training set, scored on the outer test set), with three kinds of waste removed:

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
* a ``RandomForestClassifier`` (alone, last in a pipeline, or searched by a
  ``GridSearchCV`` there) is fitted by scikit-learn's own ``fit`` with the
  per-tree Python overhead removed: on a radiomics-sized table (a hundred rows, ten
  features) building one tree takes a fraction of a millisecond, but cloning it,
  re-validating its targets and its sample weights takes longer than that, a
  thousand times per forest. The trees come out identical (same seeds, same
  bootstrap draws, same Cython builder); see :func:`_lean_forest`.
"""

from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from math import ceil
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone, is_classifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import GroupKFold, KFold, ParameterGrid, StratifiedKFold
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import _safe_indexing, check_random_state, indexable
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _num_samples

from .._fit_errors import fit_context
from .._validation import check_groups, check_positive_class
from ._check import describe_splitter, split_by_group_checked
from ._split import StratifiedGroupKFold

__all__ = ["nested_cross_validate"]

try:  # scorers that only read predictions (or estimator.score) of the model
    from sklearn.metrics._scorer import _BaseScorer, _PassthroughScorer

    _PREDICTION_SCORERS: tuple[type, ...] = (_BaseScorer, _PassthroughScorer)
except ImportError:  # pragma: no cover - other scikit-learn versions: no sharing
    _PREDICTION_SCORERS = ()


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


# ------------------------------------------------------------ lean forest fitting

try:  # scikit-learn's private tree-building blocks; without them forests fit normally
    from sklearn.tree._classes import CRITERIA_CLF, DENSE_SPLITTERS
    from sklearn.tree._tree import DepthFirstTreeBuilder, Tree

    _LEAN_TREES = True
except ImportError:  # pragma: no cover - other scikit-learn versions
    _LEAN_TREES = False

_MAX_INT = np.iinfo(np.int32).max


class _LeanTree(DecisionTreeClassifier):
    """A forest's tree whose ``_fit`` skips the checks the forest has already done.

    Mirrors ``DecisionTreeClassifier._fit`` step for step for the case a
    ``RandomForestClassifier`` calls it in (``check_input=False``, dense data, one
    output, no ``max_leaf_nodes``, no monotonic constraints, no class weight on the
    tree), so the same Cython builder receives the same arguments.
    """

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        check_input: bool = True,
        missing_values_in_feature_mask: Any = None,
    ) -> Any:
        if (
            check_input
            or not isinstance(X, np.ndarray)
            or y.ndim != 2
            or y.shape[1] != 1
            or self.max_leaf_nodes is not None
            or self.monotonic_cst is not None
            or self.class_weight is not None
            or not isinstance(self.criterion, str)
            or not isinstance(self.splitter, str)
        ):
            return super()._fit(X, y, sample_weight, check_input, missing_values_in_feature_mask)
        random_state = check_random_state(self.random_state)
        n_samples, self.n_features_in_ = X.shape
        self.n_outputs_ = 1
        classes, encoded = np.unique(y[:, 0], return_inverse=True)
        n_classes = np.array([classes.shape[0]], dtype=np.intp)
        y_encoded = np.ascontiguousarray(encoded.reshape(-1, 1), dtype=np.float64)

        max_depth = _MAX_INT if self.max_depth is None else self.max_depth
        if isinstance(self.min_samples_leaf, numbers.Integral):
            min_samples_leaf = int(self.min_samples_leaf)
        else:
            min_samples_leaf = ceil(float(self.min_samples_leaf) * n_samples)
        if isinstance(self.min_samples_split, numbers.Integral):
            min_samples_split = int(self.min_samples_split)
        else:
            min_samples_split = max(2, ceil(float(self.min_samples_split) * n_samples))
        min_samples_split = max(min_samples_split, 2 * min_samples_leaf)
        self.max_features_ = self._n_max_features()

        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
            min_weight_leaf = self.min_weight_fraction_leaf * np.sum(sample_weight)
        else:
            min_weight_leaf = self.min_weight_fraction_leaf * n_samples

        criterion = CRITERIA_CLF[self.criterion](self.n_outputs_, n_classes)
        splitter = DENSE_SPLITTERS[self.splitter](
            criterion, self.max_features_, min_samples_leaf, min_weight_leaf, random_state, None
        )
        self.tree_ = Tree(self.n_features_in_, n_classes, self.n_outputs_)
        builder = DepthFirstTreeBuilder(
            splitter,
            min_samples_split,
            min_samples_leaf,
            min_weight_leaf,
            max_depth,
            self.min_impurity_decrease,
        )
        builder.build(self.tree_, X, y_encoded, sample_weight, missing_values_in_feature_mask)
        self.n_classes_ = n_classes[0]
        self.classes_ = classes
        self._prune_tree()
        return self

    def _n_max_features(self) -> int:
        n_features = self.n_features_in_
        if isinstance(self.max_features, str):
            if self.max_features == "sqrt":
                return max(1, int(np.sqrt(n_features)))
            return max(1, int(np.log2(n_features)))  # "log2"
        if self.max_features is None:
            return n_features
        if isinstance(self.max_features, numbers.Integral):
            return int(self.max_features)
        return max(1, int(self.max_features * n_features)) if self.max_features > 0.0 else 0


@contextmanager
def _lean_trees(forest: Any) -> Iterator[None]:
    """While ``forest`` fits, build its trees without per-tree Python overhead.

    The forest's own ``fit`` runs unchanged (validation, class weights, bootstrap
    draws, seeds); only two per-tree steps are replaced, on this instance alone:
    ``_make_estimator`` copies one configured tree instead of cloning and
    ``set_params``-ing a new one each time (drawing the tree's seed exactly as
    ``_set_random_states`` does), and each tree's ``_fit`` is :class:`_LeanTree`'s.
    Afterwards the trees are plain ``DecisionTreeClassifier`` objects again.
    """
    make_original = forest._make_estimator
    template: list[Any] = []

    def make_estimator(append: bool = True, random_state: Any = None) -> Any:
        if not template:
            template.append(make_original(append=False, random_state=None))
        tree = copy.copy(template[0])
        tree.__class__ = _LeanTree
        if random_state is not None:  # a lone tree has one random_state parameter
            tree.random_state = check_random_state(random_state).randint(_MAX_INT)
        if append:
            forest.estimators_.append(tree)
        return tree

    forest._make_estimator = make_estimator
    try:
        yield
    finally:
        del forest._make_estimator
        for tree in getattr(forest, "estimators_", []):
            if type(tree) is _LeanTree:
                tree.__class__ = DecisionTreeClassifier


class _LeanForestClassifier(RandomForestClassifier):
    """A RandomForestClassifier that fits through :func:`_lean_trees` (clones stay lean).

    Used inside a search (``GridSearchCV`` clones its estimator for every candidate,
    so a per-instance hook would be lost); turned back into a plain
    ``RandomForestClassifier`` once the search is fitted.
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        with _lean_trees(self):
            return super().fit(X, y, sample_weight=sample_weight)


def _is_plain_forest(estimator: Any) -> bool:
    return type(estimator) is RandomForestClassifier


def _last_step(estimator: Any) -> Any:
    return estimator.steps[-1][1] if isinstance(estimator, SkPipeline) else estimator


def _as_lean(estimator: Any) -> Any:
    """A clone of ``estimator`` (a forest, or a pipeline ending in one) with a lean forest."""
    lean = clone(estimator)
    forest = _last_step(lean)
    swapped = _LeanForestClassifier(**forest.get_params(deep=False))
    if isinstance(lean, SkPipeline):
        lean.steps[-1] = (lean.steps[-1][0], swapped)
        return lean
    return swapped


def _restore_plain(estimator: Any) -> None:
    forest = _last_step(estimator)
    if type(forest) is _LeanForestClassifier:
        forest.__class__ = RandomForestClassifier


@contextmanager
def _lean_forest(model: Any) -> Iterator[None]:
    """While fitting ``model``, fit its random forest without per-tree overhead.

    ``model`` may be a ``RandomForestClassifier``, a pipeline ending in one, or a
    pipeline ending in a search (``GridSearchCV`` / ``RandomizedSearchCV``) over one
    of those; anything else fits unchanged. The trees are identical to scikit-learn's.
    """
    target = _last_step(model)
    if not _LEAN_TREES:
        yield
    elif _is_plain_forest(target):
        with _lean_trees(target):
            yield
    elif isinstance(target, BaseSearchCV) and _is_plain_forest(_last_step(target.estimator)):
        original = target.estimator
        target.estimator = _as_lean(original)
        try:
            yield
        finally:
            target.estimator = original
            if hasattr(target, "best_estimator_"):
                _restore_plain(target.best_estimator_)
    else:
        yield


# ------------------------------------------------------------------------ work units


def _single_threaded(estimator: Any) -> Any:
    """Set every ``n_jobs`` parameter (nested ones too) to 1; results do not change."""
    updates = {
        key: 1
        for key, value in estimator.get_params(deep=True).items()
        if (key == "n_jobs" or key.endswith("__n_jobs")) and value not in (None, 1)
    }
    return estimator.set_params(**updates) if updates else estimator


def _fit_upstream(steps: Sequence[tuple[str, Any]], X: Any, y: Any) -> tuple[Any, Any, list]:
    """Fit the pre-model steps in order, exactly as imbalanced-learn's Pipeline does."""
    fitted = []
    for name, step in steps:
        if step is None or step == "passthrough":
            continue
        if hasattr(step, "transform") or hasattr(step, "fit_transform"):
            if hasattr(step, "fit_transform"):
                X = step.fit_transform(X, y)
            else:
                X = step.fit(X, y).transform(X)
            fitted.append((name, step))
        else:  # sampler: acts in fit only, skipped when transforming evaluation data
            X, y = step.fit_resample(X, y)
    return X, y, fitted


def _transform(fitted: list, X: Any) -> Any:
    for _, step in fitted:
        X = step.transform(X)
    return X


def _upstream_task(
    estimator: Any,
    upstream_params: dict,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    where: str,
) -> tuple[Any, Any, Any, float]:
    start = time.perf_counter()
    pipe = _single_threaded(clone(estimator).set_params(**upstream_params))
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    with fit_context(where, y_train):
        Xt, yt, fitted = _fit_upstream(pipe.steps[:-1], X_train, y_train)
    Xv = _transform(fitted, _safe_indexing(X, test))
    return Xt, yt, Xv, time.perf_counter() - start


def _final_task(
    final: Any, final_params: dict, Xt: Any, yt: Any, Xv: Any, yv: Any, scorer: Any, where: str
) -> tuple[float, float]:
    start = time.perf_counter()
    if "" in final_params:
        final = final_params.pop("")
    model = _fitted(final, final_params, Xt, yt, where)
    return float(scorer(model, Xv, yv)), time.perf_counter() - start


def _whole_task(
    estimator: Any,
    params: dict,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    scorer: Any,
    where: str,
) -> tuple[float, float]:
    """Fit and score the whole estimator (no pipeline to share): GridSearchCV's unit."""
    start = time.perf_counter()
    model = _fit_on(estimator, params, X, y, train, where)
    score = scorer(model, _safe_indexing(X, test), _safe_indexing(y, test))
    return float(score), time.perf_counter() - start


def _fit_on(estimator: Any, params: dict, X: Any, y: Any, train: np.ndarray, where: str) -> Any:
    """A single-threaded clone of ``estimator`` with ``params``, fitted on rows ``train``."""
    return _fitted(estimator, params, _safe_indexing(X, train), _safe_indexing(y, train), where)


def _fitted(estimator: Any, params: dict, X_train: Any, y_train: Any, where: str) -> Any:
    """A single-threaded clone of ``estimator`` with ``params``, fitted (lean forests, notes)."""
    model = _single_threaded(clone(estimator).set_params(**clone(params, safe=False)))
    with fit_context(where, y_train), _lean_forest(model):
        model.fit(X_train, y_train)
    return model


def _refit_task(
    estimator: Any,
    params: dict,
    X: Any,
    y: Any,
    train: np.ndarray,
    test: np.ndarray,
    scorer: Any,
    restore_n_jobs: bool,
    where: str,
) -> tuple[float, float, float, Any]:
    original = estimator.get_params(deep=True)
    start = time.perf_counter()
    model = _fit_on(estimator, params, X, y, train, where)
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    score = float(scorer(model, _safe_indexing(X, test), _safe_indexing(y, test)))
    score_time = time.perf_counter() - start
    if restore_n_jobs:  # hand back the estimator with the user's n_jobs settings
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
) -> dict[str, Any]:
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
    is patient-level as well (scikit-learn #28696).

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

    Returns
    -------
    dict
        ``test_score`` (ndarray, one score per outer fold), ``best_params`` (list of
        dicts), ``best_score`` (mean inner score of the chosen candidate per fold),
        ``cv_results`` (per fold: ``params``, ``mean_test_score``,
        ``rank_test_score`` and ``split{k}_test_score`` as in ``GridSearchCV``),
        ``fit_time`` (seconds per outer fold: the inner fits and their scoring, plus
        the refit), ``score_time`` (seconds scoring the refitted model on the outer
        test rows), and ``estimator`` (list) with ``return_estimator=True``.

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
    reproducibility requires. A ``RandomForestClassifier`` (alone or as the last
    step) is fitted with its per-tree Python overhead removed; its trees are identical
    to scikit-learn's (tested tree by tree). Fit parameters are not supported; a
    single scorer selects and reports; a failing fit raises instead of scoring
    ``NaN``.

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
    """
    X, y = indexable(X, y)
    check_positive_class(scoring, y)
    n_samples = _num_samples(X)
    if groups is not None:
        groups = check_groups(groups, n_samples)
    outer = _resolve_cv(outer_cv, y, groups, random_state, estimator, "outer_cv")
    inner = _resolve_cv(inner_cv, y, groups, random_state, estimator, "inner_cv")
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

    # with groups, every fold of both loops is checked patient-disjoint before any fit
    outer_splits = split_by_group_checked(
        outer, X, y, groups, described=describe_splitter("outer_cv", outer_cv),
        where="the outer loop",
    )  # fmt: skip
    inner_splits = []
    for number, (train, _) in enumerate(outer_splits, start=1):
        local = split_by_group_checked(
            inner, _safe_indexing(X, train), _safe_indexing(y, train),
            None if groups is None else groups[train],
            described=describe_splitter("inner_cv", inner_cv),
            where=f"the inner loop of outer fold {number}",
        )  # fmt: skip
        # inner indices are relative to the outer training set: map them back to X
        inner_splits.append([(train[tr], train[te]) for tr, te in local])

    parallel = Parallel(n_jobs=n_jobs)
    n_candidates = len(candidates)
    n_inner = [len(splits) for splits in inner_splits]
    scores = [np.empty((n_candidates, k)) for k in n_inner]
    fit_time = np.zeros(len(outer_splits))
    # The shared-upstream path scores the final step on transformed rows: the same
    # number as scoring the pipeline only for a scorer that reads predictions. Any
    # other callable gets the whole pipeline and the raw rows, as in GridSearchCV.
    final = _final_step(estimator) if isinstance(scorer, _PREDICTION_SCORERS) else None

    if final is None:
        jobs = [
            (o, s, c)
            for o in range(len(outer_splits))
            for s in range(n_inner[o])
            for c in range(n_candidates)
        ]
        results = parallel(
            delayed(_whole_task)(
                estimator, candidates[c], X, y, *inner_splits[o][s], scorer,
                _where(o, s, candidates[c]),
            )
            for o, s, c in jobs
        )  # fmt: skip
        for (o, s, c), (score, seconds) in zip(jobs, results, strict=True):
            scores[o][c, s] = score
            fit_time[o] += seconds
    else:
        final_name, final_estimator = final
        plan = _sharing_plan(candidates, final_name)
        up_jobs = [
            (o, s, u)
            for o in range(len(outer_splits))
            for s in range(n_inner[o])
            for u in range(len(plan))
        ]
        upstream = parallel(
            delayed(_upstream_task)(
                estimator, plan[u][0], X, y, *inner_splits[o][s], _where(o, s, plan[u][0])
            )
            for o, s, u in up_jobs
        )
        prepared = dict(zip(up_jobs, upstream, strict=True))
        final_jobs = [(o, s, u, c) for o, s, u in up_jobs for c in plan[u][1]]
        results = parallel(
            delayed(_final_task)(
                final_estimator,
                _split_params(candidates[c], final_name)[1],
                prepared[o, s, u][0],
                prepared[o, s, u][1],
                prepared[o, s, u][2],
                _safe_indexing(y, inner_splits[o][s][1]),
                scorer,
                _where(o, s, candidates[c]),
            )
            for o, s, u, c in final_jobs
        )
        for (o, _s, _u), (*_, seconds) in prepared.items():
            fit_time[o] += seconds
        for (o, s, _, c), (score, seconds) in zip(final_jobs, results, strict=True):
            scores[o][c, s] = score
            fit_time[o] += seconds

    selections = [_select_best(fold_scores) for fold_scores in scores]
    refits = parallel(
        delayed(_refit_task)(
            estimator,
            candidates[best],
            X,
            y,
            train,
            test,
            scorer,
            return_estimator,
            _where(o, None, candidates[best]),
        )
        for o, ((best, _, _), (train, test)) in enumerate(
            zip(selections, outer_splits, strict=True)
        )
    )

    result: dict[str, Any] = {
        "test_score": np.array([r[0] for r in refits]),
        "fit_time": fit_time + np.array([r[1] for r in refits]),
        "score_time": np.array([r[2] for r in refits]),
        "best_params": [candidates[best] for best, _, _ in selections],
        "best_score": np.array([means[best] for best, means, _ in selections]),
        "cv_results": [
            _cv_results(candidates, fold_scores, means, ranks)
            for fold_scores, (_, means, ranks) in zip(scores, selections, strict=True)
        ],
    }
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
