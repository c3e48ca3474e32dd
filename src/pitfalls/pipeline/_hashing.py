"""Fast, vectorised 64-bit fingerprints of array rows (exact-duplicate detection).

A row's bytes are cut into 32-bit pieces ``x_0, x_1, ..., x_2k-1`` (``k`` 64-bit words)
and hashed with a multilinear family, ``h = sum_p m_p * x_p  (mod 2**64)``, then mixed
by the splitmix64 finaliser (a bijection, so the top bits of ``h`` are well spread for
the guard's bit filter). The keys come from fixed odd 64-bit numbers drawn from a
splitmix64 stream, so fingerprints are the same in every process and on every
platform.

Speed comes from never touching a 32-bit piece on its own. Reading a row as
little-endian 64-bit words ``w_j = x_2j + 2**32 x_2j+1``, one ``einsum`` gives
``sum_j a_j w_j`` and a second gives ``sum_j b_j v_j`` over the words ``v_j`` that start
4 bytes later (``x_2j+1 + 2**32 x_2j+2``, all but the row's first and last pieces).
The aligned pass runs at memory speed (about 1.5 ms for 100 000 x 50 float64 rows on
one core); the shifted one, which numpy runs through a buffer because its words are
unaligned, reads each chunk of rows from the cache right after the aligned pass:
about 4.5 ms in all, where hashing every word through splitmix64 took 8 to 9 ms. Rows
of 8 to 512 words are hashed faster still (about 3.5 ms) by one ``einsum`` over the
32-bit pieces themselves, each with its total key (below): the same sums.

Collisions. Two rows collide when ``sum_j a_j D_j + sum_j b_j E_j = 0 (mod 2**64)``,
where ``D_j`` and ``E_j`` are the differences of their aligned and shifted words. Every
piece but the last is the low half of one of those words, so if pieces other than the
last differ, some ``D_j`` or ``E_j`` has ``t <= 31`` trailing zero bits, and an odd key
drawn uniformly makes the sum hit zero with probability at most ``2**(t - 63)``:
at most ``2**-32``, and about ``2**-63`` for most real differences (``t = 0``). Rows
that differ in a single piece never collide: that piece's total key (``a_0``,
``a_j + 2**32 b_j-1``, ``2**32 a_j + b_j`` or, for the last piece, ``2**32 a_k-1``) times
a nonzero difference below ``2**32`` is never a multiple of ``2**64``. Rows are compared
by their bytes (``-0.0`` differs from ``0.0``; a NaN matches the same NaN).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = [
    "SCHEME",
    "contains",
    "fingerprints",
    "number_row_hashes",
    "numeric_rows",
    "odd_keys",
    "row_hashes",
    "sparse_row_hashes",
    "splitmix_finalise",
]

# Names the fingerprint function: fingerprints made by another scheme (pitfalls
# 0.1.0.dev0 before this one hashed every word through splitmix64) never match these.
SCHEME = "multilinear-32bit-pieces"

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_WORD = np.dtype("<u8")  # little-endian everywhere: the same fingerprints on any machine
# rows per chunk: the aligned pass pulls a chunk into the L2 cache and the shifted pass
# reads it there (1 MiB chunks: 4.1 ms for 100 000 x 50 float64 rows, 5.3 ms unchunked)
_CHUNK_BYTES = 1 << 20


def _as_words(X: Any) -> np.ndarray:
    """Each row of ``X`` as a C-contiguous row of little-endian uint64 words (zero-padded)."""
    arr = np.asarray(X)
    if arr.dtype.hasobject:
        raise TypeError(
            "Row fingerprints need numeric arrays; got an object array. Encode the "
            "columns as numbers first (for example with OrdinalEncoder)."
        )
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    elif arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    arr = np.ascontiguousarray(arr.reshape(arr.shape[0], int(np.prod(arr.shape[1:]))))
    row_bytes = arr.dtype.itemsize * arr.shape[1]
    raw = arr.view(np.uint8).reshape(arr.shape[0], row_bytes)
    pad = (-row_bytes) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros((arr.shape[0], pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(raw).view(_WORD)


def splitmix_finalise(x: np.ndarray, scratch: np.ndarray) -> None:
    """splitmix64's finaliser (a bijection with full avalanche) on every element, in place.

    ``scratch`` (same shape) takes the shifted copies: a fresh temporary per step would
    cost a page fault per 4 KiB, about as much as the arithmetic.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.pipeline._hashing import splitmix_finalise
    >>> x = np.array([0, 1, 2], dtype=np.uint64)
    >>> splitmix_finalise(x, np.empty_like(x))
    >>> bool(x[0] == 0), len(set(x.tolist()))  # zero stays zero; distinct stay distinct
    (True, 3)
    """
    for shift, multiplier in ((30, _MIX_1), (27, _MIX_2)):
        np.right_shift(x, np.uint64(shift), out=scratch)
        x ^= scratch
        x *= multiplier
    np.right_shift(x, np.uint64(31), out=scratch)
    x ^= scratch


def _odd_keys_at(positions: np.ndarray) -> np.ndarray:
    """The fixed, odd, pseudo-random 64-bit keys at ``positions`` of a splitmix64 stream."""
    with np.errstate(over="ignore"):
        keys = (positions.astype(np.uint64) + np.uint64(1)) * _GOLDEN
        splitmix_finalise(keys, np.empty_like(keys))
    return keys | np.uint64(1)


def odd_keys(n_keys: int) -> np.ndarray:
    """The first ``n_keys`` keys of the stream: the same numbers in every process.

    Examples
    --------
    >>> from pitfalls.pipeline._hashing import odd_keys
    >>> keys = odd_keys(3)
    >>> keys.dtype.name, bool((keys % 2 == 1).all())
    ('uint64', True)
    """
    return _odd_keys_at(np.arange(n_keys))


def _shifted_words(words: np.ndarray) -> np.ndarray:
    """The ``n_words - 1`` words of each row that start 4 bytes after the row's words."""
    n_rows, n_words = words.shape
    return np.ndarray(
        (n_rows, n_words - 1), dtype=_WORD, buffer=words, offset=4, strides=(words.strides[0], 8)
    )


def _keyed_row_sums(
    words: np.ndarray, keys: np.ndarray, out: np.ndarray, scratch: np.ndarray
) -> None:
    """``out[i] = sum_j keys[j] * words[i, j]`` modulo ``2**64`` (``scratch``: like ``out``)."""
    if words.shape[1] >= 8:
        np.einsum("ij,j->i", words, keys, out=out)
        return
    # einsum loops once per row: on a few words per row (key columns), whole-column
    # multiply-adds are several times faster
    np.multiply(words[:, 0], keys[0], out=out)
    for column in range(1, words.shape[1]):
        np.multiply(words[:, column], keys[column], out=scratch)
        out += scratch


def row_hashes(X: Any) -> np.ndarray:
    """Return one 64-bit fingerprint per row of ``X`` (any numeric dtype, 1-D to N-D).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Rows to fingerprint; trailing dimensions (image pixels) are flattened.

    Returns
    -------
    ndarray of uint64, shape (n_samples,)
        Byte-identical rows get equal fingerprints (so ``-0.0`` and ``0.0`` differ,
        and a NaN matches the same NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.pipeline._hashing import row_hashes
    >>> h = row_hashes(np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 2.0]]))
    >>> bool(h[0] == h[2]), bool(h[0] == h[1])
    (True, False)
    """
    column_major = _column_major_words(X)
    if column_major is not None:
        return _column_major_row_hashes(column_major)
    words = _as_words(X)
    if _PIECE_EINSUM_MIN_WORDS <= words.shape[1] <= _PIECE_EINSUM_MAX_WORDS:
        out = _piece_row_sums(words)
    else:
        out = _word_row_sums(words)
    with np.errstate(over="ignore"):
        splitmix_finalise(out, np.empty_like(out))
    return out


# Rows of 8 to 512 words (100 000 x 50 float64: 3.5 ms instead of 4.5 ms) take one
# einsum over their 32-bit pieces; shorter rows are summed a column at a time, longer
# ones (images) through the aligned and shifted words, which read them once from memory.
_PIECE_EINSUM_MIN_WORDS = 8
_PIECE_EINSUM_MAX_WORDS = 512


def _piece_row_sums(words: np.ndarray) -> np.ndarray:
    """The multilinear sums of the rows' 32-bit pieces, in one einsum.

    numpy widens the pieces to 64 bits a buffer at a time; each piece gets its total
    key (see :func:`_piece_keys`), so the sums equal those of :func:`_word_row_sums`.
    """
    n_words = words.shape[1]
    low, high = _piece_keys(np.arange(n_words), n_words)
    keys = np.empty(2 * n_words, dtype=np.uint64)
    keys[0::2], keys[1::2] = low, high
    with np.errstate(over="ignore"):
        return np.einsum("ij,j->i", words.view("<u4"), keys)


def _word_row_sums(words: np.ndarray) -> np.ndarray:
    """``sum_j a_j w_j + sum_j b_j v_j`` of each row (the aligned and shifted words)."""
    n_rows, n_words = words.shape
    out = np.zeros(n_rows, dtype=np.uint64)
    scratch = np.empty_like(out)  # for the shifted words' sums
    if n_rows and n_words:
        keys = odd_keys(2 * n_words - 1)
        chunk = max(1, _CHUNK_BYTES // (8 * n_words))
        # room for one column's terms, for the column-wise sums of 2 to 7 words (with
        # n_words <= 8, one of the two passes takes them); one word needs none
        term = np.empty(min(chunk, n_rows) if 1 < n_words <= 8 else 0, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for start in range(0, n_rows, chunk):
                rows = slice(start, start + chunk)
                chunk_term = term[: len(out[rows])]
                _keyed_row_sums(words[rows], keys[:n_words], out[rows], chunk_term)
                if n_words > 1:  # the chunk is in the cache now: read it there
                    shifted = _shifted_words(words[rows])
                    _keyed_row_sums(shifted, keys[n_words:], scratch[rows], chunk_term)
                    out[rows] += scratch[rows]
    return out


# Column-major rows (a DataFrame's values) are hashed column by column rather than
# copied to row-major order first (5 ms instead of 12 ms for 100 000 x 50). Up to this
# many columns: the loop makes three numpy calls per column.
_COLUMN_MAJOR_MAX_COLUMNS = 512


def _column_major_words(X: Any) -> np.ndarray | None:
    """``X`` as 64-bit words when it is an 8-byte table stored column by column.

    A DataFrame's values are such a table (each column contiguous, the columns possibly
    far apart when the frame is a slice of a larger one).
    """
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype.itemsize != 8:
        return None
    if X.flags.c_contiguous or X.strides[0] != 8 or X.dtype.hasobject:
        return None
    if not 1 < X.shape[1] <= _COLUMN_MAJOR_MAX_COLUMNS:
        return None
    return X.view(_WORD)


def _column_major_row_hashes(words: np.ndarray) -> np.ndarray:
    """``row_hashes`` of column-major words, a column at a time.

    With ``w = lo + 2**32 hi``, the pieces' keys fold into one key per word (each word's
    low-piece key) plus ``b_j`` times each word's high piece ``w_j >> 32``.
    """
    n_rows, n_words = words.shape
    low_keys, _ = _piece_keys(np.arange(n_words), n_words)
    shifted_keys = odd_keys(2 * n_words - 1)[n_words:]
    out = np.einsum("ij,j->i", words, low_keys)
    high = np.empty(n_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in range(n_words - 1):
            np.right_shift(words[:, column], np.uint64(32), out=high)
            high *= shifted_keys[column]
            out += high
        splitmix_finalise(out, high)
    return out


def _piece_keys(word: np.ndarray, n_words: int) -> tuple[np.ndarray, np.ndarray]:
    """Total keys of the low and high 32-bit pieces of the words at positions ``word``.

    In ``row_hashes`` word ``j`` gets ``a_j`` and the shifted words ``b_j-1`` (its low
    piece is their high half) and ``b_j`` (its high piece is their low half); the keys
    are ``a = keys[:n_words]`` and ``b = keys[n_words:]`` of the stream.
    """
    a = _odd_keys_at(word)
    b_before = np.where(word >= 1, _odd_keys_at(n_words + word - 1), np.uint64(0))
    b_after = np.where(word < n_words - 1, _odd_keys_at(n_words + word), np.uint64(0))
    with np.errstate(over="ignore"):
        return a + (b_before << np.uint64(32)), (a << np.uint64(32)) + b_after


def sparse_row_hashes(X: Any) -> np.ndarray:
    """``row_hashes`` of the dense float64 rows of a SciPy sparse matrix, from its nonzeros.

    A zero piece adds nothing to the multilinear sum, so each stored value adds its two
    pieces times their keys: the result equals ``row_hashes(X.toarray().astype(float))``
    (where a stored ``-0.0`` reads ``0.0``) in time and memory proportional to the
    stored values.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from pitfalls.pipeline._hashing import row_hashes, sparse_row_hashes
    >>> dense = np.array([[0.0, 2.5, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, -3.0]])
    >>> bool((sparse_row_hashes(sparse.csr_matrix(dense)) == row_hashes(dense)).all())
    True
    """
    csr = sparse.csr_array(X)
    if not csr.has_canonical_format:  # duplicates add up in the dense rows: sum them
        csr = csr.copy()
        csr.sum_duplicates()
    n_rows, n_columns = csr.shape
    out = np.zeros(n_rows, dtype=np.uint64)
    if n_columns and csr.nnz:
        # + 0.0: a stored -0.0 is +0.0 in the dense rows (toarray adds it to a zero)
        words = (csr.data.astype(np.float64) + 0.0).view(_WORD)
        if n_columns <= csr.nnz:  # a key per column, then one per stored value
            column_low, column_high = _piece_keys(np.arange(n_columns), n_columns)
            low_keys, high_keys = column_low[csr.indices], column_high[csr.indices]
        else:  # very wide rows (text, radiomics bins): keys of the stored columns only
            low_keys, high_keys = _piece_keys(csr.indices.astype(np.int64), n_columns)
        with np.errstate(over="ignore"):
            terms = low_keys * (words & np.uint64(0xFFFFFFFF))
            terms += high_keys * (words >> np.uint64(32))
            running = np.concatenate([np.zeros(1, np.uint64), np.cumsum(terms, dtype=np.uint64)])
            out = running[csr.indptr[1:]] - running[csr.indptr[:-1]]
    with np.errstate(over="ignore"):
        splitmix_finalise(out, np.empty_like(out))
    return out


# Numbers are compared as float64. Other dtypes are converted a block of rows at a time,
# so that uint8 images, say, never need a float64 copy eight times their size.
_CONVERSION_BLOCK_BYTES = 1 << 24


def number_row_hashes(rows: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """``row_hashes`` of 2-D numeric ``rows`` (or of ``rows[which]``) read as float64.

    Converted and gathered a block at a time: the memory used stays bounded.
    """
    if which is None and rows.dtype == np.float64:
        return row_hashes(rows)
    n_rows = rows.shape[0] if which is None else which.size
    block = max(1, _CONVERSION_BLOCK_BYTES // (8 * max(rows.shape[1], 1)))
    hashes = []
    for start in range(0, n_rows, block):
        part = rows[start : start + block] if which is None else rows[which[start : start + block]]
        hashes.append(row_hashes(part.astype(np.float64, copy=False)))
    return np.concatenate(hashes) if hashes else np.empty(0, dtype=np.uint64)


def fingerprints(X: Any) -> np.ndarray:
    """Row fingerprints of numeric arrays (any dimension) and of tables of any dtypes.

    Numbers are compared as float64, so an integer row and the same row stored as
    floats match (and a sparse row its dense form); non-numeric tables are hashed by
    pandas, cell by cell.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from pitfalls.pipeline._hashing import fingerprints
    >>> same = fingerprints(np.array([[1, 2], [3, 4]])) == fingerprints(np.array([[1.0, 2.0]]))[0]
    >>> same.tolist()
    [True, False]
    >>> table = pd.DataFrame({"age": [61, 61], "site": ["A", "B"]})
    >>> bool(fingerprints(table)[0] == fingerprints(table)[1])
    False
    """
    if sparse.issparse(X):
        return sparse_row_hashes(X)
    rows = numeric_rows(X)
    if rows is not None:
        return number_row_hashes(rows)
    if isinstance(X, pd.DataFrame):
        return pd.util.hash_pandas_object(X, index=False).to_numpy(dtype=np.uint64)
    arr = np.asarray(X)
    table = pd.DataFrame(arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr)
    return pd.util.hash_pandas_object(table, index=False).to_numpy(dtype=np.uint64)


def numeric_rows(X: Any) -> np.ndarray | None:
    """``X`` as a 2-D numeric array of flattened rows, or None for non-numeric data.

    Integer and boolean arrays keep their dtype (callers convert only the parts they
    hash to float64); object arrays are converted to float64 when they can be.
    """
    if isinstance(X, pd.DataFrame) and not all(
        pd.api.types.is_numeric_dtype(dtype) for dtype in X.dtypes
    ):
        return None
    if sparse.issparse(X):  # hashed from its nonzeros (fingerprints), in one stage
        return None
    arr = np.asarray(X)
    if arr.dtype.kind == "c":  # complex: compared cell by cell, never cast to real
        return None
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):  # strings or mixed objects
            return None
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    if arr.ndim == 1:
        return arr.reshape(-1, 1)
    return arr.reshape(arr.shape[0], int(np.prod(arr.shape[1:])))


def contains(reference: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``query`` fingerprints occur in ``reference`` (hash-table lookup).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.pipeline._hashing import contains
    >>> contains(np.array([1, 5], dtype=np.uint64), np.array([5, 6], dtype=np.uint64)).tolist()
    [True, False]
    """
    # pandas' hash table beats np.isin's sort-based search on large uint64 arrays.
    return pd.Series(query, copy=False).isin(reference).to_numpy(dtype=bool)
