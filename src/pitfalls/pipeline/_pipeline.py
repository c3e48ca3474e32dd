"""imbalanced-learn's Pipeline, with groups and per-sample metadata following resampling."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from imblearn import pipeline as imb_pipeline
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.utils.validation import check_memory

from .._compat import (
    num_samples,
    pipeline_step_message,
    pipeline_step_params,
    validate_pipeline_steps,
)
from ._fit_steps import fit_steps
from ._provenance import follow_rows, index_sample_params, rows_must_follow, sample_indices

__all__ = ["Pipeline", "make_pipeline"]


class Pipeline(imb_pipeline.Pipeline):
    """Chain transformers, samplers and a final estimator; samplers act only in ``fit``.

    This is :class:`imblearn.pipeline.Pipeline` (samplers such as ``RandomOverSampler``
    or :class:`AugmentationSampler` run in ``fit`` only and are skipped by ``predict``,
    ``transform`` and ``score``, so resampling never touches evaluation data), plus one
    thing it lacks: **per-sample metadata follows resampling**. When a sampler
    duplicates, drops or synthesises rows, every per-sample fit parameter routed to the
    later steps (``groups``, ``sample_weight``, any array with one value per sample) is
    re-indexed to match, so a group-aware search at the end of the pipeline (for
    example ``GridSearchCV(..., cv=StratifiedGroupKFold())``) still sees each row's
    patient and stays patient-disjoint. This works with and without scikit-learn's
    metadata routing. "Per-sample" is scikit-learn's rule for cross-validation: an
    array with one value per row of ``X``; a validation set passed as fit metadata
    (``X_val``, ``y_val`` with ``transform_input``) that happens to have exactly as
    many rows as ``X`` is re-indexed too, as ``cross_validate`` would slice it.

    A synthetic row takes the metadata of its source row: the sampler's
    ``sample_indices_`` when it has one, else an equal input row of its class, else the
    nearest input row of its class (over the numeric columns, so SMOTENC's rows follow
    the rows they were interpolated from). NumPy arrays of any dimension, SciPy sparse
    matrices (never densified) and DataFrames with categorical columns all work. The
    bookkeeping is free for samplers with ``sample_indices_`` (``RandomOverSampler``,
    the under-samplers, :class:`AugmentationSampler`). For SMOTE-like samplers the
    sources are searched only when per-sample metadata is passed for a step after the
    sampler, the one case that needs them. For ``SMOTE`` with an integer
    ``random_state`` the search starts from the row each synthetic row was grown from
    (SMOTE's draws replayed) and costs less than SMOTE's own neighbour search: the fit
    takes about 1.5 times imbalanced-learn's on 100 000 x 50 rows, 1 in 10 positive
    (``benchmarks/bench_pipeline.py``). For other samplers it costs about their
    neighbour search times the imbalance ratio (negligible on cohorts of thousands of
    rows, several times imbalanced-learn's fit on 100 000). Without such metadata
    the pipeline fits as imbalanced-learn's does, at the same cost, and
    ``sample_indices_`` is not set.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        Transformers and samplers in order, then the final estimator.
    transform_input : list of str, default=None
        As in scikit-learn (needs metadata routing).
    memory : str or joblib.Memory, default=None
        Cache fitted transformers and samplers.
    verbose : bool, default=False
        Print the time each step takes.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_rows_seen_by_final_step,)
        After ``fit``: for each row given to the final estimator, the index of the row
        of ``X`` it comes from (``arange(n_samples)`` when no sampler changed the rows).
        Defined only when every sampler reports its rows (``sample_indices_``) or
        per-sample metadata was passed for a step after a sampler; otherwise reading it
        raises an ``AttributeError`` that says so (``hasattr`` is False).
    named_steps : Bunch
        Access the steps by name.

    See Also
    --------
    make_pipeline : Build a Pipeline without naming the steps.
    AugmentationSampler : Augment training rows inside the pipeline.
    LeakageGuard : Warn when evaluation rows were seen in fit.

    Examples
    --------
    Oversampling duplicates minority rows; their patient ids are duplicated with them,
    so the grid search at the end still splits by patient:

    >>> import numpy as np
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from sklearn.model_selection import GridSearchCV, GroupKFold
    >>> from sklearn.linear_model import LogisticRegression
    >>> from pitfalls.pipeline import Pipeline
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 2))
    >>> y = np.array([0] * 9 + [1] * 3)
    >>> groups = np.repeat(np.arange(6), 2)
    >>> search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=GroupKFold(3))
    >>> pipe = Pipeline([("ros", RandomOverSampler(random_state=0)), ("search", search)])
    >>> _ = pipe.fit(X, y, search__groups=groups)
    >>> pipe.sample_indices_.shape  # 9 + 9 rows after oversampling
    (18,)
    >>> sorted(set(groups[pipe.sample_indices_][12:].tolist()))  # copies keep their patient
    [4, 5]
    """

    steps: list[Any]

    @property
    def sample_indices_(self) -> np.ndarray:
        # set by fit: the row of X each row given to the final step comes from
        if not hasattr(self, "_row_origin"):
            raise AttributeError("sample_indices_ is set by fit; this Pipeline is not fitted.")
        return sample_indices(self._row_origin, self._n_samples_fit)

    def _fit(
        self, X: Any, y: Any = None, routed_params: Any = None, raw_params: Any = None
    ) -> tuple[Any, Any]:
        # imbalanced-learn's Pipeline._fit (the hook its fit, fit_transform, fit_predict
        # and fit_resample call), plus the bookkeeping of where each row came from,
        # applied to the metadata of every later step.
        self.steps = list(self.steps)
        validate_pipeline_steps(self)
        n_samples = num_samples(X)
        # the exact source search for synthetic rows runs only when metadata must
        # follow them (rows a sampler reports are followed for free)
        search = rows_must_follow(self.steps, routed_params, n_samples)
        fitted = fit_steps(
            ((position, name, step) for position, (name, step) in enumerate(self.steps[:-1])),
            X,
            y,
            memory=check_memory(self.memory),
            params=lambda position, name: pipeline_step_params(
                self, position, routed_params[name], raw_params
            ),
            message=lambda position: pipeline_step_message(self, position),
            follow=functools.partial(follow_rows, search=search),
        )
        for position, name, step in fitted.steps:
            self.steps[position] = (name, step)
        origin = fitted.origin
        self._row_origin, self._n_samples_fit = origin, n_samples
        final_name = self.steps[-1][0]
        # with routing on and no metadata passed, routed_params is scikit-learn's
        # EmptyRequest: no mapping (``in`` would loop forever on its __getitem__)
        if origin is not None and isinstance(routed_params, dict) and final_name in routed_params:
            # fit / fit_transform / fit_predict / fit_resample read the final step's
            # params from this mapping after _fit returns: hand them the re-indexed ones.
            routed_params[final_name] = index_sample_params(
                routed_params[final_name], origin, n_samples
            )
        return fitted.X, fitted.y


def make_pipeline(
    *steps: Any, memory: Any = None, transform_input: list[str] | None = None, verbose: bool = False
) -> Pipeline:
    """Build a :class:`Pipeline` from estimators, naming each step after its class.

    Parameters
    ----------
    *steps : estimators
        Transformers and samplers, then the final estimator.
    memory : str or joblib.Memory, default=None
        Cache fitted transformers and samplers.
    transform_input : list of str, default=None
        As in scikit-learn (needs metadata routing).
    verbose : bool, default=False
        Print the time each step takes.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from pitfalls.pipeline import make_pipeline
    >>> pipe = make_pipeline(RandomOverSampler(random_state=0), DecisionTreeClassifier())
    >>> [name for name, _ in pipe.steps]
    ['randomoversampler', 'decisiontreeclassifier']
    """
    named = sk_make_pipeline(*steps).steps  # the step names scikit-learn would give
    return Pipeline(named, memory=memory, transform_input=transform_input, verbose=verbose)
