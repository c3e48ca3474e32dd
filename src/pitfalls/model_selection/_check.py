"""Check that no group (patient) has samples on more than one side of a split."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.metadata_routing import get_routing_for_object

from .._validation import check_groups, describe_values
from ..exceptions import GroupLeakageError
from ._assign import encode

__all__ = ["check_group_disjoint", "describe_splitter", "split_by_group_checked"]


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
    shared = _shared_groups(encode(check_groups(groups)), index_arrays)
    if shared.size:
        raise GroupLeakageError(
            f"{shared.size} group(s) have samples in more than one split: "
            f"{describe_values(shared)}. Split by group (e.g. "
            "pitfalls.model_selection.StratifiedGroupKFold or train_val_test_split) so "
            "that each patient is on one side only.",
            shared_groups=shared.tolist(),
        )


def _shared_groups(
    encoded: tuple[np.ndarray, np.ndarray], index_arrays: Sequence[Any]
) -> np.ndarray:
    """The groups with samples in more than one of ``index_arrays``.

    ``encoded``: ``encode(groups)``, the group code of each sample and the groups.
    """
    codes, uniques = encoded
    splits_holding = np.zeros(uniques.size, dtype=np.intp)
    for position, index_array in enumerate(index_arrays):
        indices = _as_indices(index_array, codes.shape[0], position)
        present = np.zeros(uniques.size, dtype=bool)
        present[codes[indices]] = True
        splits_holding += present
    return uniques[splits_holding > 1]


def describe_splitter(name: str, cv: Any) -> str:
    """``name=repr(cv)`` for error messages, short even for a splitter holding arrays."""
    text = repr(cv)
    if len(text) > 80:
        text = f"{type(cv).__name__}(...)"
    return f"{name}={text}"


def split_by_group_checked(
    splitter: Any, X: Any, y: Any, groups: Any, *, described: str, where: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``list(splitter.split(X, y, groups))``, refused when it cannot keep patients apart.

    With ``groups``, every fold is checked to be patient-disjoint (a splitter that
    ignores groups, such as ``StratifiedKFold``, fails here, before any fit); without
    them, a splitter that needs groups gets this error instead of its own bare one.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import KFold
    >>> from pitfalls.model_selection._check import split_by_group_checked
    >>> X, groups = np.zeros((4, 1)), np.array(["a", "a", "b", "b"])
    >>> split_by_group_checked(KFold(2), X, None, groups, described="cv=KFold(2)",
    ...                        where="the outer loop")
    [(array([2, 3]), array([0, 1])), (array([0, 1]), array([2, 3]))]
    >>> split_by_group_checked(KFold(4), X, None, groups, described="cv=KFold(4)",
    ...                        where="the outer loop")
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.GroupLeakageError: cv=KFold(4) ignores groups: fold 1 of the outer loop has 1 patient(s) on both sides ('a'). Use a group-aware splitter such as StratifiedGroupKFold(3, shuffle=True), GroupShuffleSplit or RepeatedStratifiedGroupKFold.
    """
    if groups is None:
        if get_routing_for_object(splitter).consumes("split", ["groups"]):
            raise ValueError(
                f"{described} splits by patient, but groups=None; pass groups (one patient "
                "id per sample)."
            )
        return list(splitter.split(X, y))
    with warnings.catch_warnings():  # scikit-learn's "groups ... ignored": said below
        warnings.filterwarnings("ignore", message="The groups parameter is ignored")
        folds = list(splitter.split(X, y, groups))
    encoded = encode(np.asarray(groups))  # once for all folds
    for fold, (train, test) in enumerate(folds, start=1):
        shared = _shared_groups(encoded, (train, test))
        if shared.size:
            raise GroupLeakageError(
                f"{described} ignores groups: fold {fold} of {where} has {shared.size} "
                f"patient(s) on both sides ({describe_values(shared)}). Use a group-aware "
                "splitter such as StratifiedGroupKFold(3, shuffle=True), GroupShuffleSplit "
                "or RepeatedStratifiedGroupKFold.",
                shared_groups=shared.tolist(),
            )
    return folds
