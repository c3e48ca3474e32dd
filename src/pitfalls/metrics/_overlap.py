"""Dice and IoU (Jaccard) of binary segmentation masks, 2D or 3D, single or batched."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import describe_values

__all__ = ["dice_score", "iou_score"]


def _check_mask(mask: Any, name: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be a boolean or 0/1 mask; got dtype {arr.dtype}. "
            "Convert labels to a binary mask first, e.g. mask == label."
        )
    # one pass for the common case; describe the offending values only on failure
    binary = (arr == 0) | (arr == 1)
    if not binary.all():
        bad = np.unique(arr[~binary])
        raise ValueError(
            f"{name} must be a boolean or 0/1 mask; found other values: {describe_values(bad, 5)}. "
            f"Threshold probabilities first ({name} >= 0.5) or select one label "
            f"({name} == label)."
        )
    return arr.astype(bool, copy=False)


def _counts(y_true: Any, y_pred: Any, per_case: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection and the two mask sizes, per case (shape (n_cases,)) or pooled (shape (1,))."""
    truth = _check_mask(y_true, "y_true")
    pred = _check_mask(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise ValueError(
            f"y_true has shape {truth.shape} but y_pred has shape {pred.shape}; "
            "masks must have the same shape (resample the prediction to the image grid)."
        )
    if truth.ndim == 0:
        raise ValueError("y_true is a scalar; pass a 2D or 3D mask.")
    if per_case:
        if truth.ndim < 2:
            raise ValueError(
                f"per_case=True needs masks of shape (n_cases, ...) with at least 2 "
                f"dimensions; got shape {truth.shape}."
            )
        n_cases = truth.shape[0]
    else:
        n_cases = 1
    truth = truth.reshape(n_cases, -1)
    pred = pred.reshape(n_cases, -1)
    intersection = np.count_nonzero(truth & pred, axis=1)
    return intersection, np.count_nonzero(truth, axis=1), np.count_nonzero(pred, axis=1)


def _finish(
    numerator: np.ndarray, denominator: np.ndarray, empty_score: float, per_case: bool
) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(denominator == 0, empty_score, numerator / np.maximum(denominator, 1))
    return score.astype(float) if per_case else float(score[0])


def dice_score(
    y_true: Any, y_pred: Any, *, per_case: bool = False, empty_score: float = 1.0
) -> Any:
    """Dice similarity coefficient ``2 |T ∩ P| / (|T| + |P|)`` of binary masks.

    Parameters
    ----------
    y_true, y_pred : array-like of bool or 0/1
        Masks of the same shape: one 2D slice or 3D volume, or a batch of them with
        cases on the first axis (then use ``per_case=True``).
    per_case : bool, default=False
        If True, one score per case (first axis); otherwise all voxels are pooled into
        one score (a batch then counts large cases more).
    empty_score : float, default=1.0
        Score when both masks are empty (0/0): 1.0 treats "nothing to find, nothing
        found" as perfect; pass ``float("nan")`` to leave such cases out of a mean with
        :func:`numpy.nanmean`. One empty mask and one non-empty mask always score 0.

    Returns
    -------
    float or ndarray of shape (n_cases,)

    Raises
    ------
    ValueError
        If a mask is not boolean or 0/1 (the message lists the values found) or the
        shapes differ.

    See Also
    --------
    iou_score : Intersection over union; ``IoU = Dice / (2 - Dice)``.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics import dice_score
    >>> truth = np.array([[1, 1, 0], [0, 0, 0]])
    >>> pred = np.array([[1, 0, 0], [0, 0, 0]])
    >>> round(dice_score(truth, pred), 3)
    0.667
    >>> dice_score(np.stack([truth, 0 * truth]), np.stack([pred, 0 * pred]), per_case=True)
    array([0.667, 1.   ])
    """
    intersection, n_true, n_pred = _counts(y_true, y_pred, per_case)
    return _finish(2 * intersection, n_true + n_pred, empty_score, per_case)


def iou_score(y_true: Any, y_pred: Any, *, per_case: bool = False, empty_score: float = 1.0) -> Any:
    """Intersection over union (Jaccard index) ``|T ∩ P| / |T ∪ P|`` of binary masks.

    Parameters
    ----------
    y_true, y_pred : array-like of bool or 0/1
        Masks of the same shape: one 2D slice or 3D volume, or a batch of them with
        cases on the first axis (then use ``per_case=True``).
    per_case : bool, default=False
        If True, one score per case (first axis); otherwise all voxels are pooled.
    empty_score : float, default=1.0
        Score when both masks are empty (0/0); may be ``float("nan")``.

    Returns
    -------
    float or ndarray of shape (n_cases,)

    Raises
    ------
    ValueError
        If a mask is not boolean or 0/1, or the shapes differ.

    See Also
    --------
    dice_score : Dice coefficient; always ``>= iou_score`` on the same masks.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics import iou_score
    >>> truth = np.array([[1, 1, 0], [0, 0, 0]])
    >>> pred = np.array([[1, 0, 0], [0, 0, 0]])
    >>> iou_score(truth, pred)
    0.5
    >>> iou_score(np.zeros((2, 2)), np.zeros((2, 2)), empty_score=float("nan"))
    nan
    """
    intersection, n_true, n_pred = _counts(y_true, y_pred, per_case)
    return _finish(intersection, n_true + n_pred - intersection, empty_score, per_case)
