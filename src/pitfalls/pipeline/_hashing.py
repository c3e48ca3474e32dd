"""Fast, vectorised 64-bit fingerprints of array rows (exact-duplicate detection).

Each row's bytes are read as 64-bit words; every word is xored with a pseudo-random
salt of its column and goes through the splitmix64 finaliser (full avalanche: equal
values in different columns, or differences confined to the sign or exponent bits of a
float, still change every output bit), the mixed words are summed, and the sum is
mixed once more. (A single multiply-xorshift round is not enough: sign-bit flips in two
columns cancelled in the sum, as a hypothesis test found; so is any mixer with one
multiply, where flipping bit 63 together with a fixed lower bit of two columns cancels
for every value or for half of them.) The work runs in chunks of rows that stay in the
L2 cache, and the row sums use ``np.einsum``, about 2.5 times faster than
``sum(axis=1)`` on short uint64 rows: about 9 ms for 100 000 x 50 float64 rows on one
core. Rows are compared by their bytes. Two different rows collide with probability
about ``2**-64``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["contains", "row_hashes"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
# rows per chunk chosen so that a chunk's words and its scratch copy stay in L2 cache
# (measured best at 128-256 KiB on a 1 MiB L2; 1 MiB chunks were ~25% slower)
_CHUNK_BYTES = 1 << 18


def _as_words(X: Any) -> np.ndarray:
    """View each row of ``X`` as a row of uint64 words (zero-padded to a multiple of 8 bytes)."""
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
    return np.ascontiguousarray(raw).view(np.uint64)


def _splitmix_inplace(x: np.ndarray, scratch: np.ndarray) -> None:
    """splitmix64's finaliser on every element of ``x`` (full avalanche), in place."""
    for shift, multiplier in ((30, _MIX_1), (27, _MIX_2)):
        np.right_shift(x, np.uint64(shift), out=scratch)
        np.bitwise_xor(x, scratch, out=x)
        np.multiply(x, multiplier, out=x)
    np.right_shift(x, np.uint64(31), out=scratch)
    np.bitwise_xor(x, scratch, out=x)


def _column_salts(n_words: int) -> np.ndarray:
    """A distinct pseudo-random 64-bit salt per word position (splitmix64 sequence)."""
    with np.errstate(over="ignore"):
        salt = np.arange(1, n_words + 1, dtype=np.uint64) * _GOLDEN
        salt ^= salt >> np.uint64(30)
        salt *= _MIX_1
        salt ^= salt >> np.uint64(27)
        salt *= _MIX_2
        salt ^= salt >> np.uint64(31)
    return salt


def _row_sums(m: np.ndarray, out: np.ndarray) -> None:
    """Row sums of a uint64 array (wrapping modulo 2**64), into ``out``."""
    if m.shape[1] >= 8:
        # einsum: about 2.5 times faster than sum(axis=1) on rows of tens of words
        np.einsum("ij->i", m, out=out)
    elif m.shape[1] == 0:
        out.fill(0)
    else:  # few columns: whole-column adds beat both per-row loops
        np.copyto(out, m[:, 0])
        for column in range(1, m.shape[1]):
            np.add(out, m[:, column], out=out)


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
    words = _as_words(X)
    n_rows, n_words = words.shape
    out = np.empty(n_rows, dtype=np.uint64)
    if n_rows == 0:
        return out
    chunk = max(1, _CHUNK_BYTES // (8 * max(n_words, 1)))
    # the salts repeated for every row of a chunk: xoring two arrays of one shape runs
    # as one flat loop, where a broadcast (n_words,) row would loop row by row
    salts = np.tile(_column_salts(n_words), (min(chunk, n_rows), 1))
    mixed = np.empty_like(salts)
    shifted = np.empty_like(mixed)
    with np.errstate(over="ignore"):
        for start in range(0, n_rows, chunk):
            block = words[start : start + chunk]
            m, s = mixed[: len(block)], shifted[: len(block)]
            np.bitwise_xor(block, salts[: len(block)], out=m)
            _splitmix_inplace(m, s)
            _row_sums(m, out[start : start + len(block)])
        out ^= out >> np.uint64(30)
        out *= _MIX_2
        out ^= out >> np.uint64(31)
    return out


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
