"""The one loop that fits the steps before a pipeline's model, as imbalanced-learn does.

:class:`~pitfalls.pipeline.Pipeline` fits its steps with it; so do
``nested_cross_validate`` (the steps shared by the candidates of its grid) and
``leakage_gap`` (the steps its leaky protocol fits before the split). One loop, so the
three cannot drift apart: a transformer is fitted with ``fit_transform`` (or ``fit``
then ``transform``), a sampler with ``fit_resample``, ``None`` and ``"passthrough"``
are skipped, and the rows a sampler returns can be traced back to the input rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import clone

from .._compat import fit_resample_one, fit_transform_one, num_samples
from ._provenance import index_sample_params, source_indices

__all__ = ["FittedSteps", "fit_steps", "is_transformer", "trace_rows", "transform_steps"]

# follow(origin, sampler, X_in, y_in, X_out, y_out) -> origin
FollowRows = Callable[[Any, Any, Any, Any, Any, Any], Any]


class FittedSteps(NamedTuple):
    """What :func:`fit_steps` returns."""

    X: Any
    """The rows the last step produced (the model's training rows)."""
    y: Any
    """Their targets."""
    steps: list[tuple[int, str, Any]]
    """``(position, name, fitted step)`` of every step fitted, in order."""
    origin: Any
    """For each row of ``X``, its row in the input (what ``follow`` returned); None
    when no sampler ran or ``follow=None``."""


def is_transformer(step: Any) -> bool:
    """A step applied at prediction time too, as imbalanced-learn decides it.

    Examples
    --------
    >>> from imblearn.over_sampling import SMOTE
    >>> from sklearn.preprocessing import StandardScaler
    >>> from pitfalls.pipeline._fit_steps import is_transformer
    >>> is_transformer(StandardScaler()), is_transformer(SMOTE())
    (True, False)
    """
    return hasattr(step, "transform") or hasattr(step, "fit_transform")


def fit_steps(
    steps: Iterable[tuple[int, str, Any]],
    X: Any,
    y: Any,
    *,
    memory: Any = None,
    params: Callable[[int, str], Any] | None = None,
    message: Callable[[int], str | None] | None = None,
    follow: FollowRows | None = None,
) -> FittedSteps:
    """Fit ``steps`` in order on ``(X, y)``, each on the output of the one before.

    Parameters
    ----------
    steps : iterable of (position, name, step)
        The steps to fit (their position in the pipeline, for ``params`` and
        ``message``). ``None`` and ``"passthrough"`` are skipped. The steps are fitted
        in place, unless ``memory`` caches them (then clones are fitted, as in
        imbalanced-learn).
    X, y : array-like
        The training rows.
    memory : joblib.Memory, default=None
        The pipeline's memory (from ``check_memory``); None fits without caching.
    params : callable, default=None
        ``params(position, name)``: the step's routed fit parameters (a mapping of
        method name to parameters, as ``process_routing`` gives). Per-sample values
        are re-indexed to follow the rows earlier samplers produced.
    message : callable, default=None
        ``message(position)``: what a verbose pipeline prints for the step.
    follow : callable, default=None
        ``follow(origin, sampler, X_in, y_in, X_out, y_out) -> origin``: after each
        sampler, the map from the current rows to the input rows (``origin`` is None
        before the first sampler), e.g. :func:`trace_rows`. None keeps no map
        (nothing needs to follow the rows).

    Returns
    -------
    FittedSteps

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from sklearn.preprocessing import StandardScaler
    >>> from pitfalls.pipeline._fit_steps import fit_steps, trace_rows
    >>> X, y = np.arange(8.0).reshape(4, 2), np.array([0, 0, 0, 1])
    >>> steps = [(0, "scale", StandardScaler()), (1, "ros", RandomOverSampler(random_state=0))]
    >>> fitted = fit_steps(steps, X, y, follow=trace_rows)
    >>> fitted.X.shape, fitted.origin.tolist()
    ((6, 2), [0, 1, 2, 3, 3, 3])
    """
    # as imbalanced-learn: a joblib.Memory without a location caches nothing
    cache = memory is not None and not (hasattr(memory, "location") and memory.location is None)
    transform_one = memory.cache(fit_transform_one) if cache else fit_transform_one
    resample_one = memory.cache(fit_resample_one) if cache else fit_resample_one
    n_samples = num_samples(X)
    origin: np.ndarray | None = None  # source row in X of each current row
    fitted: list[tuple[int, str, Any]] = []
    for position, name, step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        step = clone(step) if cache else step  # what is cached must not be the user's object
        step_params = {} if params is None else params(position, name)
        if origin is not None:
            step_params = index_sample_params(step_params, origin, n_samples)
        note = None if message is None else message(position)
        if is_transformer(step):
            X, step = transform_one(
                step, X, y, weight=None, message_clsname="Pipeline", message=note,
                params=step_params,
            )  # fmt: skip
        else:
            X_before, y_before = X, y
            X, y, step = resample_one(
                step, X, y, message_clsname="Pipeline", message=note, params=step_params
            )
            if follow is not None:
                origin = follow(origin, step, X_before, y_before, X, y)
        fitted.append((position, name, step))
    return FittedSteps(X, y, fitted, origin)


def trace_rows(
    origin: np.ndarray | None, sampler: Any, X_in: Any, y_in: Any, X_out: Any, y_out: Any
) -> np.ndarray:
    """``origin`` composed with the source row of each row ``sampler`` returned.

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from pitfalls.pipeline._fit_steps import trace_rows
    >>> X, y = np.arange(3.0).reshape(3, 1), np.array([0, 0, 1])
    >>> sampler = RandomOverSampler(random_state=0)
    >>> X_out, y_out = sampler.fit_resample(X, y)
    >>> trace_rows(None, sampler, X, y, X_out, y_out).tolist()
    [0, 1, 2, 2]
    >>> trace_rows(np.array([5, 6, 7]), sampler, X, y, X_out, y_out).tolist()
    [5, 6, 7, 7]
    """
    step_origin = source_indices(sampler, X_in, y_in, X_out, y_out)
    return step_origin if origin is None else origin[step_origin]


def transform_steps(fitted: Iterable[tuple[int, str, Any]], X: Any) -> Any:
    """Pass evaluation rows through fitted steps: transformers only, samplers skipped.

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from sklearn.preprocessing import StandardScaler
    >>> from pitfalls.pipeline._fit_steps import fit_steps, transform_steps
    >>> X, y = np.array([[0.0], [2.0], [4.0]]), np.array([0, 0, 1])
    >>> fitted = fit_steps([(0, "ros", RandomOverSampler(random_state=0)),
    ...                     (1, "scale", StandardScaler())], X, y)
    >>> transform_steps(fitted.steps, np.array([[4.0]])).shape
    (1, 1)
    """
    for _, _, step in fitted:
        if is_transformer(step):
            X = step.transform(X)
    return X
