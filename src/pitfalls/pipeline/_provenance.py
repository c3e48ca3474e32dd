"""Where each row produced by a sampler came from (its source row in the sampler's input).

Knowing the source row lets groups (patient ids) and any per-sample metadata follow
resampling, so that a duplicated or synthetic row keeps its patient.

The rule, in order:

1. the sampler's own ``sample_indices_`` (imbalanced-learn's ``RandomOverSampler``,
   the under-samplers, :class:`~pitfalls.pipeline.AugmentationSampler`);
2. otherwise an output row byte-identical to an input row comes from that row (the
   original rows kept by SMOTE-like over-samplers, the rows kept by cleaning samplers);
3. otherwise (a synthetic row: SMOTE, ADASYN, cluster centroids) the row comes from its
   nearest input row (Euclidean distance) of the same class. A SMOTE row lies on the
   segment between a seed sample and one of its neighbours, so this is whichever of
   the two it lies closer to.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _is_arraylike_not_scalar, _num_samples

from ._hashing import row_hashes

__all__ = ["index_sample_params", "source_indices"]


def _dense_rows(X: Any) -> np.ndarray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    arr = np.asarray(X)
    return arr.reshape(arr.shape[0], -1)


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
    n_in, n_out = _num_samples(X_in), _num_samples(X_out)
    known = getattr(sampler, "sample_indices_", None)
    if known is not None and len(known) == n_out:
        return np.asarray(known, dtype=np.intp)

    rows_in, rows_out = _dense_rows(X_in), _dense_rows(X_out)
    result = np.full(n_out, -1, dtype=np.intp)
    if rows_in.dtype == rows_out.dtype and rows_in.shape[1] == rows_out.shape[1]:
        hash_in, hash_out = row_hashes(rows_in), row_hashes(rows_out)
        # first input row carrying each fingerprint
        order = np.argsort(hash_in, kind="stable")
        sorted_hashes = hash_in[order]
        pos = np.searchsorted(sorted_hashes, hash_out)
        pos_clipped = np.minimum(pos, max(n_in - 1, 0))
        hit = (pos < n_in) & (sorted_hashes[pos_clipped] == hash_out) if n_in else pos < 0
        result[hit] = order[pos_clipped[hit]]

    unmatched = np.flatnonzero(result < 0)
    if unmatched.size:
        result[unmatched] = _nearest_same_class(
            rows_in, y_in, rows_out[unmatched], y_out, unmatched
        )
    return result


def _nearest_same_class(
    rows_in: np.ndarray, y_in: Any, rows_new: np.ndarray, y_out: Any, new_positions: np.ndarray
) -> np.ndarray:
    found = np.empty(len(rows_new), dtype=np.intp)
    if y_in is None or y_out is None:
        return NearestNeighbors(n_neighbors=1).fit(rows_in).kneighbors(rows_new)[1][:, 0]
    y_in_arr = np.asarray(y_in)
    y_new = np.asarray(y_out)[new_positions]
    for label in np.unique(y_new):
        candidates = np.flatnonzero(y_in_arr == label)
        if candidates.size == 0:  # a class the sampler invented: fall back to all rows
            candidates = np.arange(len(rows_in))
        wanted = y_new == label
        nearest = NearestNeighbors(n_neighbors=1).fit(rows_in[candidates])
        found[wanted] = candidates[nearest.kneighbors(rows_new[wanted])[1][:, 0]]
    return found


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
