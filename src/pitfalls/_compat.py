"""Everything that depends on the version of another library, in one place.

Each shim names the versions it was checked on. When a floor in ``pyproject.toml``
rises past the version a shim serves, the shim goes (``constraints-min.txt`` pins the
floors; ``bin/test`` runs the core test suite there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["add_note", "bitwise_count"]

# --------------------------------------------------------------------------------------
# Version shims for the declared floors: Python 3.10, numpy 1.26, scipy 1.11, pandas 2.1,
# scikit-learn 1.6, imbalanced-learn 0.13 (constraints-min.txt; bin/test-floors)
# --------------------------------------------------------------------------------------


def add_note(error: BaseException, note: str) -> None:
    """Attach ``note`` to ``error`` as ``error.add_note`` does (PEP 678, Python 3.11+).

    Python 3.10 has no ``add_note``; there the note goes into ``error.__notes__`` all
    the same, so code (and tests) read it alike on every supported Python; only 3.10's
    traceback does not print it. Checked on Python 3.10.13, 3.11.7 and 3.12.1.

    Examples
    --------
    >>> from pitfalls._compat import add_note
    >>> error = ValueError("boom")
    >>> add_note(error, "in fold 2 of 5")
    >>> error.__notes__
    ['in fold 2 of 5']
    """
    if hasattr(error, "add_note"):
        error.add_note(note)
        return
    notes = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        error.__notes__ = notes
    notes.append(note)


# Number of set bits of every byte value, for numpy < 2.0 (no np.bitwise_count).
_BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


def _bitwise_count_by_bytes(x: Any) -> Any:
    values = np.asarray(x)
    if values.dtype.kind not in "ui":
        raise TypeError(
            f"bitwise_count needs integers; got dtype {values.dtype}; "
            "pass an unsigned integer array (e.g. hashes as uint64)."
        )
    if values.dtype.kind == "i":  # numpy counts the bits of the absolute value
        values = np.abs(values).astype(values.dtype.str.replace("i", "u"))
    as_bytes = np.ascontiguousarray(values).reshape(-1).view(np.uint8)
    counts = _BYTE_POPCOUNT[as_bytes.reshape(-1, values.dtype.itemsize)].sum(axis=1, dtype=np.uint8)
    counts = counts.reshape(values.shape)
    return counts[()] if counts.ndim == 0 else counts


def bitwise_count(x: Any) -> Any:
    """Number of 1-bits of each integer, as ``np.bitwise_count`` (numpy >= 2.0).

    numpy 1.26 (our floor) has no ``np.bitwise_count``; there the bits are counted
    byte by byte through a 256-entry table. Same dtype (uint8), shape and values as
    numpy's; checked on numpy 1.26.0 (table) and 2.4.6 (numpy's own).

    Parameters
    ----------
    x : array-like of int
        Integers (the audit passes uint64 hashes and their XORs).

    Returns
    -------
    numpy.ndarray of uint8, or a numpy scalar for a scalar input

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls._compat import bitwise_count
    >>> bitwise_count(np.array([0, 1, 255, 2**64 - 1], dtype=np.uint64)).tolist()
    [0, 1, 8, 64]
    """
    return _BITWISE_COUNT(x)


_BITWISE_COUNT = getattr(np, "bitwise_count", _bitwise_count_by_bytes)
