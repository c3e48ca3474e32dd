"""Notes on errors raised by fits inside cross-validation loops: where, and what to try.

An error from a fit deep inside a repeated or nested cross-validation says what went
wrong but not where; :func:`fit_context` adds a note (PEP 678, in ``__notes__`` on
Python 3.10 too; the error keeps its type and message) naming the fold and the class
counts of its training rows, and, for the common failure of neighbour-based
over-samplers on few events, the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from ._compat import add_note

__all__ = ["fit_context"]

_NEIGHBOUR_HINT = (
    "Neighbour-based over-samplers (SMOTE, ADASYN, ...) need more rows of each class "
    "they oversample than k_neighbors in every training fold: lower k_neighbors, use "
    "fewer folds, or use RandomOverSampler (the paper's oversampling, sampling with "
    "replacement)"
)


@contextmanager
def fit_context(where: str, y_train: Any) -> Iterator[None]:
    """Add a note saying ``where`` to any error raised in the block.

    ``y_train``: the labels the block fits on, counted in the note (None: no counts,
    for a block that scores).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls._fit_errors import fit_context
    >>> try:
    ...     with fit_context("fold 2 of 3", np.array([0, 0, 1])):
    ...         raise ValueError("Expected n_neighbors <= n_samples_fit")
    ... except ValueError as error:
    ...     print(error.__notes__[0][:64])
    fold 2 of 3 (training rows per class: 0: 2, 1: 1). Neighbour-bas
    """
    try:
        yield
    except Exception as error:
        add_note(error, _note(where, y_train, error))
        raise


def _note(where: str, y_train: Any, error: Exception) -> str:
    note = where
    labels = np.asarray(y_train)
    if labels.ndim == 1 and type_of_target(labels) in ("binary", "multiclass"):
        counts = pd.Series(labels).value_counts().sort_index()
        note += f" (training rows per class: {', '.join(f'{k}: {n}' for k, n in counts.items())})"
    if "n_neighbors" in str(error):
        note += f". {_NEIGHBOUR_HINT}"
    return note + "."
