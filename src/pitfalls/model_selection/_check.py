"""Check that no group (patient) has samples on more than one side of a split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_groups, describe_values
from ..exceptions import GroupLeakageError
from ._assign import encode

__all__ = ["check_group_disjoint"]


def _as_indices(index_array: Any, n_samples: int, position: int) -> np.ndarray:
    """Integer positions from an index array or a boolean mask of length n_samples."""
    if pd.api.types.is_bool_dtype(index_array) and pd.isna(index_array).any():
        raise ValueError(
            f"index_arrays[{position}] is a boolean mask with missing values; "
            "fill them (True or False) first."
        )
    arr = np.asarray(index_array)
    if arr.dtype == object and arr.size:
        # pandas nullable dtypes ("boolean", "Int64") arrive as objects
        if pd.api.types.is_bool_dtype(index_array):
            arr = arr.astype(bool)
        elif pd.api.types.is_integer_dtype(index_array):
            arr = arr.astype(np.int64)
    if arr.ndim != 1:
        raise ValueError(
            f"index_arrays[{position}] must be 1-D (integer positions or a boolean mask); "
            f"got shape {arr.shape}."
        )
    if arr.dtype == bool:
        if arr.size != n_samples:
            raise ValueError(
                f"index_arrays[{position}] is a boolean mask of length {arr.size} but "
                f"groups has {n_samples} entries; give one flag per sample."
            )
        return np.flatnonzero(arr)
    if arr.size == 0:
        return arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise ValueError(
            f"index_arrays[{position}] must hold integer positions or booleans; "
            f"got dtype {arr.dtype}."
        )
    out_of_range = arr[(arr < 0) | (arr >= n_samples)]
    if out_of_range.size:
        raise ValueError(
            f"index_arrays[{position}] has position(s) {describe_values(out_of_range)} "
            f"outside [0, {n_samples}) for {n_samples} samples."
        )
    return arr


def check_group_disjoint(groups: Any, *index_arrays: Any) -> None:
    """Raise if any group (patient) has samples in more than one of the index arrays.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Group (patient) of each sample.
    *index_arrays : array-like
        Two or more splits, e.g. ``train_idx, val_idx, test_idx``. Each is an array
        of integer positions into ``groups`` or a boolean mask of length
        ``n_samples``.

    Returns
    -------
    None
        When the splits share no group.

    Raises
    ------
    GroupLeakageError
        Naming up to 10 shared groups and how many there are; its
        ``shared_groups`` attribute lists all of them.
    ValueError
        If fewer than two index arrays are given or one is malformed.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection import check_group_disjoint
    >>> groups = np.array(["p1", "p1", "p2", "p3"])
    >>> check_group_disjoint(groups, [0, 1], [2, 3])
    >>> check_group_disjoint(groups, [0, 2], [1, 3])
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.GroupLeakageError: 1 group(s) have samples in more than one split: 'p1'. Split by group (e.g. pitfalls.model_selection.StratifiedGroupKFold or train_val_test_split) so that each patient is on one side only.
    """
    if len(index_arrays) < 2:
        raise ValueError(
            f"check_group_disjoint needs at least two index arrays (e.g. train and test); "
            f"got {len(index_arrays)}."
        )
    groups = check_groups(groups)
    codes, uniques = encode(groups)
    splits_holding = np.zeros(uniques.size, dtype=np.intp)
    for position, index_array in enumerate(index_arrays):
        indices = _as_indices(index_array, groups.shape[0], position)
        present = np.zeros(uniques.size, dtype=bool)
        present[codes[indices]] = True
        splits_holding += present
    shared = uniques[splits_holding > 1]
    if shared.size:
        raise GroupLeakageError(
            f"{shared.size} group(s) have samples in more than one split: "
            f"{describe_values(shared)}. Split by group (e.g. "
            "pitfalls.model_selection.StratifiedGroupKFold or train_val_test_split) so "
            "that each patient is on one side only.",
            shared_groups=shared.tolist(),
        )
