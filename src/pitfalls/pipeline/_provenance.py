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
   distance over the numeric columns (sparse rows stay sparse). A SMOTE row lies on the segment between a seed sample and
   one of its neighbours, so this is whichever of the two it lies closer to. SMOTENC
   interpolates the numeric columns the same way but gives the categorical ones the
   neighbours' most common value, so categories are left out of the distance; only a
   table with no numeric column (SMOTEN) is compared on its one-hot encoded categories.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.neighbors import NearestNeighbors

from .._compat import is_arraylike_not_scalar as _is_arraylike_not_scalar
from .._compat import num_samples as _num_samples
from .._compat import safe_indexing as _safe_indexing
from ._hashing import fingerprints, numeric_rows

__all__ = ["index_sample_params", "source_indices"]

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
    known = getattr(sampler, "sample_indices_", None)
    if known is not None and len(known) == _num_samples(X_out):
        return np.asarray(known, dtype=np.intp)

    result = _first_equal_rows(X_in, y_in, X_out, y_out)
    unmatched = np.flatnonzero(result < 0)
    if unmatched.size:
        rows_in, rows_out = _search_space(X_in, X_out)
        result[unmatched] = _nearest_same_class(
            rows_in, y_in, rows_out[unmatched], y_out, unmatched
        )
    return result


def _first_equal_rows(X_in: Any, y_in: Any, X_out: Any, y_out: Any) -> np.ndarray:
    """For each output row, the first input row equal to it and of its class, or -1."""
    hash_in, hash_out = fingerprints(X_in), fingerprints(X_out)
    if y_in is not None and y_out is not None:
        # a synthetic row can equal a row of another class (SMOTEN on few categories):
        # its source is of its own class, so the label is part of what must match
        labels = np.concatenate([np.asarray(y_in).ravel(), np.asarray(y_out).ravel()])
        codes = np.unique(labels, return_inverse=True)[1].astype(np.uint64)
        with np.errstate(over="ignore"):
            hash_in = hash_in * _LABEL_MIX + codes[: hash_in.size]
            hash_out = hash_out * _LABEL_MIX + codes[hash_in.size :]
    found = np.full(hash_out.shape, -1, dtype=np.intp)
    if hash_in.size:
        order = np.argsort(hash_in, kind="stable")  # equal rows keep their input order
        sorted_hashes = hash_in[order]
        pos = np.minimum(np.searchsorted(sorted_hashes, hash_out), hash_in.size - 1)
        hit = sorted_hashes[pos] == hash_out
        found[hit] = order[pos[hit]]
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
    rows_in: Any, y_in: Any, rows_new: Any, y_out: Any, new_positions: np.ndarray
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
        wanted = y_new == label
        found[wanted] = candidates[_first_nearest(rows_in[candidates], rows_new[wanted])]
    return found


# Equally near rows (to rounding) are told apart by their order, not by how the search
# happened to visit them: dense and sparse rows then get the same sources.
_TIE_NEIGHBOURS = 4


def _first_nearest(reference: Any, queries: Any) -> np.ndarray:
    """For each query row, the first of the reference rows nearest to it."""
    n_neighbours = min(_TIE_NEIGHBOURS, reference.shape[0])
    search = NearestNeighbors(n_neighbors=n_neighbours).fit(reference)
    distances, positions = search.kneighbors(queries)
    tied = distances <= distances[:, :1] * (1 + 1e-9) + 1e-12
    return np.where(tied, positions, np.iinfo(np.intp).max).min(axis=1)


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
        elif _is_arraylike_not_scalar(value) and _num_samples(value) == n_samples:
            out[key] = _safe_indexing(value, indices)
        else:
            out[key] = value
    return out
