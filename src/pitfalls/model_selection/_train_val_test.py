"""One grouped, stratified train/validation/test split, for arrays or a manifest."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from .._compat import num_samples as _num_samples
from .._compat import safe_indexing as _safe_indexing
from .._manifest import ManifestError, check_columns, read_manifest
from .._validation import check_groups, check_sites, describe_values
from ..exceptions import GroupLeakageError, LeakageWarning
from ._assign import assign_groups_to_bins, encode, group_stratum_counts
from ._split import _check_labels
from ._time import as_time_axis

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
    sites: Any = None,
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
    sites : array-like of shape (n_samples,), default=None
        Site (hospital, scanner) of each sample. When given, every site is divided
        in the same proportions too (class and site each on its own), so that no
        site is confined to one split. To test on sites never trained on instead,
        use :func:`assign_splits` with ``holdout_sites`` or :class:`LeaveOneSiteOut`.

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

    With ``sites``, each site is divided like the classes, so that site B (three
    of twelve patients) is in the validation and test splits too:

    >>> groups, y = np.repeat(np.arange(12), 2), np.tile([0, 1], 12)
    >>> sites = np.repeat(list("AABAAABAAABC"), 2)
    >>> for by_site in (None, sites):
    ...     parts = train_val_test_split(sites, groups=groups, stratify=y, sites=by_site,
    ...                                  val_size=0.25, test_size=0.25, random_state=0)
    ...     print([np.unique(part).tolist() for part in parts])
    [['A', 'B', 'C'], ['A'], ['A']]
    [['A', 'B', 'C'], ['A', 'B'], ['A', 'B']]
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
    if sites is not None:
        strata.append(check_sites(sites, n_samples, name="sites"))
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


def _temporal_mask(
    df: pd.DataFrame, group: str, time: str, test_after: Any, external: np.ndarray
) -> np.ndarray:
    """Rows of the patients first seen on or after ``test_after`` (held-out sites aside)."""
    times, is_date = as_time_axis(df[time].to_numpy(), name=f"time column {time!r}")
    cutoff_axis, cutoff_is_date = as_time_axis(np.asarray([test_after]), name="test_after")
    if cutoff_is_date != is_date:
        kind = "dates" if is_date else "numbers"
        raise ValueError(
            f"test_after={test_after!r} and the time column {time!r} must both be dates or "
            f"both numbers; the column holds {kind}."
        )
    cutoff = cutoff_axis[0]
    codes = encode(df[group].to_numpy())[0]
    first = np.full(int(codes.max()) + 1, np.inf)
    np.minimum.at(first, codes[~external], times[~external])
    temporal_patient = first >= cutoff
    temporal = temporal_patient[codes] & ~external
    developing = ~temporal & ~external
    if not temporal.any() or not developing.any():
        empty = "temporal test split" if not temporal.any() else "development data"
        raise ValueError(
            f"test_after={test_after!r} leaves the {empty} empty: patients' first exams "
            f"(outside held-out sites) run from {_show(first[np.isfinite(first)].min(), is_date)} "
            f"to {_show(first[np.isfinite(first)].max(), is_date)}; pick a date in between."
        )
    late = developing & (times >= cutoff)
    if late.any():
        patients = pd.unique(df[group].to_numpy()[late])
        warnings.warn(
            f"{patients.size} development patient(s) have exams on or after "
            f"test_after={test_after!r} ({describe_values(patients)}): they were first "
            "seen before it, so they stay in development with all their exams, which "
            "overlap the temporal test period. Drop those later exams if the model must "
            "not see that period.",
            LeakageWarning,
            stacklevel=3,
        )
    return temporal


def _show(value: float, is_date: bool) -> str:
    return str(pd.Timestamp(int(value))) if is_date else f"{value:g}"


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
    time: str | None = None,
    test_after: Any = None,
    temporal_name: str = "temporal",
    random_state: Any = None,
) -> pd.Series:
    """Write a grouped, stratified split column for a manifest.

    Every row of one group (patient) gets the same split; split sizes are fractions
    of rows; with ``label`` each class is divided in the same proportions as far as
    the groups allow. Whole sites can be held out as an external test set, and the
    patients first seen from a date on as a temporal test set, in the same call.

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
    time : str, optional
        Column with each row's exam time (dates or numbers); needed by ``test_after``.
    test_after : date-like or number, optional
        Patients whose first exam (outside the held-out sites) is on or after this
        time go, with all their exams, to the ``temporal_name`` split: a temporal
        test set of patients never seen before it. Patients first seen earlier stay
        in development with all their exams; a ``LeakageWarning`` names those with
        exams on or after ``test_after``.
    temporal_name : str, default="temporal"
        Split name of the temporal test set.
    random_state : int, RandomState instance or None, default=None
        Controls which groups go where.

    Returns
    -------
    Series
        Named ``"split"``, indexed like the manifest.

    Raises
    ------
    ManifestError
        If the manifest has no rows, a named column is missing, or the group, label,
        site or time column has missing values.
    GroupLeakageError
        If a group has rows in a held-out site and in another site.
    ValueError
        If ``test_after`` leaves the temporal split or the development data empty,
        or only one of ``time`` and ``test_after`` is given.

    See Also
    --------
    train_val_test_split : The same split for arrays.
    LeaveOneSiteOut : Every site held out in turn.
    GroupTimeSeriesSplit : Forward-chaining folds over patients in time.

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

    External and temporal test sets at once: site ``s3`` held out, and the patients
    first seen in 2021 or later:

    >>> df["date"] = pd.to_datetime(["2019-03-01", "2019-09-01", "2019-05-01", "2019-06-01",
    ...                              "2020-02-01", "2020-03-01", "2021-01-04", "2021-02-01",
    ...                              "2021-03-01", "2021-04-01", "2019-01-01", "2021-05-01"])
    >>> df["split"] = assign_splits(df, group="patient", label="label", sizes=(0.5, 0.5),
    ...                             names=("train", "test"), site="site",
    ...                             holdout_sites="s3", time="date",
    ...                             test_after="2021-01-01", random_state=0)
    >>> df.groupby("patient")["split"].first().to_dict()
    {'a': 'train', 'b': 'test', 'c': 'test', 'd': 'temporal', 'e': 'external', 'f': 'external'}
    """
    df = read_manifest(manifest)
    if df.shape[0] == 0:  # the splitters refuse empty data too
        raise ManifestError(
            f"the manifest has no rows; assign_splits needs at least one group (patient) per "
            f"split ({len(names)} requested: {describe_values(names)})."
        )
    check_columns(
        df,
        {"group": group, "label": label, "site": site, "time": time},
        required_values=("group", "label", "site", "time"),
    )
    weights = _check_sizes(sizes, names)
    _check_split_options(names, site, holdout_sites, external_name, time, test_after, temporal_name)
    external = np.zeros(len(df), dtype=bool)
    if holdout_sites is not None:
        assert site is not None
        external = _holdout_mask(df, group, site, holdout_sites)
    temporal = np.zeros(len(df), dtype=bool)
    if time is not None:
        temporal = _temporal_mask(df, group, time, test_after, external)
    developing = ~external & ~temporal
    strata = [df[col].to_numpy()[developing] for col in (label, site) if col is not None]
    split_names = np.asarray([*names, external_name, temporal_name], dtype=object)
    split_code = np.full(len(df), len(names))
    split_code[temporal] = len(names) + 1
    if developing.any():
        split_code[developing] = _split_samples(
            df[group].to_numpy()[developing], strata, weights, random_state, names=names
        )
    return pd.Series(split_names[split_code], index=df.index, name="split")


def _check_split_options(
    names: Sequence[str],
    site: str | None,
    holdout_sites: Any,
    external_name: str,
    time: str | None,
    test_after: Any,
    temporal_name: str,
) -> None:
    if holdout_sites is not None and site is None:
        raise ValueError("holdout_sites needs site=, the column that names each row's site.")
    if (time is None) != (test_after is None):
        given, needed = ("time", "test_after") if test_after is None else ("test_after", "time")
        raise ValueError(
            f"{given}= needs {needed}= too: time names the column of exam times, test_after "
            "the time from which first-seen patients form the temporal test split."
        )
    for option, value in (("external_name", external_name), ("temporal_name", temporal_name)):
        if value in names:
            raise ValueError(
                f"{option}={value!r} is also one of names {list(names)!r}; use a distinct name."
            )
    if external_name == temporal_name:
        raise ValueError(
            f"external_name and temporal_name are both {external_name!r}; use distinct names."
        )
