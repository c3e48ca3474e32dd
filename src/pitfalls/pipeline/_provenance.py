"""Where each row produced by a sampler came from (its source row in the sampler's input).

Knowing the source row lets groups (patient ids) and any per-sample metadata follow
resampling, so that a duplicated or synthetic row keeps its patient.

The rule, in order:

1. the sampler's own ``sample_indices_`` (imbalanced-learn's ``RandomOverSampler``,
   the under-samplers, :class:`~pitfalls.pipeline.AugmentationSampler`);
2. otherwise an output row equal to an input row of its class comes from that row (the
   original rows kept by SMOTE-like over-samplers, the rows kept by cleaning samplers); rows are
   compared by their fingerprints, numbers as float64, so this works on arrays of any
   dimension, SciPy sparse rows (from their stored values) and tables of any dtypes;
3. otherwise (a synthetic row: SMOTE, ADASYN, cluster centroids) the row comes from its
   nearest input row of the same class (the first of equally near ones), by Euclidean
   distance over the numeric columns (sparse rows stay sparse). A SMOTE row lies on the
   segment between a seed sample and one of its neighbours, so this is nearly always
   whichever of the two it lies closer to (a third row can be nearer still). SMOTENC
   interpolates the numeric columns the same way but gives the categorical ones the
   neighbours' most common value, so categories are left out of the distance; only a
   table with no numeric column (SMOTEN) is compared on its one-hot encoded categories.

Rules 2 and 3 cost time, so :class:`~pitfalls.pipeline.Pipeline` applies them only when
something must follow the rows: per-sample metadata for a step after a sampler
(:func:`rows_must_follow`, :func:`follow_rows`). Rule 3 costs about the sampler's own
neighbour search times the imbalance ratio (every synthetic row against every row of
its class), except for ``SMOTE`` with an integer ``random_state``: its draws are
replayed (``pitfalls._compat.smote_seed_rows``) and each row's search starts from the
row it was grown from, looking only at the rows near it when they are proved to hold
the answer (less than SMOTE's own neighbour search). The answers are the same either
way: the replayed draws only say where to look first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.neighbors import NearestNeighbors

from .._compat import is_arraylike_not_scalar as _is_arraylike_not_scalar
from .._compat import num_samples as _num_samples
from .._compat import safe_indexing as _safe_indexing
from .._compat import smote_seed_rows
from ._hashing import fingerprints, numeric_rows

__all__ = [
    "Untracked",
    "follow_rows",
    "index_sample_params",
    "rows_must_follow",
    "sample_indices",
    "source_indices",
]

_LABEL_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd, so fingerprint -> fingerprint * mix is one-to-one


def source_indices(sampler: Any, X_in: Any, y_in: Any, X_out: Any, y_out: Any) -> np.ndarray:
    """Index into the sampler's input of the source row of each resampled row.

    Parameters
    ----------
    sampler : object
        The fitted sampler that turned ``(X_in, y_in)`` into ``(X_out, y_out)``.
    X_in, y_in : array-like
        Input of ``fit_resample``.
    X_out, y_out : array-like
        Its output.

    Returns
    -------
    ndarray of int, shape (n_resampled,)

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import SMOTE
    >>> from pitfalls.pipeline._provenance import source_indices
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [5.3], [5.4]])
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    >>> smote = SMOTE(k_neighbors=2, random_state=0)
    >>> X_res, y_res = smote.fit_resample(X, y)
    >>> idx = source_indices(smote, X, y, X_res, y_res)
    >>> idx[:8].tolist()  # the original rows come first and map to themselves
    [0, 1, 2, 3, 4, 5, 6, 7]
    >>> sorted(set(idx[8:].tolist())) <= [0, 1, 2]  # synthetic rows map to class-1 rows
    True
    """
    known = _reported_indices(sampler, X_out)
    if known is not None:
        return known

    result = _first_equal_rows(X_in, y_in, X_out, y_out)
    unmatched = np.flatnonzero(result < 0)
    if unmatched.size:
        rows_in, rows_out = _search_space(X_in, X_out)
        seeds = _seed_hints(sampler, y_in, y_out, result.size)
        result[unmatched] = _nearest_same_class(
            rows_in,
            y_in,
            _take_rows(rows_out, unmatched),
            y_out,
            unmatched,
            None if seeds is None else _SeedHints(seeds.rows[unmatched], seeds.steps[unmatched]),
        )
    return result


class _SeedHints(NamedTuple):
    """Where each searched row was grown from, to start its search there."""

    rows: np.ndarray  # the seed row: index into the sampler's input, -1 where unknown
    steps: np.ndarray  # how far along the segment from the seed to its neighbour, [0, 1)


def _seed_hints(sampler: Any, y_in: Any, y_out: Any, n_out: int) -> _SeedHints | None:
    """For each output row, the input row SMOTE grew it from and the step it took (its
    draws replayed), or -1.

    SMOTE returns its input rows, then each class's synthetic rows in the order of its
    draws. Hints only: the search proves each source without trusting them.
    """
    seeds = None if y_in is None or y_out is None else smote_seed_rows(sampler, y_in)
    if seeds is None:
        return None
    labels_in, labels_out = np.asarray(y_in).ravel(), np.asarray(y_out).ravel()
    rows = np.full(n_out, -1, dtype=np.intp)
    steps = np.zeros(n_out)
    start = labels_in.size
    for draws in seeds.classes:
        stop = start + draws.rows.size
        if stop > n_out or not (labels_out[start:stop] == draws.label).all():
            return None
        rows[start:stop] = np.flatnonzero(labels_in == draws.label)[draws.rows]
        steps[start:stop] = draws.steps
        start = stop
    return _SeedHints(rows, steps) if start == n_out else None


def _reported_indices(sampler: Any, X_out: Any) -> np.ndarray | None:
    """The sampler's own ``sample_indices_``, when it has one for these rows."""
    known = getattr(sampler, "sample_indices_", None)
    if known is not None and len(known) == _num_samples(X_out):
        return np.asarray(known, dtype=np.intp)
    return None


class Untracked:
    """Where the rows come from was not worked out (nothing had to follow them).

    Parameters
    ----------
    sampler : str
        The class name of the first sampler whose rows were not traced.

    Examples
    --------
    >>> from pitfalls.pipeline._provenance import Untracked
    >>> Untracked("SMOTE")
    Untracked('SMOTE')
    """

    def __init__(self, sampler: str) -> None:
        self.sampler = sampler

    def __repr__(self) -> str:
        return f"Untracked({self.sampler!r})"


def follow_rows(
    origin: np.ndarray | Untracked | None,
    sampler: Any,
    X_in: Any,
    y_in: Any,
    X_out: Any,
    y_out: Any,
    *,
    search: bool,
) -> np.ndarray | Untracked:
    """Compose ``origin`` with where each row of one sampler's output comes from.

    Parameters
    ----------
    origin : ndarray of int, Untracked or None
        For each input row of the sampler, its row in the pipeline's ``X``; None when
        no sampler ran before (the rows are ``X``'s own).
    sampler : object
        The fitted sampler that turned ``(X_in, y_in)`` into ``(X_out, y_out)``.
    X_in, y_in, X_out, y_out : array-like
        Its input and output.
    search : bool
        Whether to work out the sources the sampler does not report (rules 2 and 3
        of this module, which cost time); when False such a sampler's rows are left
        :class:`Untracked`. Rows a sampler reports (``sample_indices_``) are always
        followed: that is free.

    Returns
    -------
    ndarray of int or Untracked
        For each output row, its row in the pipeline's ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import SMOTE, RandomOverSampler
    >>> from pitfalls.pipeline._provenance import follow_rows
    >>> X, y = np.array([[0.0], [0.1], [0.3], [5.0], [5.2], [5.4]]), np.array([0, 0, 0, 0, 1, 1])
    >>> ros = RandomOverSampler(random_state=0)
    >>> X_res, y_res = ros.fit_resample(X, y)
    >>> origin = follow_rows(None, ros, X, y, X_res, y_res, search=False)  # reported: free
    >>> origin.tolist()
    [0, 1, 2, 3, 4, 5, 4, 5]
    >>> smote = SMOTE(k_neighbors=1, random_state=0)
    >>> X_syn, y_syn = smote.fit_resample(X, y)
    >>> follow_rows(None, smote, X, y, X_syn, y_syn, search=False)
    Untracked('SMOTE')
    >>> follow_rows(None, smote, X, y, X_syn, y_syn, search=True).tolist()  # nearest rows
    [0, 1, 2, 3, 4, 5, 5, 4]
    """
    if isinstance(origin, Untracked):
        return origin
    step_origin = _reported_indices(sampler, X_out)
    if step_origin is None:
        if not search:
            return Untracked(type(sampler).__name__)
        step_origin = source_indices(sampler, X_in, y_in, X_out, y_out)
    return step_origin if origin is None else origin[step_origin]


def _is_per_sample(value: Any, n_samples: int) -> bool:
    """scikit-learn's rule for metadata cut with the rows in cross-validation."""
    return _is_arraylike_not_scalar(value) and _num_samples(value) == n_samples


def _has_per_sample(params: Any, n_samples: int) -> bool:
    if isinstance(params, Mapping):
        return any(_has_per_sample(value, n_samples) for value in params.values())
    return _is_per_sample(params, n_samples)


def rows_must_follow(steps: list[tuple[str, Any]], routed_params: Any, n_samples: int) -> bool:
    """Whether any per-sample metadata goes to a step after the pipeline's first sampler.

    Only then must the rows a sampler returns be traced back to ``X`` (to re-index that
    metadata); otherwise the search for the sources of synthetic rows is skipped.

    Parameters
    ----------
    steps : list of (str, estimator)
        The pipeline's steps, the final one last.
    routed_params : mapping or None
        The fit parameters of each step, as the pipeline routed them (``{step name:
        {method: {parameter: value}}}``, or scikit-learn's ``EmptyRequest``).
    n_samples : int
        The number of rows of ``X``: an array of that length is per-sample.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import SMOTE
    >>> from sklearn.linear_model import LogisticRegression
    >>> from pitfalls.pipeline._provenance import rows_must_follow
    >>> steps = [("smote", SMOTE()), ("model", LogisticRegression())]
    >>> rows_must_follow(steps, {"model": {"fit": {"sample_weight": np.ones(4)}}}, 4)
    True
    >>> rows_must_follow(steps, {"model": {"fit": {"verbose": 1}}}, 4)
    False
    """
    if routed_params is None:
        return False
    samplers = [i for i, (_, step) in enumerate(steps[:-1]) if _is_sampler(step)]
    if not samplers:
        return False
    later = [name for name, _ in steps[samplers[0] + 1 :]]
    return any(_has_per_sample(routed_params.get(name, {}), n_samples) for name in later)


def _is_sampler(step: Any) -> bool:
    # imbalanced-learn's rule: a step with neither transform nor fit_transform resamples
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return False
    return not (hasattr(step, "transform") or hasattr(step, "fit_transform"))


def sample_indices(origin: np.ndarray | Untracked | None, n_samples: int) -> np.ndarray:
    """The pipeline's ``sample_indices_`` from its fit's ``origin``.

    Raises
    ------
    AttributeError
        When a sampler's rows were not traced (no per-sample metadata followed them):
        ``hasattr(pipe, "sample_indices_")`` is then False.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.pipeline._provenance import Untracked, sample_indices
    >>> sample_indices(None, 3).tolist()
    [0, 1, 2]
    >>> sample_indices(Untracked("SMOTE"), 3)
    Traceback (most recent call last):
    ...
    AttributeError: sample_indices_ was not worked out: SMOTE does not report ...
    """
    if isinstance(origin, Untracked):
        raise AttributeError(
            f"sample_indices_ was not worked out: {origin.sampler} does not report where "
            "the rows it returns come from (it has no sample_indices_), and finding the "
            "source of each synthetic row (an exact nearest-row search) is done only "
            "when per-sample metadata follows the rows. Pass the metadata to fit for a "
            "step after the sampler (for example pipe.fit(X, y, search__groups=groups)), "
            "as a group-aware search at the end of the pipeline needs anyway."
        )
    return np.arange(n_samples) if origin is None else origin


def _first_equal_rows(X_in: Any, y_in: Any, X_out: Any, y_out: Any) -> np.ndarray:
    """For each output row, the first input row equal to it and of its class, or -1."""
    hash_in, hash_out = fingerprints(X_in), fingerprints(X_out)
    if y_in is not None and y_out is not None:
        # a synthetic row can equal a row of another class (SMOTEN on few categories):
        # its source is of its own class, so the label is part of what must match
        labels = np.concatenate([np.asarray(y_in).ravel(), np.asarray(y_out).ravel()])
        codes = pd.factorize(labels)[0].astype(np.uint64)
        with np.errstate(over="ignore"):
            hash_in = hash_in * _LABEL_MIX + codes[: hash_in.size]
            hash_out = hash_out * _LABEL_MIX + codes[hash_in.size :]
    # one hash table for both, several times faster than sorting and searching: pandas
    # numbers the values in order of first appearance, so the input rows where the
    # numbering reaches a new value are the first rows of each value
    codes = pd.factorize(np.concatenate([hash_in, hash_out]))[0]
    codes_in, codes_out = codes[: hash_in.size], codes[hash_in.size :]
    first_rows = np.flatnonzero(np.diff(np.maximum.accumulate(codes_in), prepend=-1) > 0)
    found = np.full(hash_out.shape, -1, dtype=np.intp)
    known = codes_out < first_rows.size
    found[known] = first_rows[codes_out[known]]
    return found


def _search_space(X_in: Any, X_out: Any) -> tuple[Any, Any]:
    """Input and output rows as numbers for the nearest-row search (rule 3 above)."""
    if sparse.issparse(X_in) or sparse.issparse(X_out):
        # never densified: a sparse text or radiomics matrix can be huge as dense rows
        return sparse.csr_matrix(X_in, dtype=np.float64), sparse.csr_matrix(X_out, dtype=np.float64)
    rows_in, rows_out = numeric_rows(X_in), numeric_rows(X_out)
    if rows_in is not None and rows_out is not None:
        return rows_in, rows_out
    table_in, table_out = _as_table(X_in), _as_table(X_out)
    numeric = [
        column
        for column in table_in.columns
        if column in table_out.columns
        and pd.api.types.is_numeric_dtype(table_in[column])
        and pd.api.types.is_numeric_dtype(table_out[column])
    ]
    if numeric:
        return (
            table_in[numeric].to_numpy(dtype=np.float64),
            table_out[numeric].to_numpy(dtype=np.float64),
        )
    # categories only: one-hot encode input and output together, so columns line up
    both = pd.concat([table_in, table_out], ignore_index=True).astype(str)
    encoded = pd.get_dummies(both, columns=list(both.columns), dtype=np.float64).to_numpy()
    return encoded[: len(table_in)], encoded[len(table_in) :]


def _as_table(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    return pd.DataFrame(arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr)


def _nearest_same_class(
    rows_in: Any,
    y_in: Any,
    rows_new: Any,
    y_out: Any,
    new_positions: np.ndarray,
    seeds: _SeedHints | None = None,
) -> np.ndarray:
    if y_in is None or y_out is None:
        return _first_nearest(rows_in, rows_new)
    found = np.empty(rows_new.shape[0], dtype=np.intp)
    y_in_arr = np.asarray(y_in)
    y_new = np.asarray(y_out)[new_positions]
    for label in np.unique(y_new):
        candidates = np.flatnonzero(y_in_arr == label)
        if candidates.size == 0:  # a class the sampler invented: fall back to all rows
            candidates = np.arange(rows_in.shape[0])
        wanted = np.flatnonzero(y_new == label)
        local = np.full(wanted.size, -1, dtype=np.intp)
        if seeds is not None and not sparse.issparse(rows_in):
            local = _first_nearest_from_seeds(
                _take_rows(rows_in, candidates),
                _take_rows(rows_new, wanted),
                _positions_in(candidates, seeds.rows[wanted]),
                seeds.steps[wanted],
            )
        unproven = np.flatnonzero(local < 0)
        if unproven.size:
            local[unproven] = _first_nearest(rows_in[candidates], rows_new[wanted[unproven]])
        found[wanted] = candidates[local]
    return found


def _take_rows(rows: Any, positions: np.ndarray) -> Any:
    """``rows[positions]``; a view when the positions are a run (SMOTE's new rows)."""
    if positions.size and positions[-1] - positions[0] == positions.size - 1:
        return rows[positions[0] : positions[-1] + 1]  # sorted and distinct: a run
    return rows[positions]


def _positions_in(sorted_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Position of each of ``rows`` in ``sorted_rows``, -1 where it is not there."""
    if sorted_rows.size == 0:
        return np.full(rows.shape, -1, dtype=np.intp)
    positions = np.minimum(np.searchsorted(sorted_rows, rows), sorted_rows.size - 1)
    return np.where((rows >= 0) & (sorted_rows[positions] == rows), positions, -1)


# Equally near rows (to rounding: within a relative 1e-9) are told apart by their
# order, the first wins, however the search visited them: dense and sparse rows then
# get the same sources. The dense search looks at the nearest few rows; when all of
# them tie, every row is looked at.
_TIE_NEIGHBOURS = 4
_TIE_RELATIVE, _TIE_ABSOLUTE = 1e-9, 1e-12
_NO_ROW = np.iinfo(np.intp).max


def _first_nearest(reference: Any, queries: Any) -> np.ndarray:
    """For each query row, the first of the reference rows nearest to it."""
    if sparse.issparse(reference):
        return _first_nearest_sparse(sparse.csr_matrix(reference), sparse.csr_matrix(queries))
    n_neighbours = min(_TIE_NEIGHBOURS, reference.shape[0])
    search = NearestNeighbors(n_neighbors=n_neighbours).fit(reference)
    distances, positions = search.kneighbors(queries)
    found = _first_of_tied(distances, positions)
    if n_neighbours < reference.shape[0]:
        crowded = np.flatnonzero(distances[:, -1] <= _tie_limit(distances[:, 0]))
        if crowded.size:  # more equally near rows than the search returned
            every = euclidean_distances(queries[crowded], reference)
            found[crowded] = _first_of_tied(every, np.arange(reference.shape[0]))
    return found


# Starting from a seed row. The nearest row x* to a query q and every row tied with it
# lie within t = tie_limit(d(q, nearest row found)) of q, so within d(q, seed) + t of the
# seed (triangle inequality): once every row within that radius of the seed is known,
# the search over those rows alone is the search over the whole class. A SMOTE row
# grown from seed s a step g towards its neighbour n has d(q, s) = g d(s, n) and
# d(q, s) + d(q, n) = d(s, n): the radius it needs is at most min(2 d(q, s), d(q, s) / g),
# a few of the seed's nearest rows. The rows within each seed's radius come from one
# product of the seeds with all rows (squared distances through the norms, rounding
# allowed for: a row is listed when it may be within the radius); a seed with more
# rows than _MAX_LISTED that near (many equal rows) is left to the search over all rows,
# as is any query the listed rows do not prove (a wrong step or seed costs time only).
# Distances from the queries are computed directly (differences), and a listed row
# whose distance from the seed rules it out (triangle inequality) is skipped.
_MAX_LISTED = 64
_PRODUCT_CELLS = 1 << 21  # seeds x rows per block of the product: 16 MiB
_SINGLE_PRECISION_SHARE = 1e-3  # float32 when its rounding is this small next to radius^2
_DIRECT_ROUNDING = 1e-12
_RADIUS_MARGIN = 1e-6
_PAIR_BLOCK = 8192


def _first_nearest_from_seeds(
    reference: Any, queries: Any, seeds: np.ndarray, steps: np.ndarray
) -> np.ndarray:
    """``_first_nearest`` proved from each query's seed row, -1 where not proved."""
    found = np.full(queries.shape[0], -1, dtype=np.intp)
    has_seed = np.flatnonzero(seeds >= 0)
    if has_seed.size == 0:
        return found
    reference = np.asarray(reference, dtype=np.float64)
    queries = np.asarray(_take_rows(queries, has_seed), dtype=np.float64)  # a view if it can
    seeds = seeds[has_seed]
    seed_distance = _pair_distances(queries, reference, np.arange(seeds.size), seeds)
    with np.errstate(divide="ignore", invalid="ignore"):  # a step of 0: the first bound
        along = np.where(steps[has_seed] > 0, seed_distance / steps[has_seed], np.inf)
    needed = np.minimum(2 * seed_distance, along) * (1 + _RADIUS_MARGIN) + 2 * _TIE_ABSOLUTE
    radius = np.full(reference.shape[0], -np.inf)
    np.maximum.at(radius, seeds, needed)
    listed = _rows_within(reference, radius)
    per_query = listed.counts[seeds]
    query = np.repeat(np.arange(seeds.size), per_query)
    pair = np.arange(query.size) - np.repeat(np.cumsum(per_query) - per_query, per_query)
    pair += listed.starts[seeds][query]
    member = listed.members[pair]
    # the seed's own distance is known; a row farther from the seed than
    # d(q, seed) + tie_limit(d(q, seed)) is farther from q than the seed, and not tied
    limit = _tie_limit(seed_distance) * (1 + _DIRECT_ROUNDING)
    keep = (listed.lower[pair] - seed_distance[query] <= limit[query]) & (member != seeds[query])
    query, member = query[keep], member[keep]
    distance = _pair_distances(queries, reference, query, member)
    nearest = seed_distance.copy()
    np.minimum.at(nearest, query, distance)
    tie = _tie_limit(nearest)
    first = np.where(seed_distance <= tie, seeds, _NO_ROW)
    tied = distance <= tie[query]
    np.minimum.at(first, query[tied], member[tied])
    reach = radius[seeds]  # every row within it is listed
    proved = ((seed_distance + tie) * (1 + _DIRECT_ROUNDING) <= reach) & (per_query > 0)
    found[has_seed] = np.where(proved, first, -1)
    return found


def _pair_distances(
    rows: np.ndarray, others: np.ndarray, which: np.ndarray, other: np.ndarray
) -> np.ndarray:
    """Euclidean distance from each ``rows[which[i]]`` to ``others[other[i]]``, computed
    a block of pairs at a time (small temporaries stay in the cache, no page faults)."""
    distances = np.empty(which.size)
    for start in range(0, which.size, _PAIR_BLOCK):
        pairs = slice(start, start + _PAIR_BLOCK)
        difference = rows[which[pairs]]
        difference -= others[other[pairs]]
        distances[pairs] = np.einsum("ij,ij->i", difference, difference)
    return np.sqrt(distances, out=distances)


class _Listed(NamedTuple):
    """For each row, the rows within its radius, as a compressed row list."""

    starts: np.ndarray  # where each row's list starts in members
    counts: np.ndarray  # its length (0: no radius, or more than _MAX_LISTED rows)
    members: np.ndarray
    lower: np.ndarray  # a lower bound on the member's distance from the row


def _rows_within(reference: np.ndarray, radius: np.ndarray) -> _Listed:
    """Every row within ``radius[i]`` of each row ``i`` (maybe a few more).

    Squared distances come from blocks of one product of the centred rows (and their
    squared norms) with all rows, in float32 when its rounding is small next to the
    radii (half the time of float64), else in float64. ``slack`` bounds their error
    (products of ``n_columns + 2`` terms, the float32 copy of the rows, the norms), so
    a row within the radius is always listed.
    """
    n_rows, n_columns = reference.shape
    centred = reference - reference.mean(axis=0)
    norms = np.einsum("ij,ij->i", centred, centred)
    owners = np.flatnonzero(radius >= 0)
    dtype: Any = np.float32
    slack = _slack(np.float32, n_columns, norms)
    if slack.max() > _SINGLE_PRECISION_SHARE * np.median(radius[owners] ** 2):
        dtype, slack = np.float64, _slack(np.float64, n_columns, norms)
    threshold = np.where(radius >= 0, radius**2 + slack, -np.inf)
    # rounded up: a float32 threshold never below the float64 one
    threshold = np.nextafter(threshold.astype(dtype), np.inf, dtype=dtype)
    rows_as = centred.astype(dtype)
    norms_as = np.einsum("ij,ij->i", rows_as, rows_as)
    left = np.column_stack([rows_as, norms_as, np.ones(n_rows, dtype)])
    right = np.vstack([-2 * rows_as.T, np.ones(n_rows, dtype), norms_as])  # d^2 = left @ right
    block = max(1, min(owners.size, _PRODUCT_CELLS // max(n_rows, 1)))
    product = np.empty((block, n_rows), dtype)  # reused: fresh blocks cost page faults
    near = np.empty((block, n_rows), dtype=bool)
    counts = np.zeros(n_rows, dtype=np.intp)
    members, lower = [np.empty(0, dtype=np.intp)], [np.empty(0)]
    for start in range(0, owners.size, block):
        rows = owners[start : start + block]
        np.matmul(left[rows], right, out=product[: rows.size])
        np.less_equal(product[: rows.size], threshold[rows, None], out=near[: rows.size])
        flat = np.flatnonzero(near[: rows.size])  # by row, then by member: lists in order
        owner = flat // n_rows
        row_counts = np.bincount(owner, minlength=rows.size)
        crowded = row_counts > _MAX_LISTED  # many equal rows: searched among all rows
        if crowded.any():
            flat, owner = flat[~crowded[owner]], owner[~crowded[owner]]
            row_counts[crowded] = 0
        counts[rows] = row_counts
        members.append(flat % n_rows)
        squared = product[: rows.size].ravel()[flat].astype(np.float64)
        lower.append(np.sqrt(np.maximum(squared - slack[rows[owner]], 0.0)))
    member = np.concatenate(members)
    return _Listed(np.cumsum(counts) - counts, counts, member, np.concatenate(lower))


def _slack(dtype: Any, n_columns: int, norms: np.ndarray) -> np.ndarray:
    """A bound on the error of the squared distances from each row (see _rows_within)."""
    terms = n_columns + 2
    return 8 * (terms + 2) * float(np.finfo(dtype).eps) * (norms + norms.max())


def _tie_limit(nearest: np.ndarray) -> np.ndarray:
    return nearest * (1 + _TIE_RELATIVE) + _TIE_ABSOLUTE


def _first_of_tied(distances: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Per row of ``distances``: the smallest position among the nearest (to rounding)."""
    limit = _tie_limit(distances.min(axis=1))[:, None]
    return np.where(distances <= limit, positions, _NO_ROW).min(axis=1)


# Sparse rows: only the reference rows that share a column with a query have a nonzero
# dot product with it; every other row is at sqrt(|q|^2 + |r|^2), so among those the
# ones with the smallest norms are the nearest. The candidates of a query are the rows
# it overlaps and this many smallest-norm rows.
_SMALLEST_NORMS = 8
_SPARSE_CHUNK_ROWS = 4096


def _first_nearest_sparse(reference: sparse.csr_matrix, queries: sparse.csr_matrix) -> np.ndarray:
    """``_first_nearest`` of sparse rows, from their dot products with overlapping rows.

    Distances are those scikit-learn computes for sparse rows
    (``sqrt(|q|^2 + |r|^2 - 2 q.r)``); the search costs the sparse product of the
    queries with the reference rows, not a dense distance matrix.
    """
    n_reference = reference.shape[0]
    reference_sq = _row_norms_squared(reference)
    by_norm = np.lexsort((np.arange(n_reference), reference_sq))[:_SMALLEST_NORMS]
    beyond = reference_sq[by_norm[-1]]  # every other row's norm is at least this
    smallest_t = reference[by_norm].T.tocsc()
    found = np.empty(queries.shape[0], dtype=np.intp)
    for start in range(0, queries.shape[0], _SPARSE_CHUNK_ROWS):
        chunk = queries[start : start + _SPARSE_CHUNK_ROWS]
        query_sq = _row_norms_squared(chunk)
        dots = (chunk @ reference.T).tocsr()  # one entry per overlapping pair
        rows = np.repeat(np.arange(chunk.shape[0]), np.diff(dots.indptr))
        rows = np.concatenate([rows, np.repeat(np.arange(chunk.shape[0]), by_norm.size)])
        columns = np.concatenate([dots.indices, np.tile(by_norm, chunk.shape[0])])
        products = np.concatenate([dots.data, (chunk @ smallest_t).toarray().ravel()])
        squared = np.maximum(query_sq[rows] + reference_sq[columns] - 2 * products, 0.0)
        nearest, first = _first_of_tied_grouped(np.sqrt(squared), rows, columns, chunk.shape[0])
        found[start : start + chunk.shape[0]] = first
        if by_norm.size < n_reference:  # rows beyond the candidates could tie: look at all
            crowded = np.flatnonzero(np.sqrt(query_sq + beyond) <= _tie_limit(nearest))
            if crowded.size:
                every = euclidean_distances(chunk[crowded], reference)
                found[start + crowded] = _first_of_tied(every, np.arange(n_reference))
    return found


def _row_norms_squared(rows: sparse.csr_matrix) -> np.ndarray:
    return np.asarray(rows.multiply(rows).sum(axis=1), dtype=np.float64).ravel()


def _first_of_tied_grouped(
    distances: np.ndarray, rows: np.ndarray, columns: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """``_first_of_tied`` of candidate lists given as (row, column, distance) triples."""
    nearest = np.full(n_rows, np.inf)
    np.minimum.at(nearest, rows, distances)
    tied = distances <= _tie_limit(nearest)[rows]
    first = np.full(n_rows, _NO_ROW, dtype=np.intp)
    np.minimum.at(first, rows[tied], columns[tied])
    return nearest, first


def index_sample_params(params: Any, indices: np.ndarray, n_samples: int) -> Any:
    """Re-index every per-sample entry (length ``n_samples``) of a routed-params mapping.

    ``params`` is either a flat mapping ``{param: value}`` or the two-level mapping that
    metadata routing builds (``{method: {param: value}}``). Entries that are not
    array-like or do not have one value per sample pass through unchanged (the rule
    scikit-learn uses when it slices fit parameters for cross-validation).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.pipeline._provenance import index_sample_params
    >>> params = {"fit": {"groups": np.array(["a", "b"]), "alpha": 0.1}}
    >>> out = index_sample_params(params, np.array([0, 1, 1]), n_samples=2)
    >>> out["fit"]["groups"].tolist(), out["fit"]["alpha"]
    (['a', 'b', 'b'], 0.1)
    """
    out = type(params)() if isinstance(params, dict) else {}
    for key, value in params.items():
        if isinstance(value, dict):
            out[key] = index_sample_params(value, indices, n_samples)
        elif _is_per_sample(value, n_samples):
            out[key] = _safe_indexing(value, indices)
        else:
            out[key] = value
    return out
