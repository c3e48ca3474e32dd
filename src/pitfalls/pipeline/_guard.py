"""LeakageGuard: refuse to evaluate a model on rows it was trained on."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .._compat import num_samples as _num_samples
from .._compat import routing_enabled as _routing_enabled
from .._validation import describe_values
from ..exceptions import LeakageError, LeakageWarning
from ._hashing import (
    SCHEME,
    contains,
    fingerprints,
    number_row_hashes,
    numeric_rows,
    odd_keys,
)

__all__ = ["LeakageGuard"]

_ON_LEAK = ("warn", "raise")


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # np.sort + neighbour comparison: several times faster than np.unique on uint64
    ordered = np.sort(values)
    keep = np.ones(ordered.shape, dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _in_sorted(sorted_reference: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``query`` values occur in the sorted ``sorted_reference``."""
    if sorted_reference.size == 0:
        return np.zeros(query.shape, dtype=bool)
    if 8 * query.size > sorted_reference.size:  # many queries: one hash table wins
        return contains(sorted_reference, query)
    pos = np.searchsorted(sorted_reference, query)
    np.minimum(pos, sorted_reference.size - 1, out=pos)
    return sorted_reference[pos] == query


# Two-stage check. A cheap number made of a few key columns (those that tell apart the
# most training rows) goes through a bit filter of the training rows' key numbers; only
# the rows that pass (the copies, plus 1/64 to 1/32 of the rest by chance) get their
# full-row fingerprint computed and looked up. A row identical to a training row has
# the same key columns, so it always passes: the check stays exact.
_KEY_SAMPLE_ROWS = 1024
_KEY_CANDIDATE_COLUMNS = 256
_MAX_KEY_COLUMNS = 8
_FILTER_SPARSITY_BITS = 5  # 32 to 64 filter bits per training row: 1.6-3% false passes
_MAX_FILTER_BITS = 27  # 16 MiB
# Names the key numbers the filter holds. A guard fitted by a pitfalls whose key numbers
# differ (or that had none) is checked in one stage, by full fingerprints only.
_KEY_SCHEME = "key-columns-float64-words"


def _key_hashes(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """One 64-bit number per row, from the bytes of its key columns read as float64.

    ``sum_c key_c * word_c`` modulo ``2**64`` with odd keys, whose top bits (those the
    filter reads) depend on every bit of the words (multiplicative hashing). Only a
    filter: equal key columns always give equal numbers, so a copy of a training row
    always passes; different ones nearly always differ, and a row that passes by chance
    is then compared by its full fingerprint, never flagged for it. So a key column
    costs a copy and a multiply-add, not the full fingerprints' hashing.
    """
    out = np.zeros(rows.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for key, column in zip(odd_keys(len(columns)), columns, strict=True):
            word = rows[:, column].astype(np.float64).view(np.uint64)  # a fresh copy
            word *= key
            out += word
    return out


def _choose_key_columns(rows: np.ndarray, full_hashes: np.ndarray) -> np.ndarray:
    """The fewest high-cardinality columns whose values tell apart the sampled rows."""
    n_rows, n_columns = rows.shape
    sample = np.unique(np.linspace(0, n_rows - 1, min(n_rows, _KEY_SAMPLE_ROWS)).astype(np.intp))
    columns = np.unique(
        np.linspace(0, n_columns - 1, min(n_columns, _KEY_CANDIDATE_COLUMNS)).astype(np.intp)
    )
    if columns.size <= 1:
        return columns
    # only the candidate columns of the sampled rows: wide rows (images) are not copied
    candidates = rows[np.ix_(sample, columns)]
    values = np.ascontiguousarray(candidates.astype(np.float64, copy=False))
    ordered = np.sort(values.view(np.uint64), axis=0)  # by bytes: -0.0 differs from 0.0
    n_distinct = 1 + np.count_nonzero(ordered[1:] != ordered[:-1], axis=0)
    by_cardinality = np.argsort(-n_distinct, kind="stable")  # positions in columns
    n_distinct_rows = np.unique(full_hashes[sample]).size
    for n_keys in range(1, min(_MAX_KEY_COLUMNS, by_cardinality.size) + 1):
        keys = by_cardinality[:n_keys]
        if np.unique(_key_hashes(candidates, keys)).size >= 0.99 * n_distinct_rows:
            break
    return columns[keys]


def _key_filter(key_hashes: np.ndarray) -> tuple[np.ndarray, int]:
    """A packed bit set of the keys' top bits, and the shift that picks those bits."""
    n_bits = min(int(key_hashes.size).bit_length() + _FILTER_SPARSITY_BITS, _MAX_FILTER_BITS)
    n_bits = max(n_bits, 10)
    shift = 64 - n_bits
    present = np.zeros(1 << n_bits, dtype=bool)
    present[key_hashes >> np.uint64(shift)] = True
    return np.packbits(present, bitorder="little"), shift


def _filter_passes(packed: np.ndarray, shift: int, key_hashes: np.ndarray) -> np.ndarray:
    slot = key_hashes >> np.uint64(shift)
    bit = (slot & np.uint64(7)).astype(np.uint8)
    return ((packed[slot >> np.uint64(3)] >> bit) & np.uint8(1)).astype(bool)


class _TrainingPrints(NamedTuple):
    """What ``fit`` keeps of the training rows: fingerprints, never the rows."""

    fingerprints: np.ndarray  # sorted, unique full-row fingerprints
    key_columns: np.ndarray | None  # None: sparse, complex or text input, checked in one stage
    key_filter: np.ndarray | None
    key_shift: int
    row_width: int


def _fingerprint_training_rows(X: Any) -> _TrainingPrints:
    rows = numeric_rows(X)
    if rows is None:  # sparse, complex or text input: one-stage check (fingerprints)
        return _TrainingPrints(_sorted_unique(fingerprints(X)), None, None, 0, 0)
    full = number_row_hashes(rows)
    key_columns = _choose_key_columns(rows, full)
    key_filter, key_shift = _key_filter(_key_hashes(rows, key_columns))
    return _TrainingPrints(_sorted_unique(full), key_columns, key_filter, key_shift, rows.shape[1])


def _guard_first(guard_work: Any, X: Any, call: Any) -> tuple[Any, Any]:
    """Return ``(guard_work(X), call(X))``: the guard reads ``X`` first, in this thread.

    The guard reads the rows as they were passed, before the estimator (which may write
    into its input) sees them; no thread, no copy and no read-only view is needed. When
    the guard cannot read ``X`` (``TypeError`` or ``ValueError``), the estimator is called
    first, so that its own validation error is the one raised; if it takes ``X``, the
    guard's error stands.
    """
    try:
        guard_result = guard_work(X)
    except (TypeError, ValueError) as error:
        guard_error = error
    else:
        return guard_result, call(X)
    call(X)  # outside the except block: its error does not carry the guard's as context
    raise guard_error


def _estimator_has(attr: str) -> Any:
    def check(self: LeakageGuard) -> bool:
        target = self.estimator_ if hasattr(self, "estimator_") else self.estimator
        return hasattr(target, attr)

    return check


class LeakageGuard(MetaEstimatorMixin, BaseEstimator):
    """Wrap an estimator and flag evaluation rows that are exact copies of training rows.

    ``fit`` fits a clone of ``estimator`` and keeps a 64-bit fingerprint of every
    training row (not the rows themselves). ``predict``, ``predict_proba``,
    ``predict_log_proba``, ``decision_function`` and ``score`` first fingerprint their
    input and, when rows match, emit a :class:`~pitfalls.exceptions.LeakageWarning`
    (or raise :class:`~pitfalls.exceptions.LeakageError`) that says how many rows and
    which positions. Rows seen in fit turn up in evaluation when oversampling ran
    before the split, or when a patient's identical samples were spread across splits.

    Exact copies only: an augmented twin (a flip, added noise) or a SMOTE row differs
    in its values and is not flagged (``pitfalls audit`` looks for near-duplicates);
    a float32 copy of float64 rows matches only where its values are exactly
    representable in float32 (integers, pixel values). Rows compare by the bytes of
    their values read as float64: ``-0.0`` and ``0.0`` differ, a NaN matches the same
    NaN.

    Parameters
    ----------
    estimator : estimator object
        Any scikit-learn compatible estimator or pipeline.
    on_leak : {"warn", "raise"}, default="warn"
        What to do when evaluation rows were seen in fit.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator``.
    fit_fingerprints_ : ndarray of uint64
        Sorted, unique fingerprints of the training rows: numbers compare as float64
        (an integer row matches the same row stored as floats; a SciPy sparse row,
        hashed from its stored values without densifying, matches its dense form
        except where the dense row holds ``-0.0``),
        other tables cell by cell. Two different rows share a fingerprint with
        probability at most ``2**-32`` and about ``2**-63`` for most differences (see
        ``pitfalls.pipeline._hashing``).
    classes_ : ndarray
        Class labels, when the wrapped estimator has them.

    Notes
    -----
    Cost. ``fit`` fingerprints every training row (vectorised multilinear hashing of
    the rows' 32-bit pieces, linear in the number of values; see
    ``pitfalls.pipeline._hashing`` for the collision bound) and builds a bit filter of
    a cheap number made of a few key columns, those whose values tell the training
    rows apart best (the filter takes 4 to 8 bytes per training row, next to the 8 of
    ``fit_fingerprints_``). Each checked method computes only the key numbers of its
    input and then the full fingerprints of the rows that pass the filter: the copies
    of training rows plus 1 in 32 to 1 in 64 of the others. The check stays exact: a
    copy of a training row has the same key columns, so it always reaches the full-row
    comparison. When most evaluation rows share their key columns with training rows
    without being copies (few distinct values, constant image borders) or are copies,
    the check costs up to one full fingerprint of the input. Hashing every training
    value once is most of the cost, and its floor: the guard keeps neither a copy of
    the rows nor a reference to them. For 100 000 x 50 float64 rows, fitting and
    checking took 9.6 ms on a quiet machine: 17% of the CPU time of a
    single-threaded LogisticRegression's fit and predict on them (0.056 s), and 0.2
    to 0.3% of a random forest's or gradient boosting's (``benchmarks/bench_guard.py``
    prints the figures). Reading the rows once takes 1.4 ms, and the fingerprints
    (4.7 ms) are about the cheapest numpy hash that keeps the collision bound: a
    single multiply-add per 64-bit word (1.7 ms) lets rows that differ only in their
    words' top bits (the signs of two values) collide.

    Threads. None: the guard does its work in the caller's thread, before the
    estimator's, and hands the estimator ``X`` itself. The fingerprints are those of
    the rows as passed to ``fit``, even when the estimator then writes into its input.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from pitfalls.pipeline import LeakageGuard
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> y = np.array([0, 1, 0, 1])
    >>> guard = LeakageGuard(DecisionTreeClassifier(random_state=0)).fit(X[:3], y[:3])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = guard.predict(X[2:])
    >>> print(caught[0].message)
    1 of 2 rows passed to predict were seen in fit (exact copies of training rows), at positions 0. ...
    >>> LeakageGuard(DecisionTreeClassifier(), on_leak="raise").fit(X, y).score(X[3:], y[3:])
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.LeakageError: 1 of 1 rows passed to score were seen in fit ...
    """

    def __init__(self, estimator: Any, *, on_leak: str = "warn") -> None:
        self.estimator = estimator
        self.on_leak = on_leak

    def fit(self, X: Any, y: Any = None, **fit_params: Any) -> LeakageGuard:
        """Fit a clone of the estimator and fingerprint the training rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training rows.
        y : array-like of shape (n_samples,), default=None
            Targets.
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is on).

        Returns
        -------
        self : LeakageGuard

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from pitfalls.pipeline import LeakageGuard
        >>> guard = LeakageGuard(LinearRegression()).fit(np.eye(3), [1.0, 2.0, 3.0])
        >>> guard.fit_fingerprints_.shape
        (3,)
        """
        self._check_on_leak()
        if _routing_enabled():
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        prints, self.estimator_ = _guard_first(
            _fingerprint_training_rows,  # the rows as passed, before fit can change them
            X,
            lambda rows: clone(self.estimator).fit(rows, y, **fit_params),
        )
        self.fit_fingerprints_ = prints.fingerprints
        self._fingerprint_scheme = SCHEME
        self._key_scheme = _KEY_SCHEME
        self._key_columns: np.ndarray | None = prints.key_columns
        self._key_filter, self._key_shift = prints.key_filter, prints.key_shift
        self._row_width = prints.row_width
        for attr in ("classes_", "n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, attr):
                setattr(self, attr, getattr(self.estimator_, attr))
        return self

    def find_leaks(self, X: Any) -> np.ndarray:
        """Positions of the rows of ``X`` that were seen in ``fit`` (no warning).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows to check.

        Returns
        -------
        ndarray of int
            Sorted positions in ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> from pitfalls.pipeline import LeakageGuard
        >>> guard = LeakageGuard(LinearRegression()).fit(np.eye(3), [1.0, 2.0, 3.0])
        >>> guard.find_leaks(np.array([[0.0, 0.0, 1.0], [5.0, 5.0, 5.0]])).tolist()
        [0]
        """
        check_is_fitted(self, "fit_fingerprints_")
        scheme = getattr(self, "_fingerprint_scheme", "splitmix64-per-word")
        if scheme != SCHEME:  # a guard unpickled from an older pitfalls
            raise ValueError(
                f"This LeakageGuard holds fingerprints of the {scheme!r} scheme, which "
                f"cannot be compared with today's {SCHEME!r} fingerprints of new rows; "
                "fit the guard again with this version of pitfalls."
            )
        key_columns: np.ndarray | None = self._key_columns
        if getattr(self, "_key_scheme", None) != _KEY_SCHEME:  # an older guard's key filter
            key_columns = None
        rows = None if key_columns is None else numeric_rows(X)
        if rows is None or key_columns is None:
            return np.flatnonzero(contains(self.fit_fingerprints_, fingerprints(X)))
        if rows.shape[1] != self._row_width:  # no row can be a copy of a training row
            return np.empty(0, dtype=np.intp)
        keys = _key_hashes(rows, key_columns)
        candidates = np.flatnonzero(_filter_passes(self._key_filter, self._key_shift, keys))
        if candidates.size == 0:
            return candidates
        full = number_row_hashes(rows, candidates)
        return candidates[_in_sorted(self.fit_fingerprints_, full)]

    def _check_on_leak(self) -> None:
        # checked again at evaluation: set_params(on_leak=...) after fit must not slip by
        if self.on_leak not in _ON_LEAK:
            raise ValueError(f"on_leak={self.on_leak!r} is not supported; use 'warn' or 'raise'.")

    def _evaluate(self, method: str, X: Any, *args: Any, **params: Any) -> Any:
        """Call the estimator's ``method`` on ``X`` and report the rows of ``X`` seen in fit."""
        check_is_fitted(self, "fit_fingerprints_")
        self._check_on_leak()
        call = getattr(self.estimator_, method)
        leaked, result = _guard_first(self.find_leaks, X, lambda rows: call(rows, *args, **params))
        self._report(leaked, X, method)
        return result

    def _report(self, leaked: np.ndarray, X: Any, method: str) -> None:
        if leaked.size == 0:
            return
        n_rows = _num_samples(X)
        message = (
            f"{leaked.size} of {n_rows} rows passed to {method} were seen in fit (exact "
            f"copies of training rows), at positions {describe_values(leaked)}. Scores on "
            "them are inflated: split the data before oversampling or augmenting, split by "
            "patient, and drop duplicated samples."
        )
        if self.on_leak == "raise":
            raise LeakageError(message)
        # the caller of predict/score, above this frame, _evaluate and the public method
        warnings.warn(message, LeakageWarning, stacklevel=4)

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any, **params: Any) -> Any:
        """Check ``X`` for rows seen in fit, then return the estimator's ``predict``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Evaluation rows.
        **params : dict
            Passed to the estimator.

        Returns
        -------
        ndarray

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.dummy import DummyClassifier
        >>> from pitfalls.pipeline import LeakageGuard
        >>> guard = LeakageGuard(DummyClassifier()).fit(np.zeros((2, 1)), [0, 0])
        >>> guard.predict(np.ones((1, 1))).tolist()
        [0]
        """
        return self._evaluate("predict", X, **params)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any, **params: Any) -> Any:
        """Check ``X`` for rows seen in fit, then return the estimator's ``predict_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Evaluation rows.
        **params : dict
            Passed to the estimator.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.dummy import DummyClassifier
        >>> from pitfalls.pipeline import LeakageGuard
        >>> guard = LeakageGuard(DummyClassifier()).fit(np.zeros((2, 1)), [0, 1])
        >>> guard.predict_proba(np.ones((1, 1))).tolist()
        [[0.5, 0.5]]
        """
        return self._evaluate("predict_proba", X, **params)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any, **params: Any) -> Any:
        """Check ``X`` for rows seen in fit, then return the estimator's ``predict_log_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Evaluation rows.
        **params : dict
            Passed to the estimator.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.dummy import DummyClassifier
        >>> from pitfalls.pipeline import LeakageGuard
        >>> guard = LeakageGuard(DummyClassifier()).fit(np.zeros((2, 1)), [0, 0])
        >>> guard.predict_log_proba(np.ones((1, 1))).tolist()
        [[0.0]]
        """
        return self._evaluate("predict_log_proba", X, **params)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any, **params: Any) -> Any:
        """Check ``X`` for rows seen in fit, then return the estimator's ``decision_function``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Evaluation rows.
        **params : dict
            Passed to the estimator.

        Returns
        -------
        ndarray

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> from pitfalls.pipeline import LeakageGuard
        >>> guard = LeakageGuard(LogisticRegression()).fit([[0.0], [1.0]], [0, 1])
        >>> guard.decision_function([[0.5]]).shape
        (1,)
        """
        return self._evaluate("decision_function", X, **params)

    @available_if(_estimator_has("score"))
    def score(self, X: Any, y: Any = None, **params: Any) -> float:
        """Check ``X`` for rows seen in fit, then return the estimator's ``score``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Evaluation rows.
        y : array-like of shape (n_samples,), default=None
            True targets.
        **params : dict
            Passed to the estimator.

        Returns
        -------
        float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.dummy import DummyClassifier
        >>> from pitfalls.pipeline import LeakageGuard
        >>> guard = LeakageGuard(DummyClassifier()).fit(np.zeros((2, 1)), [0, 0])
        >>> guard.score(np.ones((2, 1)), [0, 1])
        0.5
        """
        return float(self._evaluate("score", X, y, **params))

    def get_metadata_routing(self) -> MetadataRouter:
        """Route every method's metadata to the wrapped estimator's method of the same name.

        Returns
        -------
        MetadataRouter

        Examples
        --------
        >>> from sklearn.linear_model import LogisticRegression
        >>> from pitfalls.pipeline import LeakageGuard
        >>> type(LeakageGuard(LogisticRegression()).get_metadata_routing()).__name__
        'MetadataRouter'
        """
        mapping = MethodMapping()
        for method in ("fit", "predict", "predict_proba", "predict_log_proba", "score"):
            mapping.add(caller=method, callee=method)
        mapping.add(caller="decision_function", callee="decision_function")
        return MetadataRouter(owner=self.__class__.__name__).add(
            estimator=self.estimator, method_mapping=mapping
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        from sklearn.utils import get_tags

        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags = inner.input_tags
        tags.target_tags = inner.target_tags
        return tags
