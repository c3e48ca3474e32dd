"""One grouped, stratified train/validation/test split, for arrays or a manifest."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils.validation import _num_samples

from .._manifest import ManifestError, check_columns, read_manifest
from .._validation import check_groups, describe_values
from ..exceptions import GroupLeakageError
from ._assign import assign_groups_to_bins, encode, group_stratum_counts
from ._split import _check_labels

__all__ = ["assign_splits", "train_val_test_split"]


def _check_fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a float in [0, 1), the fraction of samples; got {value!r}."
        )
    fraction = float(value)
    if not 0 <= fraction < 1:
        raise ValueError(
            f"{name}={value!r} should be in [0, 1); it is the fraction of samples "
            "(not of groups) in that split."
        )
    return fraction


def _split_samples(
    groups: Any,
    strata: Sequence[Any],
    weights: np.ndarray,
    random_state: Any,
    *,
    names: Sequence[str],
) -> np.ndarray:
    """Bin index of every sample: whole groups per bin, each stratum split by ``weights``.

    The shared core of :func:`train_val_test_split` and :func:`assign_splits`.
    Zero-weight bins stay empty. ``strata`` are label-like arrays (class, site); each
    is balanced across the bins on its own.
    """
    group_codes, group_ids = encode(groups)
    used = np.flatnonzero(weights > 0)
    if group_ids.size < used.size:
        requested = ", ".join(names[int(i)] for i in used)
        raise ValueError(
            f"groups has {group_ids.size} distinct group(s), fewer than the "
            f"{used.size} non-empty splits requested ({requested}); every split needs "
            "at least one group."
        )
    # One block of count columns per stratifying variable: the bins then match each
    # variable's marginal distribution (label and site separately), which stays
    # possible when their combinations are too rare to split.
    blocks = [group_stratum_counts(group_codes, encode(values)[0]) for values in strata]
    if not blocks:
        blocks.append(np.bincount(group_codes)[:, None])
    counts = np.hstack(blocks)
    rng = check_random_state(random_state)
    bin_of_group = assign_groups_to_bins(counts, weights[used], rng=rng)
    return used[bin_of_group][group_codes]


def train_val_test_split(
    *arrays: Any,
    groups: Any,
    stratify: Any = None,
    val_size: float = 0.15,
    test_size: float = 0.15,
    random_state: Any = None,
) -> list[Any]:
    """Split arrays into train, validation and test sets, keeping each group on one side.

    The grouped, stratified counterpart of
    :func:`sklearn.model_selection.train_test_split` with a validation set: all
    samples of a group (patient) land in the same split, the split sizes are
    fractions of *samples* (not of groups), and with ``stratify`` every class is
    divided in the same proportions as far as the groups allow.

    Parameters
    ----------
    *arrays : sequence of indexables with the same length
        Lists, numpy arrays, scipy-sparse matrices or pandas DataFrames/Series.
    groups : array-like of shape (n_samples,)
        Group (patient) of each sample; required, no missing values.
    stratify : array-like of shape (n_samples,), default=None
        Class labels to stratify on.
    val_size : float, default=0.15
        Fraction of samples in the validation split, in ``[0, 1)``. ``0`` gives an
        empty validation split (a grouped train/test split).
    test_size : float, default=0.15
        Fraction of samples in the test split, in ``[0, 1)``.
        ``val_size + test_size`` must be below 1.
    random_state : int, RandomState instance or None, default=None
        Controls which groups go where. Pass an int for reproducible output.

    Returns
    -------
    splitting : list, length ``3 * len(arrays)``
        ``[a_train, a_val, a_test, b_train, b_val, b_test, ...]``, each of the input
        type. Rows keep their original order (unlike ``train_test_split``, which
        shuffles them), so a patient's rows stay together.

    Raises
    ------
    ValueError
        If sizes are out of range, lengths differ, ``groups`` has missing values or
        fewer distinct groups than non-empty splits.

    See Also
    --------
    assign_splits : The same split written as a column of a manifest.
    check_group_disjoint : Verify that no group crosses splits.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection import train_val_test_split
    >>> X = np.arange(20).reshape(10, 2)
    >>> y = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0, 1])
    >>> groups = np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 6])
    >>> X_train, X_val, X_test, g_train, g_val, g_test = train_val_test_split(
    ...     X, groups, groups=groups, stratify=y, val_size=0.2, test_size=0.2, random_state=0
    ... )
    >>> len(X_train), len(X_val), len(X_test)
    (6, 2, 2)
    >>> set(g_train) & set(g_test), set(g_val) & set(g_test)
    (set(), set())
    """
    if not arrays:
        raise ValueError("At least one array required as input.")
    val = _check_fraction("val_size", val_size)
    test = _check_fraction("test_size", test_size)
    if val + test >= 1:
        raise ValueError(
            f"val_size + test_size = {val + test:g} should be less than 1 so that the "
            f"training split is not empty; got val_size={val_size!r}, test_size={test_size!r}."
        )
    n_samples = _num_samples(arrays[0])
    for position, array in enumerate(arrays[1:], start=1):
        if _num_samples(array) != n_samples:
            raise ValueError(
                f"All arrays must have the same length; array 0 has {n_samples} samples "
                f"but array {position} has {_num_samples(array)}."
            )
    groups = check_groups(groups, n_samples)
    strata = []
    if stratify is not None:
        strata.append(_check_labels(stratify, n_samples, name="stratify"))
    weights = np.array([1.0 - val - test, val, test])
    split_of_sample = _split_samples(
        groups, strata, weights, random_state, names=("train", "val", "test")
    )
    indices = [np.flatnonzero(split_of_sample == i) for i in range(3)]
    return [_safe_indexing(a, idx) for a in arrays for idx in indices]


def _check_sizes(sizes: Sequence[float], names: Sequence[str]) -> np.ndarray:
    weights = np.asarray(sizes, dtype=float)
    if weights.ndim != 1 or weights.size < 2:
        raise ValueError(f"sizes must list at least two fractions; got {sizes!r}.")
    if len(names) != weights.size:
        raise ValueError(
            f"names has {len(names)} entries but sizes has {weights.size}; give one name per split."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"names must be distinct; got {list(names)!r}.")
    if np.any(weights < 0) or np.any(weights >= 1) or not np.isclose(weights.sum(), 1.0):
        raise ValueError(
            f"sizes={tuple(sizes)!r} should be fractions in [0, 1) that sum to 1; "
            f"they sum to {weights.sum():g}."
        )
    return weights / weights.sum()


def _holdout_mask(df: pd.DataFrame, group: str, site: str, holdout_sites: Any) -> np.ndarray:
    """Rows of the held-out sites; errors if a site is unknown or a group spans both."""
    if isinstance(holdout_sites, str) or not np.iterable(holdout_sites):
        holdout_sites = [holdout_sites]
    holdout = list(holdout_sites)
    known = set(df[site].dropna().unique().tolist())
    unknown = [s for s in holdout if s not in known]
    if unknown:
        raise ValueError(
            f"holdout_sites {describe_values(unknown)} not found in column {site!r}; "
            f"its sites are {describe_values(sorted(known, key=str))}."
        )
    mask = df[site].isin(holdout).to_numpy()
    crossing = np.intersect1d(df[group].to_numpy()[mask], df[group].to_numpy()[~mask])
    if crossing.size:
        raise GroupLeakageError(
            f"{crossing.size} group(s) have rows both in a held-out site and in another "
            f"site: {describe_values(crossing)}. An external test set must not share "
            "patients with the development data; fix the site column or drop those rows.",
            shared_groups=crossing,
        )
    return mask


def assign_splits(
    manifest: Any,
    *,
    group: str,
    label: str | None = None,
    sizes: Sequence[float] = (0.7, 0.15, 0.15),
    names: Sequence[str] = ("train", "val", "test"),
    site: str | None = None,
    holdout_sites: Any = None,
    external_name: str = "external",
    random_state: Any = None,
) -> pd.Series:
    """Write a grouped, stratified split column for a manifest.

    Every row of one group (patient) gets the same split; split sizes are fractions
    of rows; with ``label`` each class is divided in the same proportions as far as
    the groups allow. Whole sites can be held out as an external test set.

    Parameters
    ----------
    manifest : DataFrame or path-like
        One row per sample (CSV, TSV or Parquet paths are read).
    group : str
        Column with the group (patient) id; no missing values.
    label : str, optional
        Column with the class label to stratify on.
    sizes : sequence of float, default=(0.7, 0.15, 0.15)
        Fraction of rows per split (of the rows not held out), summing to 1.
    names : sequence of str, default=("train", "val", "test")
        Name of each split, one per entry of ``sizes``.
    site : str, optional
        Column with the site (scanner, source). The splits are stratified on the
        site as well as on the label (each on its own), so that no site is confined
        to one split.
    holdout_sites : scalar or sequence, optional
        Site value(s) whose rows all go to the ``external_name`` split.
    external_name : str, default="external"
        Split name of the held-out sites' rows.
    random_state : int, RandomState instance or None, default=None
        Controls which groups go where.

    Returns
    -------
    Series
        Named ``"split"``, indexed like the manifest.

    Raises
    ------
    ManifestError
        If the manifest has no rows, a named column is missing or the group column
        has missing values.
    GroupLeakageError
        If a group has rows in a held-out site and in another site.

    See Also
    --------
    train_val_test_split : The same split for arrays.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.model_selection import assign_splits
    >>> df = pd.DataFrame({
    ...     "patient": ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "f", "f"],
    ...     "label": [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1],
    ...     "site": ["s1"] * 4 + ["s2"] * 4 + ["s3"] * 4,
    ... })
    >>> df["split"] = assign_splits(df, group="patient", label="label", sizes=(0.5, 0.5),
    ...                             names=("train", "test"), site="site",
    ...                             holdout_sites="s3", random_state=0)
    >>> df.groupby("patient")["split"].first().to_dict()
    {'a': 'train', 'b': 'test', 'c': 'test', 'd': 'train', 'e': 'external', 'f': 'external'}
    """
    df = read_manifest(manifest)
    if df.shape[0] == 0:  # the splitters refuse empty data too
        raise ManifestError(
            f"the manifest has no rows; assign_splits needs at least one group (patient) per "
            f"split ({len(names)} requested: {describe_values(names)})."
        )
    check_columns(
        df,
        {"group": group, "label": label, "site": site},
        required_values=("group", "label", "site"),
    )
    weights = _check_sizes(sizes, names)
    if holdout_sites is not None and site is None:
        raise ValueError("holdout_sites needs site=, the column that names each row's site.")
    if external_name in names:
        raise ValueError(
            f"external_name={external_name!r} is also one of names {list(names)!r}; "
            "use a distinct name."
        )
    if holdout_sites is not None:
        assert site is not None
        external = _holdout_mask(df, group, site, holdout_sites)
    else:
        external = np.zeros(len(df), dtype=bool)
    strata = [df[col].to_numpy()[~external] for col in (label, site) if col is not None]
    split_names = np.asarray([*names, external_name], dtype=object)
    split_code = np.full(len(df), len(names))
    if (~external).any():
        split_code[~external] = _split_samples(
            df[group].to_numpy()[~external], strata, weights, random_state, names=names
        )
    return pd.Series(split_names[split_code], index=df.index, name="split")
