"""Near-duplicate feature rows and embeddings across splits (Kapoor & Narayanan L1.4).

A test row that is a training row plus a little noise (re-extracted features,
augmented copies, rounding) is as much a leak as an identical one, but exact
comparison (PF103) misses it. :func:`find_near_duplicate_rows` finds every pair
``(train row, test row)`` closer than a threshold calibrated to the data, exactly
(no pair within the threshold is missed), and the audit reports them as PF109.

How the threshold is calibrated
    The features are standardised with the training rows' mean and standard
    deviation. For a sample of training rows (up to 1000, evenly spaced), the
    distance to the nearest *other* training row is measured; identical rows are
    left out. Its median ``m`` is the typical spacing of the data, and a pair is a
    near duplicate when it is closer than a fraction ``t`` of it:
    ``threshold = t * m``, with ``t = max_fraction`` (0.05, one twentieth of the
    typical spacing) unless the data are low-dimensional, where chance neighbours
    are that close: an independent row falls within ``t * m`` of its nearest
    training row with probability about ``ln 2 * t ** d`` (nearest-neighbour
    distances in ``d`` dimensions), so ``t`` is lowered until ``n_test`` rows make
    ``expected_false_pairs`` (0.01) such chance pairs. ``d`` is the intrinsic
    dimension measured on the same sample, from the ratio of the 25% and 50%
    quantiles of those distances (``log(log(4/3) / log 2) / log(q25 / q50)``),
    between 1 and the number of features. A copy with noise of 1e-4 of each
    feature's standard deviation is about 1e-4 of the spacing away: found for any
    dimension; independent rows are not.

How the search is exact and fast
    The rows are projected on the 16 leading principal directions of the training
    rows (all of them when there are 16 features or fewer). A projection never
    lengthens a distance, so every pair within the threshold is within it in the
    projection; those candidates come from a k-d tree radius query (fast in 16
    dimensions, where a tree on 64 is not), and each is then measured on every
    feature in float64. Measured: 200k x 64 training rows against 50k test rows in
    a few seconds on 2 cores (``benchmarks/bench_audit.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._checks import MAX_EXAMPLES, AuditData, Check, Finding, _register

__all__ = ["NearDuplicateRows", "find_near_duplicate_rows"]

_PROJECTED_DIMENSIONS = 16
_PCA_SAMPLE = 20_000
_NEIGHBOURS = 8  # nearest neighbours looked at for the spacing (identical rows skipped)
_MIN_CALIBRATION_ROWS = 10
_EMBEDDING_PREFIX = "embedding_"


@dataclass
class NearDuplicateRows:
    """Pairs of near-duplicate rows found by :func:`find_near_duplicate_rows`.

    Attributes
    ----------
    train_index, test_index : ndarray of int64
        Positions of each pair's rows in ``X_train`` and ``X_test``, sorted by test
        row, then distance.
    distance : ndarray of float64
        Euclidean distance of each pair on the standardised features.
    threshold : float
        Largest distance reported.
    typical_distance : float
        Median distance from a training row to its nearest other training row
        (nan when it could not be measured).
    intrinsic_dimension : float
        Dimension estimated from the nearest-neighbour distances (nan when the
        threshold was given).
    fraction : float
        ``threshold / typical_distance``.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit import find_near_duplicate_rows
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(500, 8))
    >>> test = np.vstack([rng.normal(size=(99, 8)), train[7] + 1e-4])
    >>> pairs = find_near_duplicate_rows(train, test)
    >>> pairs
    NearDuplicateRows(1 pair within 0.0755 (0.05 x typical spacing 1.51))
    >>> pairs.to_frame()
       train  test  distance
    0      7    99  0.000285
    """

    train_index: np.ndarray
    test_index: np.ndarray
    distance: np.ndarray
    threshold: float
    typical_distance: float = float("nan")
    intrinsic_dimension: float = float("nan")
    fraction: float = float("nan")

    def __len__(self) -> int:
        return int(self.distance.size)

    def __repr__(self) -> str:
        n = len(self)
        calibrated = (
            f" ({self.fraction:.3g} x typical spacing {self.typical_distance:.3g})"
            if np.isfinite(self.typical_distance)
            else ""
        )
        plural = "pair" if n == 1 else "pairs"
        return f"NearDuplicateRows({n} {plural} within {self.threshold:.3g}{calibrated})"

    def to_frame(self) -> pd.DataFrame:
        """The pairs as a DataFrame with columns ``train``, ``test``, ``distance``.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.audit import find_near_duplicate_rows
        >>> X = np.arange(40.0).reshape(20, 2)
        >>> find_near_duplicate_rows(X, X[:2] + 0.001, threshold=0.01).to_frame().shape
        (2, 3)
        """
        return pd.DataFrame(
            {"train": self.train_index, "test": self.test_index, "distance": self.distance}
        )

    def to_markdown(self) -> str:
        """The pairs as a Markdown table.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.audit import find_near_duplicate_rows
        >>> X = np.arange(40.0).reshape(20, 2)
        >>> print(find_near_duplicate_rows(X, X[:1], threshold=0.01).to_markdown())
        | train | test | distance |
        | :--- | ---: | ---: |
        | 0 | 0 | 0.000 |
        """
        from .._tables import format_number, markdown_table

        rows = [
            [str(a), str(b), format_number(float(d))]
            for a, b, d in zip(self.train_index, self.test_index, self.distance, strict=True)
        ]
        return markdown_table(["train", "test", "distance"], rows)


def find_near_duplicate_rows(
    X_train: Any,
    X_test: Any,
    *,
    threshold: float | None = None,
    max_fraction: float = 0.05,
    expected_false_pairs: float = 0.01,
    n_calibration: int = 1000,
    n_jobs: int | None = None,
) -> NearDuplicateRows:
    """Every pair (training row, test row) closer than a data-calibrated threshold.

    Feature rows or embeddings of two splits are standardised with the training
    rows' statistics and compared with an exact radius search (see the module
    notes: a projection on 16 principal directions finds candidates, every feature
    confirms them).

    Parameters
    ----------
    X_train : array-like of shape (n_train, n_features)
        Training rows (numeric, finite).
    X_test : array-like of shape (n_test, n_features)
        Rows of the other split.
    threshold : float, optional
        Largest standardised Euclidean distance reported. By default calibrated:
        ``max_fraction`` of the median distance between a training row and its
        nearest other training row, lowered for low-dimensional data so that
        independent rows make about ``expected_false_pairs`` chance pairs.
    max_fraction : float, default=0.05
        Largest fraction of the typical spacing that counts as a near duplicate.
    expected_false_pairs : float, default=0.01
        Chance pairs between independent rows tolerated over the whole test set.
    n_calibration : int, default=1000
        Training rows (evenly spaced) whose nearest neighbour calibrates the
        threshold.
    n_jobs : int, optional
        Threads for the radius search (scikit-learn's ``n_jobs``).

    Returns
    -------
    NearDuplicateRows

    Raises
    ------
    ValueError
        Rows with NaN or infinity, different numbers of features, fewer than 2
        training rows without ``threshold``, a parameter out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit import find_near_duplicate_rows
    >>> rng = np.random.default_rng(1)
    >>> train = rng.normal(size=(2000, 16))
    >>> test = rng.normal(size=(300, 16))
    >>> test[:3] = train[[5, 50, 500]] + rng.normal(0, 1e-4, (3, 16))
    >>> pairs = find_near_duplicate_rows(train, test)
    >>> pairs.train_index.tolist(), pairs.test_index.tolist()
    ([5, 50, 500], [0, 1, 2])
    """
    train, test = _check_rows(X_train, X_test)
    _check_parameters(threshold, max_fraction, expected_false_pairs, n_calibration)
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale[~(scale > 0)] = 1.0  # a constant feature: differences in raw units
    train = (train - mean) / scale
    test = (test - mean) / scale
    if threshold is not None:
        calibration = (float(threshold), float("nan"), float("nan"), float("nan"))
    else:
        if train.shape[0] < 2:
            raise ValueError(
                f"X_train has {train.shape[0]} row; calibrating the threshold needs at least "
                "2 training rows. Pass threshold= instead."
            )
        calibration = _calibrate(
            train, test.shape[0], max_fraction, expected_false_pairs, n_calibration, n_jobs
        )
    train_index, test_index, distance = _pairs_within(train, test, calibration[0], n_jobs)
    return NearDuplicateRows(train_index, test_index, distance, *calibration)


def _check_rows(X_train: Any, X_test: Any) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.utils.validation import check_array

    arrays = []
    for name, X in (("X_train", X_train), ("X_test", X_test)):
        array = check_array(
            X, dtype=np.float64, ensure_all_finite=False, ensure_min_samples=0, input_name=name
        )
        bad = ~np.isfinite(array).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{name} has {int(bad.sum())} row(s) with NaN or infinity (first: row "
                f"{int(np.flatnonzero(bad)[0])}); distances are undefined there: impute or "
                "drop them."
            )
        arrays.append(array)
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise ValueError(
            f"X_train has {arrays[0].shape[1]} features but X_test has {arrays[1].shape[1]}; "
            "pass the same columns for both."
        )
    return arrays[0], arrays[1]


def _check_parameters(
    threshold: Any, max_fraction: Any, expected_false_pairs: Any, n_calibration: Any
) -> None:
    if threshold is not None and not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold={threshold!r} must be a finite distance >= 0, or None.")
    if not 0 < max_fraction < 1:
        raise ValueError(f"max_fraction={max_fraction!r} must be in (0, 1); use e.g. 0.05.")
    if not expected_false_pairs > 0:
        raise ValueError(
            f"expected_false_pairs={expected_false_pairs!r} must be > 0; use e.g. 0.01."
        )
    if isinstance(n_calibration, bool) or not isinstance(n_calibration, int) or n_calibration < 2:
        raise ValueError(f"n_calibration={n_calibration!r} must be an integer >= 2; use 1000.")


def _calibrate(
    train: np.ndarray,
    n_test: int,
    max_fraction: float,
    expected_false_pairs: float,
    n_calibration: int,
    n_jobs: int | None,
) -> tuple[float, float, float, float]:
    """(threshold, typical spacing, intrinsic dimension, fraction); see the module notes."""
    from sklearn.neighbors import NearestNeighbors

    count = min(n_calibration, train.shape[0])
    sample = np.unique(np.linspace(0, train.shape[0] - 1, count).round().astype(np.int64))
    neighbours = min(_NEIGHBOURS, train.shape[0])
    search = NearestNeighbors(n_neighbors=neighbours, algorithm="brute", n_jobs=n_jobs)
    _, found = search.fit(train).kneighbors(train[sample])
    # Measured again exactly (the brute search's expansion leaves ~1e-8 for a row
    # against itself): the row itself and identical rows are at 0, no neighbours.
    diff = train[found] - train[sample][:, None, :]
    distances = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    positive = np.where(distances > 0, distances, np.inf).min(axis=1)
    spacing = positive[np.isfinite(positive)]
    if spacing.size == 0:  # every row has an identical twin: only those are duplicates
        return 0.0, 0.0, float("nan"), float("nan")
    q25, typical = np.quantile(spacing, [0.25, 0.5])
    n_features = train.shape[1]
    ratio = q25 / typical
    dimension = (
        math.log(math.log(4 / 3) / math.log(2)) / math.log(ratio) if 0 < ratio < 1 else n_features
    )
    dimension = float(min(max(dimension, 1.0), n_features))
    chance = (expected_false_pairs / (math.log(2) * max(n_test, 1))) ** (1.0 / dimension)
    fraction = min(max_fraction, chance)
    return fraction * float(typical), float(typical), dimension, fraction


def _pairs_within(
    train: np.ndarray, test: np.ndarray, threshold: float, n_jobs: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.neighbors import NearestNeighbors

    empty = np.empty(0, np.int64)
    if train.shape[0] == 0 or test.shape[0] == 0:
        return empty, empty.copy(), np.empty(0)
    projected_train, projected_test = _project(train, test)
    # The projection (float64) can shorten a distance by rounding only: a hair more
    # radius keeps every true pair among the candidates.
    norms = max(float(np.abs(projected_train).max()), float(np.abs(projected_test).max()), 1.0)
    radius = threshold * (1 + 1e-9) + 1e-12 * norms
    tree = NearestNeighbors(radius=radius, algorithm="kd_tree", n_jobs=n_jobs)
    found = tree.fit(projected_train).radius_neighbors(projected_test, return_distance=False)
    counts = np.fromiter((len(f) for f in found), np.int64, count=len(found))
    test_index = np.repeat(np.arange(len(found)), counts)
    train_index = np.concatenate(found).astype(np.int64) if counts.sum() else empty
    distance = np.empty(train_index.size)
    for start in range(0, train_index.size, 1 << 16):  # confirmed on every feature
        stop = start + (1 << 16)
        diff = test[test_index[start:stop]] - train[train_index[start:stop]]
        distance[start:stop] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    keep = distance <= threshold
    order = np.lexsort((train_index[keep], distance[keep], test_index[keep]))
    return train_index[keep][order], test_index[keep][order], distance[keep][order]


def _project(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Orthonormal leading principal directions of (a sample of) the training rows.
    if train.shape[1] <= _PROJECTED_DIMENSIONS:
        return train, test
    rows = np.unique(np.linspace(0, train.shape[0] - 1, min(_PCA_SAMPLE, train.shape[0])))
    sample = train[rows.astype(np.int64)]
    _, _, directions = np.linalg.svd(sample - sample.mean(axis=0), full_matrices=False)
    basis = directions[:_PROJECTED_DIMENSIONS].T
    return train @ basis, test @ basis


# --- the audit check ---------------------------------------------------------------------


def embedding_names(n_dims: int) -> list[str]:
    """The manifest columns ``audit(features=array)`` adds: ``embedding_0``...

    Examples
    --------
    >>> from pitfalls.audit._rows import embedding_names
    >>> embedding_names(2)
    ['embedding_0', 'embedding_1']
    """
    return [f"{_EMBEDDING_PREFIX}{i}" for i in range(n_dims)]


def with_embeddings(df: pd.DataFrame, features: Any) -> tuple[pd.DataFrame, Any]:
    """``audit(features=array)``: the embeddings become columns ``embedding_0``...

    Returns the manifest (a new DataFrame when columns were added) and the feature
    column names (``features`` unchanged when it names columns).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from pitfalls.audit._rows import with_embeddings
    >>> df, names = with_embeddings(pd.DataFrame({"g": [1, 2]}), np.eye(2))
    >>> names, df.shape
    (['embedding_0', 'embedding_1'], (2, 3))
    """
    if features is None or isinstance(features, str) or np.ndim(features) != 2:
        return df, features
    values = np.asarray(features)
    if values.shape[0] != df.shape[0]:
        raise ValueError(
            f"features is an array of {values.shape[0]} rows but the manifest has "
            f"{df.shape[0]}; pass one embedding per manifest row, in the same order."
        )
    names = embedding_names(values.shape[1])
    embedded = pd.DataFrame(values, index=df.index, columns=names)
    return pd.concat([df.drop(columns=names, errors="ignore"), embedded], axis=1), names


def _feature_matrix(data: AuditData, features: Sequence[str]) -> np.ndarray | None:
    # The numeric (and boolean) feature columns as float; None when there are none.
    frame = data.df[list(features)]
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        return None
    return frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)


@_register(
    "PF109",
    "near-duplicate-rows",
    severity="medium",
    title="Near-duplicate feature rows in different splits",
    unit="pair",
    checklist=(1, 4),
    leakage=("L1.4", "L3.2"),
    needs=("features",),
)
def _near_duplicate_rows(data: AuditData, check: Check) -> list[Finding]:
    features = data.extra.get("features") or []
    matrix = _feature_matrix(data, features) if features else None
    if matrix is None:
        return []
    finite = np.isfinite(matrix).all(axis=1)
    a, b, d, threshold = _cross_split_pairs(data, matrix, finite)
    if a.size == 0:
        return []
    rows = np.unique(np.concatenate([a, b]))
    other_patient = int((data.group[a] != data.group[b]).sum())
    examples = [
        f"rows {data.row(x)} ({data.split_name(data.split[x])}) and {data.row(y)} "
        f"({data.split_name(data.split[y])}), distance {dist:.3g}"
        for x, y, dist in list(zip(a, b, d, strict=True))[:MAX_EXAMPLES]
    ]
    left_out = int((~finite).sum())
    detail = (
        f"pairs of feature rows in different splits closer than {threshold:.3g} (standardised "
        "Euclidean distance, a small fraction of the typical distance between training rows; "
        f"identical rows are PF103's): {a.size} ({rows.size} rows; across different "
        f"patients: {other_patient}). A test row that is a training row plus noise leaks it "
        "as much as a copy; drop or regroup them."
        + (f" Rows with NaN or infinity, not compared: {left_out}." if left_out else "")
    )
    affected = data.rows_table(a, np.arange(1, a.size + 1))
    affected.update(data.rows_table(b, None, prefix="other_"))
    affected.update(row_distance=np.round(d, 6), measure="standardised Euclidean distance")
    return [check.finding(detail, rows.size, examples, affected=affected)]


def _cross_split_pairs(
    data: AuditData, matrix: np.ndarray, finite: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    # Each split (training-like first) against every later one, calibrated on the
    # earlier split's rows; pairs of identical rows are left to PF103.
    order = data.split_order()
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    thresholds = []
    for position, first in enumerate(order[:-1]):
        rows1 = np.flatnonzero(finite & (data.split == first))
        rows2 = np.flatnonzero(finite & np.isin(data.split, order[position + 1 :]))
        if rows1.size < _MIN_CALIBRATION_ROWS or rows2.size == 0:
            continue
        # Threads start at once: all cores unless the caller chose (audit's n_jobs).
        n_jobs = data.extra.get("n_jobs")
        result = find_near_duplicate_rows(
            matrix[rows1], matrix[rows2], n_jobs=-1 if n_jobs is None else n_jobs
        )
        a, b = rows1[result.train_index], rows2[result.test_index]
        keep = result.distance > 0
        if data.feature_hash is not None:
            keep &= data.feature_hash[a] != data.feature_hash[b]
        found.append((a[keep], b[keep], result.distance[keep]))
        thresholds.append(result.threshold)
    if not found:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0), 0.0
    a, b, d = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order_by_distance = np.argsort(d, kind="stable")
    return a[order_by_distance], b[order_by_distance], d[order_by_distance], max(thresholds)
