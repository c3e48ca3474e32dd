"""Input checks shared by every module.

One place for each check, so every public function words the same problem the same
way: the argument, the value received, and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

__all__ = [
    "check_groups",
    "check_per_sample",
    "check_positive_class",
    "check_sites",
    "describe_values",
    "missing_positions",
]


def describe_values(values: Any, limit: int = 10) -> str:
    """Comma-separated ``repr`` of the first ``limit`` values, with the count of the rest.

    Examples
    --------
    >>> from pitfalls._validation import describe_values
    >>> describe_values(["p1", "p2", "p3"], limit=2)
    "'p1', 'p2' (and 1 more)"
    """
    values = list(values)
    shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:limit])
    rest = len(values) - limit
    return f"{shown} (and {rest} more)" if rest > 0 else shown


def missing_positions(values: Any) -> np.ndarray:
    """Positions of missing entries (``None``, ``NaN``, ``pd.NA``, ``NaT``) in a 1-D array.

    Examples
    --------
    >>> from pitfalls._validation import missing_positions
    >>> missing_positions(["a", None, float("nan"), "b"]).tolist()
    [1, 2]
    """
    return np.flatnonzero(pd.isna(pd.Series(np.asarray(values, dtype=object), dtype=object)))


def check_per_sample(
    values: Any,
    n_samples: int | None = None,
    *,
    name: str,
    unit: str,
    fix: str,
) -> np.ndarray:
    """Validate one entry per sample (group id, class label, site) and return it as 1-D.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        A column vector of shape (n_samples, 1) is accepted and raveled.
    n_samples : int, optional
        Expected length (the number of rows of ``X``).
    name : str
        Argument name used in error messages.
    unit : str
        What one entry is ("group (patient) id", "label", "site").
    fix : str
        What to do about missing entries (ends the error message).

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        If ``values`` is None, not 1-D, has the wrong length or missing entries.

    Examples
    --------
    >>> from pitfalls._validation import check_per_sample
    >>> check_per_sample([[1], [2]], 2, name="y", unit="label", fix="drop them.").tolist()
    [1, 2]
    >>> check_per_sample([1, None], 2, name="y", unit="label", fix="drop them.")
    Traceback (most recent call last):
    ...
    ValueError: y has 1 missing value(s) (at positions 1); drop them.
    """
    if values is None:
        raise ValueError(f"The '{name}' parameter should not be None; pass one {unit} per sample.")
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with one {unit} per sample; got shape {arr.shape}.")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but X has {n_samples} samples; "
            f"pass one {unit} per sample."
        )
    if arr.dtype.kind in "OfcMm":  # only these dtypes can hold None / NaN / NaT
        missing = missing_positions(arr)
        if missing.size:
            raise ValueError(
                f"{name} has {missing.size} missing value(s) (at positions "
                f"{describe_values(missing)}); {fix}"
            )
    return arr


def check_groups(groups: Any, n_samples: int | None = None, *, name: str = "groups") -> np.ndarray:
    """Validate a group (patient) label per sample and return it as a 1-D array.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Group label of each sample. ``None`` or missing entries are errors: a sample
        whose patient is unknown cannot be kept on one side of a split.
    n_samples : int, optional
        Expected length (the number of rows of ``X``).
    name : str, default="groups"
        Argument name used in error messages.

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        If ``groups`` is None, not 1-D, has missing values or the wrong length.

    Examples
    --------
    >>> from pitfalls._validation import check_groups
    >>> check_groups(["a", "a", "b"], 3).tolist()
    ['a', 'a', 'b']
    >>> check_groups(["a", None], 2)
    Traceback (most recent call last):
    ...
    ValueError: groups has 1 missing value(s) (at positions 1); every sample needs a group (patient) id. Fill them in or drop those samples.
    """
    if groups is None:
        raise ValueError(
            f"The '{name}' parameter should not be None; pass one group (patient) id "
            "per sample so that a patient's samples stay on one side of the split."
        )
    return check_per_sample(
        groups,
        n_samples,
        name=name,
        unit="group (patient) id",
        fix="every sample needs a group (patient) id. Fill them in or drop those samples.",
    )


def check_sites(sites: Any, n_samples: int | None = None, *, name: str = "sites") -> np.ndarray:
    """Validate a site (batch, scanner, data source) per sample and return it as a 1-D array.

    Examples
    --------
    >>> from pitfalls._validation import check_sites
    >>> check_sites(["s1", "s2"], 3)
    Traceback (most recent call last):
    ...
    ValueError: sites has 2 entries but X has 3 samples; pass one site per sample.
    """
    return check_per_sample(
        sites,
        n_samples,
        name=name,
        unit="site",
        fix="every sample needs its site. Fill them in or drop those samples.",
    )


# scorers of one class of a binary problem: class 1 unless told otherwise (sklearn's
# default pos_label=1); the first four also refuse more than two classes (average="binary")
_BINARY_AVERAGE_SCORERS = frozenset({"f1", "precision", "recall", "jaccard"})
_POSITIVE_CLASS_SCORERS = _BINARY_AVERAGE_SCORERS | {
    "average_precision",
    "neg_brier_score",
    "d2_brier_score",
}


def check_positive_class(scoring: Any, y: Any) -> None:
    """Refuse, before any fit, scorer names that do not fit the kind of target ``y`` is.

    scikit-learn's ``"f1"``, ``"precision"``, ``"recall"``, ``"jaccard"``,
    ``"average_precision"`` and the Brier scores score the class labelled 1 of a
    binary problem: with labels such as ``"recurrence"`` / ``"none"``, a continuous
    target, or (the first four) more than two classes, every fold fails deep inside
    the cross-validation. This says so at once, with the fix.

    Examples
    --------
    >>> from pitfalls._validation import check_positive_class
    >>> check_positive_class("f1", [0, 1, 1])
    >>> check_positive_class("f1", ["none", "event"])
    Traceback (most recent call last):
    ...
    ValueError: scoring='f1' scores the class labelled 1, but y's classes are ['event', 'none']; ...
    >>> check_positive_class("f1", [0, 1, 2])
    Traceback (most recent call last):
    ...
    ValueError: scoring='f1' scores one class of a binary problem, but y has 3 classes (0, 1, 2); ...
    """
    if isinstance(scoring, str):
        names = [scoring]
    elif isinstance(scoring, dict):
        names = [value for value in scoring.values() if isinstance(value, str)]
    elif isinstance(scoring, (list, tuple)):
        names = [value for value in scoring if isinstance(value, str)]
    else:
        return
    binary_names = sorted(_POSITIVE_CLASS_SCORERS.intersection(names))
    if not binary_names:
        return
    kind = type_of_target(y)
    if kind in ("continuous", "continuous-multioutput"):
        raise ValueError(
            f"scoring={scoring!r} holds classification scores ({', '.join(binary_names)}), "
            "but y is continuous; pass a regression scorer such as scoring='r2' or "
            "'neg_mean_absolute_error', or bin y into classes."
        )
    classes = np.unique(np.asarray(y))
    averaged = sorted(_BINARY_AVERAGE_SCORERS.intersection(names))
    if len(classes) > 2 and averaged:
        raise ValueError(
            f"scoring={scoring!r} scores one class of a binary problem, but y has "
            f"{len(classes)} classes ({describe_values(classes)}); pass an average over the "
            f"classes, e.g. scoring='{averaged[0]}_macro' (or _weighted, _micro)."
        )
    if len(classes) != 2 or any(label == 1 for label in classes.tolist()):
        return
    positive = classes.tolist()[-1]
    if averaged:
        fix = (
            "encode y as 0/1 with 1 for the event of interest, or pass a scorer for your "
            f"positive class, e.g. scoring=make_scorer({averaged[0]}_score, "
            f"pos_label={positive!r})"
        )
    else:
        fix = (
            "encode y as 0/1 with 1 for the event of interest, e.g. "
            f"y = (y == {positive!r}).astype(int)"
        )
    raise ValueError(
        f"scoring={scoring!r} scores the class labelled 1, but y's classes are "
        f"{classes.tolist()}; {fix}."
    )
