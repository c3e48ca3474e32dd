"""leakage_gap: run a pipeline the leaky way and the correct way, many times, and compare."""

from __future__ import annotations

import copy
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.feature_selection import SelectorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.utils import check_random_state, indexable
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed

from .._compat import num_samples, safe_indexing, sampling_type
from .._fit_errors import fit_context
from .._validation import check_groups, check_positive_class
from ..exceptions import MetricWarning
from ..metrics import compare_runs
from ..model_selection import StratifiedGroupKFold
from ..model_selection._check import describe_splitter, split_by_group_checked
from ..pipeline._fit_steps import fit_steps, is_transformer, trace_rows
from ..pipeline._provenance import index_sample_params
from ._result import LeakageGapResult
from ._site import SiteProtocol, site_protocol, site_scores_frame

__all__ = ["PITFALLS", "leakage_gap"]

PITFALLS = (
    "oversampling",
    "feature_selection",
    "augmentation",
    "preprocessing",
    "group_split",
    "site",
)


# ------------------------------------------------------------------ which steps leak


def step_kind(step: Any) -> str | None:
    """The pitfall a pipeline step belongs to when it is fitted before the split.

    Examples
    --------
    >>> from imblearn.over_sampling import SMOTE
    >>> from sklearn.feature_selection import SelectKBest
    >>> from sklearn.preprocessing import StandardScaler
    >>> from pitfalls.experiments._gap import step_kind
    >>> [step_kind(s) for s in (SMOTE(), SelectKBest(), StandardScaler())]
    ['oversampling', 'feature_selection', 'preprocessing']

    A container (ColumnTransformer, FeatureUnion, Pipeline) holding a selector selects:

    >>> from sklearn.compose import make_column_transformer
    >>> step_kind(make_column_transformer((SelectKBest(k=2), [0, 1, 2]), remainder="drop"))
    'feature_selection'
    """
    kind = sampling_type(step)
    if kind == "augmentation":
        return "augmentation"
    if hasattr(step, "fit_resample"):
        return "oversampling" if kind == "over-sampling" else None
    if isinstance(step, SelectorMixin) or any(
        step_kind(part) == "feature_selection" for part in _parts(step)
    ):
        return "feature_selection"  # a selector, or a container holding one
    if hasattr(step, "transform"):
        return "preprocessing"
    return None


def _parts(step: Any) -> list[Any]:
    """The transformers inside a ColumnTransformer, a FeatureUnion or a Pipeline."""
    for attribute in ("transformers", "transformer_list", "steps"):
        members = getattr(step, attribute, None)
        if isinstance(members, list):
            return [member[1] for member in members if not isinstance(member[1], str)]
    return []


def _hoisted_steps(estimator: Any, pitfall: str, steps: Sequence[str] | None) -> tuple[str, ...]:
    """Names of the steps the leaky protocol fits before the split, in pipeline order."""
    if not isinstance(estimator, SkPipeline):
        raise TypeError(
            f"pitfall={pitfall!r} moves pipeline steps before the split, so estimator must "
            f"be a Pipeline; got {type(estimator).__name__}. Build it with "
            "pitfalls.pipeline.make_pipeline(..., model)."
        )
    intermediate = [
        (name, step)
        for name, step in estimator.steps[:-1]
        if step is not None and not (isinstance(step, str) and step == "passthrough")
    ]
    if steps is not None:
        return _named_steps(intermediate, steps)
    return _steps_of_kind(intermediate, pitfall)


def _named_steps(
    intermediate: list[tuple[str, Any]], steps: Sequence[str] | str
) -> tuple[str, ...]:
    """The steps the user named, checked to exist and not to reorder the transformers."""
    names = [name for name, _ in intermediate]
    chosen = [steps] if isinstance(steps, str) else list(steps)
    unknown = [name for name in chosen if name not in names]
    if unknown or not chosen:
        raise ValueError(
            f"steps={chosen!r} must name intermediate steps of the pipeline; "
            f"its intermediate steps are {names}."
        )
    hoisted = tuple(name for name in names if name in chosen)  # pipeline order
    overtaken = _overtaken_transformer(intermediate, hoisted)
    if overtaken is not None:
        moved, kept = overtaken
        raise ValueError(
            f"steps={chosen!r} would move {moved!r} ahead of {kept!r}, which the "
            "pipeline applies before it: the leaky protocol would then transform the "
            f"data in another order than the pipeline does. Name {kept!r} too, or leave "
            f"{moved!r} out."
        )
    return hoisted


def _steps_of_kind(intermediate: list[tuple[str, Any]], pitfall: str) -> tuple[str, ...]:
    """The pitfall's steps, with the plain preprocessing before the last of them."""
    kinds = [step_kind(step) for _, step in intermediate]
    last = max((i for i, kind in enumerate(kinds) if kind == pitfall), default=-1)
    # Plain preprocessing placed before the last step of the kind comes along: moving a
    # selector ahead of the scaler it was fitted after would change the pipeline, not
    # just where it is fitted. Steps of the other leakage kinds stay behind; so does
    # every transformer after one that stays (PCA after a selector, for "preprocessing").
    detected: list[str] = []
    blocked: list[str] = []
    first_kept: str | None = None  # the first transformer left in the cross-validation
    for i, (name, step) in enumerate(intermediate[: last + 1]):
        moves = kinds[i] == pitfall or (kinds[i] == "preprocessing" and i < last)
        if moves and first_kept is not None and is_transformer(step):
            blocked.append(name)
        elif moves:
            detected.append(name)
        elif is_transformer(step):
            first_kept = first_kept or name
    if any(kinds[i] == pitfall for i, (name, _) in enumerate(intermediate) if name in detected):
        return tuple(detected)
    if last >= 0:
        raise ValueError(
            f"The pipeline's {pitfall.replace('_', ' ')} step(s) {blocked} come after "
            f"{first_kept!r}, which stays in the cross-validated part: moving them before "
            "the split would change the pipeline, not just where it is fitted. Pass "
            f"steps=[...] naming {first_kept!r} too, to move them together."
        )
    found = ", ".join(
        f"{name!r} ({kind or 'not a leakage step'})"
        for (name, _), kind in zip(intermediate, kinds, strict=True)
    )
    raise ValueError(
        f"The pipeline has no {pitfall.replace('_', ' ')} step to fit before the split "
        f"(intermediate steps: {found or 'none'}); pass steps=[...] naming the steps to "
        "move before the split."
    )


def _overtaken_transformer(
    intermediate: list[tuple[str, Any]], hoisted: tuple[str, ...]
) -> tuple[str, str] | None:
    """(moved, kept): a hoisted transformer that a kept transformer precedes, if any.

    Samplers may move (they act on the training rows only, as in the paper's protocol
    G, oversampling left in the cross-validation); transformers may not overtake each
    other, or the leaky protocol would predict through another chain of transforms.
    """
    first_kept = None
    for name, step in intermediate:
        if not is_transformer(step):
            continue
        if name not in hoisted:
            first_kept = first_kept or name
        elif first_kept is not None:
            return name, first_kept
    return None


# ------------------------------------------------------------------------ splitters


def _is_classification(y: Any) -> bool:
    return type_of_target(y) in ("binary", "multiclass")


def _splitter(cv: Any, y: Any, seed: int, *, group_aware: bool) -> Any:
    """The repeat's splitter: default 3-fold, stratified, group-aware, reshuffled."""
    stratify = _is_classification(y)
    if cv is None or (isinstance(cv, numbers.Integral) and not isinstance(cv, bool)):
        n_splits = 3 if cv is None else int(cv)
        if group_aware:
            kind: Any = StratifiedGroupKFold if stratify else GroupKFold
        else:
            kind = StratifiedKFold if stratify else KFold
        return kind(n_splits, shuffle=True, random_state=seed)
    if isinstance(cv, str) or not hasattr(cv, "split"):
        raise TypeError(
            f"{describe_splitter('cv', cv)} is neither None, an int nor a splitter with a "
            "split() method; pass the number of folds or a splitter such as "
            "StratifiedGroupKFold(3, shuffle=True)."
        )
    return _reseeded(cv, seed)


def _reseeded(cv: Any, seed: int) -> Any:
    """A copy of the user's splitter whose splits change with the repeat's seed.

    Repeats of identical splits (a deterministic model on ``KFold(3)``) would be copies
    of one run, which the rank-sum test would count as independent: so a splitter that
    can shuffle is shuffled, ``shuffle=False`` included (:func:`_check_splits` refuses
    one that cannot).
    """
    splitter = copy.deepcopy(cv)
    if hasattr(splitter, "shuffle"):
        splitter.shuffle = True
    if hasattr(splitter, "random_state"):  # ShuffleSplit and the Repeated* k-folds too
        splitter.random_state = seed
    return splitter


def _check_splits(cv: Any, X: Any, y: Any, groups: Any, seed: int) -> None:
    """Refuse, before any fit, a ``cv`` that cannot give independent, patient-level repeats.

    Whether a splitter reshuffles is seen by running it with three seeds: attributes do
    not tell (``TimeSeriesSplit`` has ``shuffle`` and ``random_state`` and ignores both).
    """
    described = describe_splitter("cv", cv)
    given = cv is not None and not isinstance(cv, numbers.Integral)
    with warnings.catch_warnings():  # the splitter's own warnings come again in the repeats
        warnings.simplefilter("ignore")
        folds = _trial_folds(cv, X, y, groups, seed, given, described)
    if given and all(_same_folds(folds[0], other) for other in folds[1:]):
        examples = (
            "StratifiedKFold(5, shuffle=True) or ShuffleSplit(5)"
            if groups is None
            else "StratifiedGroupKFold(5, shuffle=True) or GroupShuffleSplit(5)"
        )
        raise ValueError(
            f"{described} makes the same splits in every repeat, so the repeats would be "
            "copies of one run and the rank-sum test would count them as independent. "
            f"Pass a splitter that reshuffles, e.g. {examples}, or score this one once "
            "with sklearn.model_selection.cross_validate."
        )


def _trial_folds(
    cv: Any, X: Any, y: Any, groups: Any, seed: int, given: bool, described: str
) -> list[list]:
    """The correct protocol's folds with the first repeat's seed, checked by patient.

    A splitter of the user's also runs with two more seeds, to see whether it reshuffles.
    """
    return [
        split_by_group_checked(
            _splitter(cv, y, repeat_seed, group_aware=groups is not None),
            X,
            y,
            groups,
            described=described,
            where="the correct protocol",
        )
        for repeat_seed in ((seed, seed + 1, seed + 2) if given else (seed,))
    ]


def _same_folds(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(test_a, test_b) for (_, test_a), (_, test_b) in zip(a, b, strict=True)
    )


def _sample_level(cv: Any, y: Any, seed: int, n_samples: int) -> tuple[Any, np.ndarray | None]:
    """For ``group_split``'s leaky protocol: the splitter and the groups it gets.

    The default becomes its sample-level twin (stratified k-fold, as many folds); a
    splitter of the user's runs as it is, with every sample its own patient, so both
    protocols share the kind of split and the number of folds.
    """
    if cv is None or isinstance(cv, numbers.Integral):
        return _splitter(cv, y, seed, group_aware=False), None
    return _reseeded(cv, seed), np.arange(n_samples)


# -------------------------------------------------------------------- one repeat


def _seeded(estimator: Any, seed: int) -> Any:
    """Fix every unset ``random_state`` to the repeat's seed (reproducible repeats)."""
    unset = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return estimator.set_params(**unset) if unset else estimator


class _ProtocolScores(NamedTuple):
    """One repeat of one protocol: mean fold score per metric, and undefined folds."""

    scores: dict[str, float]
    n_folds: int
    n_undefined: int  # folds where scikit-learn found a score undefined (0.0 or NaN)
    fold_scores: tuple[dict[str, float], ...] = ()  # per fold, for pitfall="site"


def _cv_scores(
    estimator: Any,
    X: Any,
    y: Any,
    groups: Any,
    splitter: Any,
    scorer: Callable,
    fit_params: dict[str, Any],
    protocol: str,
) -> _ProtocolScores:
    """Mean fold score per metric: the single number a repeat reports."""
    per_fold: list[dict[str, float]] = []
    n_undefined = 0
    n_samples = num_samples(X)
    n_folds = splitter.get_n_splits(X, y, groups)
    for fold, (train, test) in enumerate(splitter.split(X, y, groups), start=1):
        model = clone(estimator)
        params = index_sample_params(fit_params, train, n_samples)
        y_train = safe_indexing(y, train)
        where = (
            f"leakage_gap: raised while fitting fold {fold} of {n_folds} of the {protocol} protocol"
        )
        with fit_context(where, y_train):
            model.fit(safe_indexing(X, train), y_train, **params)
        with fit_context(where.replace("fitting", "scoring"), None):
            scores, undefined = _score_counting_undefined(
                scorer, model, safe_indexing(X, test), safe_indexing(y, test)
            )
        per_fold.append(scores)
        n_undefined += undefined
    means = {metric: _mean_defined([fold[metric] for fold in per_fold]) for metric in per_fold[0]}
    return _ProtocolScores(means, len(per_fold), n_undefined, tuple(per_fold))


def _mean_defined(fold_scores: list[float]) -> float:
    """Mean over the folds where the score is defined; NaN when it is defined in none.

    ROC AUC, say, is NaN on a test fold with one class.
    """
    scores = np.asarray(fold_scores, dtype=float)
    defined = scores[~np.isnan(scores)]
    return float(defined.mean()) if defined.size else float("nan")


_PASSED_ON: dict = {}  # warnings re-issued by _score_counting_undefined, as shown once


def _score_counting_undefined(scorer: Callable, model: Any, X: Any, y: Any) -> tuple[dict, bool]:
    """The fold's scores, and whether scikit-learn found one undefined.

    Its UndefinedMetricWarning comes once per fold and metric (dozens of lines over 100
    repeats); leakage_gap sums them up into one MetricWarning instead. Any other
    warning is passed on, shown once per place as Python's default filter does.
    (``catch_warnings`` is process-wide: repeats run in processes or in turn, as
    joblib's default backend runs them.)
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = scorer(model, X, y)
    undefined = False
    for caught_warning in caught:
        if issubclass(caught_warning.category, UndefinedMetricWarning):
            undefined = True
        else:
            warnings.warn_explicit(
                caught_warning.message,
                caught_warning.category,
                caught_warning.filename,
                caught_warning.lineno,
                registry=_PASSED_ON,
                source=caught_warning.source,
            )
    return scores, undefined


def _warn_undefined(results: list[tuple[_ProtocolScores, _ProtocolScores]]) -> None:
    leaky = sum(r[0].n_undefined for r in results), sum(r[0].n_folds for r in results)
    correct = sum(r[1].n_undefined for r in results), sum(r[1].n_folds for r in results)
    if not (leaky[0] or correct[0]):
        return
    warnings.warn(
        f"A score was undefined (no true or no predicted positive rows in the test fold) "
        f"in {leaky[0]} of {leaky[1]} folds of the leaky protocol and {correct[0]} of "
        f"{correct[1]} of the correct one; scikit-learn scores it 0.0, or NaN (ROC AUC on "
        "a fold with one class), which is left out of the repeat's mean (its "
        "UndefinedMetricWarnings are summed up here). With few positives per fold, use "
        "fewer folds, or a score that stays defined such as 'balanced_accuracy'.",
        MetricWarning,
        stacklevel=3,
    )


def _fit_before_split(
    pipe: Any, names: tuple[str, ...], X: Any, y: Any, groups: Any
) -> tuple[Any, Any, Any, Any, np.ndarray]:
    """Fit the named steps on all data; return the data they produce and the rest of the pipe.

    Rows that a hoisted sampler adds (copies, synthetic or augmented rows) become new,
    independent samples, each its own group, as they are when resampling happens
    before the split.
    """
    hoisted = [(position, name, step) for position, (name, step) in enumerate(pipe.steps)
               if name in names]  # fmt: skip
    fitted = fit_steps(hoisted, X, y, follow=trace_rows)
    origin = np.arange(num_samples(X)) if fitted.origin is None else fitted.origin
    X, y = fitted.X, fitted.y
    rest = [(name, step) for name, step in pipe.steps if name not in names]
    remaining = clone(pipe).set_params(steps=rest) if len(rest) > 1 else rest[0][1]
    if groups is None:
        return X, y, None, remaining, origin
    codes = pd.factorize(groups)[0][origin]
    repeated = pd.Series(origin).duplicated().to_numpy()
    codes[repeated] = codes.max(initial=-1) + 1 + np.arange(int(repeated.sum()))
    return X, y, codes, remaining, origin


def _params_for_rest(
    fit_params: dict[str, Any], origin: np.ndarray, n_samples: int, remaining: Any, pipe: Any
) -> dict[str, Any]:
    """Fit params for what is left of the pipeline, re-indexed to the hoisted rows."""
    params = index_sample_params(fit_params, origin, n_samples)
    if isinstance(remaining, SkPipeline):
        return params
    prefix = f"{pipe.steps[-1][0]}__"  # only the model is left: drop its step name
    return {key.removeprefix(prefix): value for key, value in params.items()}


def _one_repeat(
    estimator: Any,
    X: Any,
    y: Any,
    groups: Any,
    pitfall: str,
    names: tuple[str, ...],
    cv: Any,
    scoring: Any,
    seed: int,
    fit_params: dict[str, Any],
    site_cv: Any = None,
) -> tuple[_ProtocolScores, _ProtocolScores]:
    pipe = _seeded(clone(estimator), seed)
    scorer = check_scoring(pipe, scoring=scoring)
    correct_cv = _splitter(cv, y, seed, group_aware=groups is not None)
    if pitfall == "site":  # internal folds (sites mixed) are the optimistic protocol
        internal = _cv_scores(pipe, X, y, groups, correct_cv, scorer, fit_params, "internal")
        held_out = _cv_scores(pipe, X, y, groups, site_cv, scorer, fit_params, "site-held-out")
        return internal, held_out
    correct = _cv_scores(pipe, X, y, groups, correct_cv, scorer, fit_params, "correct")
    if pitfall == "group_split":
        sample_cv, each_its_own = _sample_level(cv, y, seed, num_samples(X))
        leaky = _cv_scores(pipe, X, y, each_its_own, sample_cv, scorer, fit_params, "leaky")
    else:
        X_all, y_all, g_all, rest, origin = _fit_before_split(clone(pipe), names, X, y, groups)
        rest_params = _params_for_rest(fit_params, origin, num_samples(X), rest, pipe)
        leaky_cv = _splitter(cv, y_all, seed, group_aware=g_all is not None)
        leaky = _cv_scores(rest, X_all, y_all, g_all, leaky_cv, scorer, rest_params, "leaky")
    return leaky, correct


def _normalise_scoring(scoring: Any) -> tuple[list[str], Any]:
    """Metric names (first = primary) and a scoring argument giving a dict of scores."""
    if isinstance(scoring, str):
        return [scoring], [scoring]
    if callable(scoring):
        return ["score"], {"score": scoring}
    if isinstance(scoring, dict):
        if not scoring:
            raise ValueError("scoring is an empty dict; name at least one scorer.")
        return list(scoring), scoring
    names = list(scoring)
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(
            f"scoring={scoring!r} must be a scorer name, a callable, a list of names or a "
            "dict of name -> scorer."
        )
    return names, names


# ---------------------------------------------------------------------- public API


def leakage_gap(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    pitfall: str,
    groups: Any = None,
    sites: Any = None,
    steps: Sequence[str] | str | None = None,
    cv: Any = None,
    n_repeats: int = 100,
    scoring: Any = "f1",
    n_jobs: int | None = None,
    random_state: Any = None,
    verbose: int = 0,
    fit_params: dict[str, Any] | None = None,
) -> LeakageGapResult:
    """Measure how much of a pipeline's score comes from a leakage pitfall (the paper's method).

    Each repeat cross-validates the pipeline twice, with folds reshuffled by the
    repeat's seed (the same folds when the leaky protocol keeps the same rows):

    * **leaky** protocol: for ``"oversampling"``, ``"feature_selection"``,
      ``"augmentation"`` and ``"preprocessing"``, the named ``steps`` (by default the
      pipeline's steps of that kind) are fitted on the **whole data set before the
      split**; the rest of the pipeline is cross-validated on their output. Rows a
      hoisted sampler adds count as new, independent samples. For ``"group_split"``
      the whole pipeline is cross-validated with sample-level splits that ignore
      ``groups``.
    * **correct** protocol: the whole pipeline is cross-validated, so every step is
      fitted on training folds only, with group-aware splits when ``groups`` is given.

    For ``"site"`` (the batch effect: does the internal evaluation carry over to a new
    hospital?) the optimistic ("leaky") protocol is the patient-level
    cross-validation most papers report, whose folds mix the sites; the honest
    ("correct") one tests every site in turn on a model trained on the others
    (:class:`~pitfalls.model_selection.LeaveOneSiteOut`, patients disjoint). Only the
    internal folds are reshuffled between repeats; each repeat's held-out scores are
    kept per site (``result.site_scores``).

    Each repeat gives one score per protocol (the mean over folds, computed the same
    way for both; a fold where the score is undefined, NaN, is left out); the two lists
    are compared with the Wilcoxon rank-sum test (:func:`pitfalls.metrics.compare_runs`).

    Parameters
    ----------
    estimator : Pipeline
        The full pipeline, model last (for ``"group_split"`` any estimator).
    X : array-like of shape (n_samples, ...)
        Features (or images, if the pipeline takes them).
    y : array-like of shape (n_samples,)
        Targets.
    pitfall : {"oversampling", "feature_selection", "augmentation", "preprocessing", \
"group_split", "site"}
        Which pitfall to measure.
    groups : array-like of shape (n_samples,), default=None
        Patient id per sample; required for ``"group_split"`` and ``"site"``.
    sites : array-like of shape (n_samples,) or site-held-out splitter, default=None
        For ``"site"`` only (required there): the site of each sample, or a
        :class:`~pitfalls.model_selection.LeaveOneSiteOut` /
        :class:`~pitfalls.model_selection.LeavePSitesOut` to hold sites out its way
        (``min_site_size``, ``on_conflict``, several sites at once).
    steps : str or list of str, default=None
        Names of the steps to fit before the split, kept in pipeline order. By
        default every intermediate step of the pitfall's kind (imbalanced-learn
        over-samplers; scikit-learn feature selectors;
        :class:`~pitfalls.pipeline.AugmentationSampler`; any other transformer for
        ``"preprocessing"``), together with the plain preprocessing steps (scalers,
        imputers) placed before the last of them, so that e.g. ``RFE(SVC())`` still
        sees the scaled features it sees in the pipeline and SMOTE interpolates in
        the same scaled space (pass ``steps=[...]`` to measure a step alone; the
        scaler's own leak then stays out of the gap). Samplers and selectors of
        another kind stay in the cross-validated part. Transformers never overtake each
        other: one that follows a transformer left in the cross-validation stays there
        too (``scaler -> SelectKBest -> PCA`` hoists only the scaler for
        ``"preprocessing"``), and ``steps`` that would move one ahead of another are
        refused. Samplers may move past transformers: they act on training rows only
        (as oversampling stays in the cross-validation in the paper's model G), but
        SMOTE then interpolates in the space of the steps around it.
    cv : int or splitter, default=None
        None: 3-fold, stratified for class labels (the paper's outer CV), group-aware when ``groups`` is
        given, reshuffled each repeat. An int changes the number of folds. A splitter
        is reshuffled with each repeat's seed (``shuffle=False`` is overridden: repeats
        of identical splits are not independent runs); one that cannot reshuffle
        (``LeaveOneGroupOut``, ``TimeSeriesSplit``) is refused. With ``groups``, the
        first repeat's folds of the correct protocol are checked to be patient-disjoint
        before any fit. For ``"site"``, ``cv`` is the internal protocol; None gives as
        many stratified group folds as make its test folds as large as the held-out
        sites on average (4 for 4 sites), so that both protocols train on similar
        amounts of data. For ``"group_split"``
        the leaky protocol runs the default's sample-level twin (stratified k-fold), or
        a given splitter with every sample as its own patient.
    n_repeats : int, default=100
        Repeats (the paper uses 100); at least 2.
    scoring : str, callable, list or dict, default="f1"
        Scorer(s); with several (e.g. ``["accuracy", "precision", "recall", "f1"]``)
        :meth:`LeakageGapResult.summary` gives the paper's Table 2 columns. The first
        is the one tested and plotted.
    n_jobs : int, default=None
        Repeats run in parallel through joblib (``joblib.parallel_config(backend=
        "dask")`` moves them to a Dask cluster unchanged).
    random_state : int, RandomState or None, default=None
        Seeds the repeats. Each repeat gets its own seed, used for the fold shuffle and
        for every ``random_state`` left as None in the pipeline.
    verbose : int, default=0
        Quiet by default, as in scikit-learn; ``verbose=1`` (or True) shows a progress
        bar over repeats.
    fit_params : dict, optional
        Passed to the pipeline's ``fit`` in every fold (``"step__param"`` keys, or
        routed names with metadata routing on); per-sample values are cut to the
        training fold, and follow the rows that hoisted samplers produce. Use it to
        give an inner group-aware search its patients:
        ``fit_params={"search__groups": groups}``.

    Returns
    -------
    LeakageGapResult

    Raises
    ------
    TypeError
        For an ``estimator`` that is not a Pipeline (except with ``"group_split"``), or
        a ``cv`` that is neither None, an int nor a splitter.
    ValueError
        Before any fit: an unknown ``pitfall``, ``n_repeats < 2``, ``steps`` that name
        no intermediate step or would move a transformer ahead of another, a pipeline
        with no step of the pitfall's kind, ``"group_split"`` or ``"site"`` without
        ``groups`` (or with ``steps``), ``"site"`` without ``sites`` or with fewer than
        two sites, ``sites`` with another pitfall, a site-held-out splitter as ``cv``,
        a ``scoring`` that does not fit ``y`` (``"f1"``,
        ``"precision"``, ``"recall"``, ``"jaccard"``, ``"average_precision"`` or the
        Brier scores with no class 1; the first four with a continuous target or more
        than two classes), a ``cv`` that cannot reshuffle or needs ``groups`` that were
        not given. After the repeats: a first scorer that was undefined (NaN) in every
        fold of a repeat. An error raised by a fit or a scoring inside a fold keeps its
        type and message and gains a note (Python 3.11+) naming the protocol and the
        fold (and, for a fit, its class counts).
    GroupLeakageError
        Before any fit, when ``cv`` puts a patient on both sides of a fold of the
        correct protocol (a splitter that ignores ``groups``), or, for ``"site"``, a
        patient has samples at two sites.

    Warns
    -----
    MetricWarning
        Once, when scikit-learn found a score undefined in some folds (no predicted
        positive rows for precision, say) and counted it as 0.0: how many folds of each
        protocol, in place of its one UndefinedMetricWarning per fold and metric.

    Notes
    -----
    The rank-sum test compares the repeats of each protocol, which differ only by the
    folds' shuffle and the models' seeds: it says whether the two protocols differ on
    *this* data set beyond that variation, not beyond the sampling variation of the
    cohort. With ``"site"`` and a deterministic model (a logistic regression), the
    site-held-out score is the same in every repeat, so even a small systematic
    difference between a pooled internal score and an average of per-site scores
    comes out "significant" given enough repeats: read the inflation beside the spread
    of the per-site scores (``result.plot()``), not the p-value alone.

    Examples
    --------
    Oversampling before the split puts copies of test rows into training:

    >>> import numpy as np
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from pitfalls.experiments import leakage_gap
    >>> from pitfalls.pipeline import make_pipeline
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(90, 5))
    >>> y = (rng.random(90) < 0.25).astype(int)  # labels unrelated to X
    >>> pipe = make_pipeline(RandomOverSampler(random_state=0),
    ...                      DecisionTreeClassifier(random_state=0))
    >>> res = leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=5,
    ...                   random_state=0, verbose=False)
    >>> bool(res.inflation > 0.2), bool(res.pvalue < 0.05)
    (True, True)

    A referral centre (site D) sees mostly sick patients on a scanner that marks its
    images: internal cross-validation rewards recognising the scanner, a held-out
    site does not:

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from pitfalls.datasets import make_multisite_cohort
    >>> cohort = make_multisite_cohort(300, random_state=0)
    >>> model = make_pipeline(StandardScaler(), LogisticRegression())
    >>> res = leakage_gap(model, cohort.filter(like="feature_"), cohort["label"],
    ...                   pitfall="site", groups=cohort["patient"], sites=cohort["site"],
    ...                   scoring="roc_auc", n_repeats=5, random_state=0, verbose=False)
    >>> round(float(res.leaky_scores.mean()), 2), round(float(res.correct_scores.mean()), 2)
    (0.83, 0.78)
    >>> res.site_scores.groupby("site")["roc_auc"].mean().round(2).to_dict()
    {'A': 0.75, 'B': 0.77, 'C': 0.83, 'D': 0.77}
    """
    if pitfall not in PITFALLS:
        raise ValueError(f"pitfall={pitfall!r} is not supported; use one of {list(PITFALLS)}.")
    if not isinstance(n_repeats, numbers.Integral) or isinstance(n_repeats, bool) or n_repeats < 2:
        raise ValueError(
            f"n_repeats={n_repeats!r} is too small; the rank-sum test needs n_repeats >= 2 "
            "(the paper uses 100)."
        )
    X, y = indexable(X, y)
    check_positive_class(scoring, y)
    n_samples = num_samples(X)
    if groups is not None:
        groups = check_groups(groups, n_samples)
    names, site_plan, cv = _protocol_plan(estimator, pitfall, X, y, groups, sites, steps, cv)
    metrics, scoring_arg = _normalise_scoring(scoring)

    seeds = check_random_state(random_state).randint(np.iinfo(np.int32).max, size=n_repeats)
    _check_splits(cv, X, y, groups, int(seeds[0]))
    site_cv = None if site_plan is None else site_plan.splitter
    jobs = (
        delayed(_one_repeat)(
            estimator, X, y, groups, pitfall, names, cv, scoring_arg, int(seed),
            fit_params or {}, site_cv,
        )
        for seed in seeds
    )  # fmt: skip
    outputs = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    results = list(_progress(outputs, n_repeats, f"leakage_gap[{pitfall}]", verbose))

    _warn_undefined(results)
    leaky = {metric: np.array([r[0].scores[metric] for r in results]) for metric in metrics}
    correct = {metric: np.array([r[1].scores[metric] for r in results]) for metric in metrics}
    undefined_repeats = np.isnan(leaky[metrics[0]]) | np.isnan(correct[metrics[0]])
    if undefined_repeats.any():
        raise ValueError(
            f"The score {metrics[0]!r} was undefined in every fold of "
            f"{int(undefined_repeats.sum())} of {n_repeats} repeats (NaN: a test fold with "
            "one class, for ROC AUC), so those repeats have nothing to compare. Use fewer "
            "folds, so that every test fold holds both classes, or another first scorer."
        )
    comparison = compare_runs(leaky[metrics[0]], correct[metrics[0]])
    site_scores = None  # for "site": every held-out site's scores, repeat by repeat
    if site_plan is not None:
        site_scores = site_scores_frame(
            [r[1].fold_scores for r in results], site_plan.fold_sites, metrics
        )
    return LeakageGapResult(pitfall, metrics, leaky, correct, comparison, names, site_scores)


def _protocol_plan(
    estimator: Any,
    pitfall: str,
    X: Any,
    y: Any,
    groups: Any,
    sites: Any,
    steps: Sequence[str] | str | None,
    cv: Any,
) -> tuple[tuple[str, ...], SiteProtocol | None, Any]:
    """The steps to fit before the split; for "site", the held-out sites and internal folds."""
    if pitfall == "site":
        if steps is not None:
            raise ValueError("steps is not used with pitfall='site'; leave steps=None.")
        plan = site_protocol(sites, cv, X, y, groups)
        return (), plan, plan.n_internal_folds if cv is None else cv
    if sites is not None:
        raise ValueError(
            f"sites is only used with pitfall='site' (internal versus site-held-out "
            f"scores); got pitfall={pitfall!r}. Leave sites=None, or pass pitfall='site'."
        )
    if pitfall == "group_split":
        if groups is None:
            raise ValueError(
                "pitfall='group_split' compares a sample-level split with a patient-level "
                "split: pass groups (one patient id per sample)."
            )
        if steps is not None:
            raise ValueError("steps is not used with pitfall='group_split'; leave steps=None.")
        return (), None, cv
    return _hoisted_steps(estimator, pitfall, steps), None, cv


def _progress(iterable: Any, total: int, desc: str, verbose: int) -> Any:
    if not verbose:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="repeat")
