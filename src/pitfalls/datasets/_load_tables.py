"""Load a radiomics feature table and a clinical table into (X, y)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._manifest import check_columns, read_manifest
from .._validation import describe_values
from ..exceptions import ManifestError

__all__ = ["load_radiomics_csv"]


def _binary_labels(values: pd.Series, endpoint: str, positive: Any) -> pd.Series:
    """0/1 labels from 0/1, booleans or yes/no strings, or from ``positive``."""
    present = values.dropna().unique()
    if positive is not None:
        if positive not in set(present):
            raise ManifestError(
                f"positive={positive!r} is not a value of endpoint column {endpoint!r}; "
                f"values: {describe_values(sorted(map(str, present)))}."
            )
        return (values == positive).astype(int).where(values.notna())
    # Compare as trimmed lower-case text, so "Yes"/"YES"/" yes" and 1/1.0/True agree.
    text = values.map(lambda v: str(v).strip().lower(), na_action="ignore")
    text = text.replace({"1.0": "1", "0.0": "0", "true": "1", "false": "0", "y": "yes", "n": "no"})
    distinct = set(text.dropna())
    if len(distinct) != 2:
        raise ManifestError(
            f"endpoint column {endpoint!r} has {len(distinct)} distinct value(s) "
            f"({describe_values(sorted(map(str, present)))}); a binary endpoint needs 2."
        )
    for negative_text, positive_text in (("0", "1"), ("no", "yes")):
        if distinct == {negative_text, positive_text}:
            return (text == positive_text).astype(int).where(text.notna())
    raise ManifestError(
        f"cannot tell which value of endpoint column {endpoint!r} is positive "
        f"({describe_values(sorted(map(str, present)))}); pass positive=<that value>."
    )


def load_radiomics_csv(
    features_csv: str | Path | pd.DataFrame,
    clinical_csv: str | Path | pd.DataFrame,
    *,
    id_column: str,
    endpoint: str,
    clinical_id_column: str | None = None,
    positive: Any = None,
    dropna: bool = False,
) -> tuple[pd.DataFrame, pd.Series]:
    """Join a radiomics feature table with a clinical table into ``X`` and ``y``.

    The feature table is what pyradiomics' batch mode (or
    :func:`pitfalls.radiomics.extract_features` saved to CSV) writes: one row
    per case, an id column, perhaps ``Image``/``Mask`` path columns and
    ``diagnostics_*`` columns, then the features. Only numeric, non-diagnostic
    columns are kept as features.

    Parameters
    ----------
    features_csv, clinical_csv : path or DataFrame
        The two tables (CSV, TSV or Parquet; see :func:`pitfalls._manifest.read_manifest`).
    id_column : str
        Patient id column of the feature table.
    endpoint : str
        Column of the clinical table holding the binary endpoint.
    clinical_id_column : str, optional
        Patient id column of the clinical table (default: ``id_column``).
    positive : scalar, optional
        The endpoint value that means positive (1). Needed unless the column
        holds 0/1, booleans, or yes/no.
    dropna : bool, default=False
        Drop cases without clinical data or with a missing endpoint instead of
        raising.

    Returns
    -------
    X : DataFrame of shape (n_cases, n_features)
        Indexed by patient id, in the feature table's order.
    y : Series of int (0/1)
        Named ``endpoint``, same index.

    Raises
    ------
    ManifestError
        Naming the missing column, the ids without clinical data, repeated
        ids, or an endpoint that is not binary.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.datasets import load_radiomics_csv
    >>> features = pd.DataFrame({"PatientID": ["a", "b"], "Image": ["a.nrrd", "b.nrrd"],
    ...                          "diagnostics_Mask-original_VoxelNum": [9, 7],
    ...                          "original_firstorder_Mean": [1.5, 2.5]})
    >>> clinical = pd.DataFrame({"id": ["b", "a"], "Local Recurrence": ["Yes", "No"]})
    >>> X, y = load_radiomics_csv(features, clinical, id_column="PatientID",
    ...                           clinical_id_column="id", endpoint="Local Recurrence")
    >>> X
               original_firstorder_Mean
    PatientID
    a                               1.5
    b                               2.5
    >>> y.tolist()
    [0, 1]
    """
    features = read_manifest(features_csv)
    clinical = read_manifest(clinical_csv)
    clinical_id = clinical_id_column or id_column
    check_columns(features, {"id_column": id_column}, required_values=("id_column",))
    check_columns(
        clinical,
        {"clinical_id_column": clinical_id, "endpoint": endpoint},
        required_values=("clinical_id_column",),
    )
    for name, table, column in (
        ("features", features, id_column),
        ("clinical", clinical, clinical_id),
    ):
        repeated = table[column][table[column].duplicated()]
        if len(repeated):
            raise ManifestError(
                f"{name} table repeats patient id(s) {describe_values(repeated.unique())} in "
                f"column {column!r}; keep one row per patient."
            )
    ids = features[id_column].astype(str)
    outcome = clinical.set_index(clinical[clinical_id].astype(str))[endpoint]
    y = _binary_labels(outcome, endpoint, positive).reindex(ids)
    missing = ids[y.isna().to_numpy()]
    if len(missing) and not dropna:
        raise ManifestError(
            f"{len(missing)} case(s) have no {endpoint!r} value in the clinical table: "
            f"{describe_values(missing)}; fix the ids or pass dropna=True to drop them."
        )
    feature_columns = [
        c
        for c in features.columns
        if c != id_column
        and not str(c).startswith("diagnostics_")
        and pd.api.types.is_numeric_dtype(features[c])
    ]
    if not feature_columns:
        raise ManifestError("the feature table has no numeric feature columns.")
    X = features[feature_columns].set_axis(pd.Index(ids, name=id_column), axis=0)
    keep = y.notna().to_numpy()
    X, y = X[keep], y[keep].astype(np.int64)
    return X, y.rename(endpoint).rename_axis(id_column)
