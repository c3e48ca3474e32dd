"""Input checks of the metric functions: labels, predictions, probabilities, paired scores.

Each check names the argument, the value received and the fix. General per-sample
checks (length, missing entries, group ids) live in :mod:`pitfalls._validation`; these
are the ones only metrics need.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.utils.multiclass import type_of_target

from .._validation import check_per_sample, describe_values

__all__ = [
    "check_binary_target",
    "check_label_kinds",
    "check_predicted_labels",
    "check_probabilities",
    "check_scores_1d",
    "label_kind",
]


def label_kind(values: Any) -> str | None:
    """``"text"``, ``"number"`` or ``None`` (empty); raises on a mix of the two.

    NumPy arrays of a non-object dtype are one kind by construction; lists, tuples,
    pandas Series and object arrays are inspected element by element (``np.asarray``
    would silently turn ``[0, "1"]`` into the strings ``["0", "1"]``).

    Examples
    --------
    >>> from pitfalls.metrics._inputs import label_kind
    >>> label_kind([0, 1]), label_kind(["a", "b"])
    ('number', 'text')
    """
    dtype = getattr(values, "dtype", None)  # numpy arrays, pandas Series and Index
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return "text" if dtype.kind in "US" else "number"
    items = np.asarray(values, dtype=object).ravel()
    kinds = {_kind_of(v) for v in items}
    kinds.discard("missing")
    if len(kinds) > 1:
        raise _mixed_kinds_error(items, kinds)
    return kinds.pop() if kinds else None


def _kind_of(value: Any) -> str:
    if isinstance(value, (str, np.str_, bytes)):
        return "text"
    if isinstance(value, (numbers.Number, np.number, np.bool_)):
        return "missing" if isinstance(value, float) and value != value else "number"
    return "missing" if value is None else type(value).__name__


def _mixed_kinds_error(items: np.ndarray, kinds: set[str]) -> ValueError:
    examples = []
    for kind in sorted(kinds):
        first = next(v for v in items if _kind_of(v) == kind)
        examples.append(f"{kind} {first!r}")
    return ValueError(
        f"labels of mixed types ({', '.join(examples)}); use one type for every label, "
        "e.g. all text (np.asarray(y, dtype=str)) or all integers."
    )


def check_label_kinds(**arrays: Any) -> None:
    """Refuse label arrays of mixed types, within one array or across arrays.

    Examples
    --------
    >>> from pitfalls.metrics._inputs import check_label_kinds
    >>> check_label_kinds(y_true=[0, 1], y_pred=["0", "1"])
    Traceback (most recent call last):
    ...
    ValueError: y_true holds numbers (0, 1) but y_pred holds text ('0', '1'); ...
    """
    kinds = {}
    for name, values in arrays.items():
        try:
            kinds[name] = label_kind(values)
        except ValueError as exc:
            raise ValueError(f"{name} has {exc}") from None
    known = {name: kind for name, kind in kinds.items() if kind is not None}
    if len(set(known.values())) > 1:
        (a, kind_a), (b, kind_b) = list(known.items())[:2]
        plural = {"number": "numbers", "text": "text"}
        raise ValueError(
            f"{a} holds {plural[kind_a]} ({_first_values(arrays[a])}) but {b} holds "
            f"{plural[kind_b]} ({_first_values(arrays[b])}); encode both the same way, e.g. "
            f"{b} = np.asarray({b}).astype(np.asarray({a}).dtype)."
        )


def _first_values(values: Any) -> str:
    arr = np.asarray(values, dtype=object).ravel()
    return describe_values(list(dict.fromkeys(arr.tolist()))[:3], limit=3)


def check_predicted_labels(y_pred: np.ndarray, *, name: str = "y_pred") -> None:
    """Refuse continuous values (scores) where predicted class labels are expected.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._inputs import check_predicted_labels
    >>> check_predicted_labels(np.array([0.2, 0.9, 0.6]))
    Traceback (most recent call last):
    ...
    ValueError: y_pred holds continuous values (0.2, 0.9, 0.6), not class labels; ...
    """
    if y_pred.dtype.kind == "f" and type_of_target(y_pred) == "continuous":
        shown = describe_values(y_pred[:3].tolist(), limit=3)
        fix = (
            "bin the outcome into classes first, e.g. (outcome >= threshold).astype(int)."
            if name == "y_true"
            else f"threshold the scores ({name} = (scores >= 0.5).astype(int)) and pass the "
            "scores themselves as y_score=."
        )
        raise ValueError(f"{name} holds continuous values ({shown}), not class labels; {fix}")


def check_scores_1d(values: Any, n_samples: int, *, name: str) -> np.ndarray:
    """One finite score per sample, as float64.

    Examples
    --------
    >>> from pitfalls.metrics._inputs import check_scores_1d
    >>> check_scores_1d([0.1, float("inf")], 2, name="score_a")
    Traceback (most recent call last):
    ...
    ValueError: score_a has 1 NaN or infinite value(s) (at positions 1); ...
    """
    try:
        score = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must hold numbers (one score or probability per sample); got "
            f"{describe_values(np.asarray(values, dtype=object).ravel()[:3], limit=3)}."
        ) from None
    if score.ndim == 2 and score.shape[1] == 1:
        score = score.ravel()
    if score.ndim != 1 or len(score) != n_samples:
        raise ValueError(
            f"{name} has shape {score.shape} but y_true has {n_samples} samples; pass one "
            "score per sample (for a two-column predict_proba, its second column)."
        )
    bad = np.flatnonzero(~np.isfinite(score))
    if bad.size:
        raise ValueError(
            f"{name} has {bad.size} NaN or infinite value(s) (at positions "
            f"{describe_values(bad)}); every sample needs a score: drop those samples "
            "from all arguments (or fix the model's output)."
        )
    return score


def check_probabilities(values: Any, n_samples: int, *, name: str) -> np.ndarray:
    """Scores that must be probabilities: finite and in [0, 1].

    Examples
    --------
    >>> from pitfalls.metrics._inputs import check_probabilities
    >>> check_probabilities([0.2, 1.3, -0.1], 3, name="y_prob")
    Traceback (most recent call last):
    ...
    ValueError: y_prob must be probabilities in [0, 1]; got 2 value(s) outside (1.3, -0.1). ...
    """
    prob = check_scores_1d(values, n_samples, name=name)
    outside = (prob < 0.0) | (prob > 1.0)
    if outside.any():
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; got {int(outside.sum())} value(s) "
            f"outside ({describe_values(prob[outside].tolist(), limit=3)}). Pass "
            "predict_proba(X)[:, 1], or turn decision scores into probabilities "
            "(sklearn.calibration.CalibratedClassifierCV, or scipy.special.expit for logits)."
        )
    return prob


def check_binary_target(y_true: Any, pos_label: Any, *, name: str = "y_true") -> np.ndarray:
    """Return ``y_true == pos_label`` after checking the target has two classes.

    Examples
    --------
    >>> from pitfalls.metrics._inputs import check_binary_target
    >>> check_binary_target(["no", "yes", "yes"], "yes").tolist()
    [False, True, True]
    >>> check_binary_target([0, 1, 2], 1)
    Traceback (most recent call last):
    ...
    ValueError: y_true has 3 classes (0, 1, 2); this needs a binary target. ...
    """
    check_label_kinds(**{name: y_true})
    arr = check_per_sample(y_true, name=name, unit="label", fix="drop those samples first.")
    check_predicted_labels(arr, name=name)
    classes = np.unique(arr)
    if len(classes) > 2:
        raise ValueError(
            f"{name} has {len(classes)} classes ({describe_values(classes)}); this needs a "
            "binary target. Compare one class against the rest: y_true == <class>."
        )
    if pos_label not in classes.tolist():
        raise ValueError(
            f"pos_label={pos_label!r} is not a class of {name} ({describe_values(classes)}); "
            "pass pos_label=<the positive class>."
        )
    if len(classes) < 2:
        raise ValueError(
            f"{name} has a single class ({describe_values(classes)}); ROC AUC and "
            "calibration need positive and negative samples."
        )
    return np.asarray(arr == pos_label)
