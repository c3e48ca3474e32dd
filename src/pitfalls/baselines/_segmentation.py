"""Dice / IoU, HD95 and surface Dice of a trivial segmentation baseline beside the model's.

The paper's Table 3 reads the air-in-body baseline on Dice and IoU; boundary metrics show
where a high Dice hides a poor boundary (the trachea and bowel gas the threshold keeps).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._tables import format_number, markdown_table, text_table
from ..exceptions import MetricWarning
from ..metrics import dice_score, hausdorff_distance, iou_score, surface_dice
from ._air import air_in_body_mask

__all__ = ["SegmentationBaselineReport", "segmentation_baseline_report"]

_STATS = ("mean", "min", "max", "sd")


@dataclass(frozen=True, repr=False, eq=False)
class SegmentationBaselineReport:
    """Result of :func:`segmentation_baseline_report`.

    Attributes
    ----------
    per_case : pandas.DataFrame
        One row per case (index: case id); columns ``baseline_dice``, ``baseline_iou``,
        ``baseline_hd95``, ``baseline_surface_dice`` (the last two unless
        ``boundary=False``) and, when predictions were given, the same for ``model_``.
    summary : pandas.DataFrame
        Rows ``mean``, ``min``, ``max``, ``sd`` (sample standard deviation, ``ddof=1``)
        of each column, as in Table 3 of the paper.
    baseline_name : str
        Name of the baseline (the function's name, or ``"given masks"``).
    warnings : tuple of str
        :class:`MetricWarning` messages issued.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.baselines import segmentation_baseline_report
    >>> truth = np.zeros((2, 4, 4), bool); truth[:, 1:3, 1:3] = True
    >>> report = segmentation_baseline_report(truth, baseline=[truth[0], truth[1]])
    >>> float(report.summary.loc["mean", "baseline_dice"])
    1.0
    """

    per_case: pd.DataFrame
    summary: pd.DataFrame
    baseline_name: str
    warnings: tuple[str, ...]

    @property
    def model_beats_baseline(self) -> bool | None:
        """Whether the model's mean Dice is above the baseline's (None without a model).

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.baselines import segmentation_baseline_report
        >>> truth = np.ones((1, 2, 2), bool)
        >>> print(segmentation_baseline_report(truth, baseline=truth).model_beats_baseline)
        None
        """
        if "model_dice" not in self.summary.columns:
            return None
        mean = self.summary.loc["mean"]
        return bool(mean["model_dice"] > mean["baseline_dice"])

    def to_frame(self) -> pd.DataFrame:
        """Dice and IoU of every case (a copy of ``per_case``).

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.baselines import segmentation_baseline_report
        >>> truth = np.ones((2, 2, 2), bool)
        >>> segmentation_baseline_report(truth, baseline=truth).to_frame().shape
        (2, 4)
        """
        return self.per_case.copy()

    def _rows(self, digits: int) -> tuple[list[str], list[list[str]]]:
        header = ["", *self.summary.columns]
        rows = [
            [str(stat), *(format_number(float(v), digits) for v in self.summary.loc[stat])]
            for stat in self.summary.index
        ]
        return header, rows

    def to_text(self, digits: int = 2) -> str:
        """Summary rows as a plain-text table (what ``print`` shows).

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.baselines import segmentation_baseline_report
        >>> truth = np.ones((2, 2, 2), bool)
        >>> report = segmentation_baseline_report(truth, baseline=truth, boundary=False)
        >>> print(report.to_text().splitlines()[1])
              baseline_dice  baseline_iou
        """
        header, rows = self._rows(digits)
        title = f"Segmentation baseline ({self.baseline_name}), {len(self.per_case)} cases"
        return f"{title}\n{text_table(header, rows)}"

    def to_markdown(self, digits: int = 2) -> str:
        """Summary rows as a Markdown table.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.baselines import segmentation_baseline_report
        >>> truth = np.ones((2, 2, 2), bool)
        >>> print(segmentation_baseline_report(truth, baseline=truth).to_markdown().splitlines()[2])
        | mean | 1.00 | 1.00 | 0.00 | 1.00 |
        """
        header, rows = self._rows(digits)
        return markdown_table(header, rows)

    def __repr__(self) -> str:
        return self.to_text()


def _as_cases(masks: Any, name: str) -> list[Any]:
    if masks is None:
        raise ValueError(f"{name} is None; pass one mask per case.")
    cases = list(masks)
    if not cases:
        raise ValueError(f"{name} is empty; pass at least one case.")
    return cases


def _check_same_length(cases: list[Any], other: list[Any], name: str) -> None:
    if len(other) != len(cases):
        raise ValueError(
            f"{name} has {len(other)} cases but truths has {len(cases)}; pass one per case, "
            "in the same order."
        )


def _summary(per_case: pd.DataFrame) -> pd.DataFrame:
    rows = {
        "mean": per_case.mean(),
        "min": per_case.min(),
        "max": per_case.max(),
        # one case has no spread; NaN rather than a misleading 0
        "sd": per_case.std(ddof=1) if len(per_case) > 1 else per_case.mean() * np.nan,
    }
    return pd.DataFrame(rows).T.loc[list(_STATS)]


def _case_spacings(spacing: Any, n_cases: int) -> list[Any]:
    """One spacing per case: ``spacing`` itself, or its items when it lists one per case."""
    if spacing is None or np.ndim(spacing) == 0:
        return [spacing] * n_cases
    items = list(spacing)
    if all(np.ndim(item) == 1 for item in items):
        if len(items) != n_cases:
            raise ValueError(
                f"spacing lists {len(items)} voxel sizes but truths has {n_cases} cases; pass "
                "one (z, y, x) per case, or a single (z, y, x) for all cases."
            )
        return items
    return [spacing] * n_cases


def _scores(
    truths: list[Any], masks: list[Any], prefix: str, options: dict[str, Any]
) -> dict[str, list[float]]:
    """Dice, IoU and (with ``boundary``) HD95 and surface Dice of each case."""
    empty = options["empty_score"]
    columns: dict[str, list[float]] = {f"{prefix}_dice": [], f"{prefix}_iou": []}
    if options["boundary"]:
        columns.update({f"{prefix}_hd95": [], f"{prefix}_surface_dice": []})
    for truth, mask, spacing in zip(truths, masks, options["spacings"], strict=True):
        columns[f"{prefix}_dice"].append(dice_score(truth, mask, empty_score=empty))
        columns[f"{prefix}_iou"].append(iou_score(truth, mask, empty_score=empty))
        if options["boundary"]:
            columns[f"{prefix}_hd95"].append(
                hausdorff_distance(truth, mask, spacing=spacing, percentile=95)
            )
            columns[f"{prefix}_surface_dice"].append(
                surface_dice(
                    truth, mask, tolerance=options["tolerance"], spacing=spacing, empty_score=empty
                )
            )
    return columns


def segmentation_baseline_report(
    truths: Any,
    predictions: Any = None,
    *,
    images: Any = None,
    baseline: Callable[[np.ndarray], np.ndarray] | Any = air_in_body_mask,
    ids: Any = None,
    empty_score: float = 1.0,
    boundary: bool = True,
    spacing: Any = None,
    tolerance: float = 1.0,
) -> SegmentationBaselineReport:
    """Per-case Dice / IoU, HD95 and surface Dice of a trivial baseline (and of a model).

    Parameters
    ----------
    truths : sequence of array-like, or array of shape (n_cases, ...)
        Reference masks (bool or 0/1), one per case; cases may differ in shape.
        An array's first axis is always the case axis.
    predictions : sequence of array-like, optional
        The model's masks, one per case, same shapes as ``truths``.
    images : sequence of array-like, optional
        The images the baseline segments (CT volumes in HU for the default); needed
        when ``baseline`` is a function.
    baseline : callable or sequence of masks, default=air_in_body_mask
        A function ``image -> mask`` applied to each image, or precomputed masks.
    ids : sequence, optional
        Case identifiers for the ``per_case`` index (default 0, 1, ...).
    empty_score : float, default=1.0
        Dice / IoU / surface Dice when truth and mask are both empty (see
        :func:`~pitfalls.metrics.dice_score`). HD95 is then 0, and ``inf`` when only
        one of them is empty (see :func:`~pitfalls.metrics.hausdorff_distance`).
    boundary : bool, default=True
        Add the boundary metrics: HD95 (:func:`~pitfalls.metrics.hausdorff_distance`
        with ``percentile=95``) and surface Dice at ``tolerance``
        (:func:`~pitfalls.metrics.surface_dice`). False skips them (faster).
    spacing : float, sequence of float, or one sequence per case, optional
        Voxel size (e.g. ``(slice thickness, row, column)`` in mm) for the boundary
        metrics: one for all cases, or a list with one per case (volumes of a CT data
        set rarely share a spacing). Default: 1 (distances in voxels).
    tolerance : float, default=1.0
        Surface Dice tolerance, in the units of ``spacing``.

    Returns
    -------
    SegmentationBaselineReport
        ``per_case`` and ``summary`` (mean, min, max, sd) tables; prints as a table.

    Warns
    -----
    MetricWarning
        When the model's mean Dice does not beat the baseline's: the model adds
        nothing over thresholding.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.baselines import segmentation_baseline_report
    >>> ct = np.full((1, 7, 7), -1000); ct[:, 1:6, 1:6] = 40; ct[:, 2:5, 2:4] = -850
    >>> truth = ct < -400; truth[:, 0, :] = truth[:, -1, :] = False
    >>> truth[:, :, 0] = truth[:, :, -1] = False; truth[:, 3, 5] = False
    >>> report = segmentation_baseline_report([truth], images=[ct])
    >>> float(report.per_case.loc[0, "baseline_dice"])
    1.0

    A mask one row off: Dice drops to 0.67, while every boundary voxel stays within
    0.8 mm (HD95) and within the 1 mm tolerance (surface Dice 1).

    >>> shifted = [np.roll(truth, 1, axis=1)]
    >>> report = segmentation_baseline_report([truth], baseline=shifted, spacing=(2.5, 0.8, 0.8))
    >>> report.per_case.round(2).values.tolist()
    [[0.67, 0.5, 0.8, 1.0]]
    """
    truth_cases = _as_cases(truths, "truths")
    if callable(baseline):
        if images is None:
            raise ValueError(
                f"images is None, but baseline={getattr(baseline, '__name__', baseline)!r} "
                "segments images; pass images=[one image per case], or pass the baseline's "
                "masks as baseline=[...]."
            )
        image_cases = _as_cases(images, "images")
        _check_same_length(truth_cases, image_cases, "images")
        baseline_cases = [np.asarray(baseline(np.asarray(img))) for img in image_cases]
        baseline_name = getattr(baseline, "__name__", type(baseline).__name__)
    else:
        baseline_cases = _as_cases(baseline, "baseline")
        _check_same_length(truth_cases, baseline_cases, "baseline")
        baseline_name = "given masks"

    options = {
        "empty_score": empty_score,
        "boundary": boundary,
        "tolerance": tolerance,
        "spacings": _case_spacings(spacing, len(truth_cases)),
    }
    columns = _scores(truth_cases, baseline_cases, "baseline", options)
    if predictions is not None:
        prediction_cases = _as_cases(predictions, "predictions")
        _check_same_length(truth_cases, prediction_cases, "predictions")
        columns.update(_scores(truth_cases, prediction_cases, "model", options))

    index = pd.Index(range(len(truth_cases)) if ids is None else list(ids), name="case")
    if len(index) != len(truth_cases):
        raise ValueError(f"ids has {len(index)} entries but truths has {len(truth_cases)} cases.")
    per_case = pd.DataFrame(columns, index=index)
    summary = _summary(per_case)

    messages = []
    if predictions is not None:
        model, base = summary.loc["mean", "model_dice"], summary.loc["mean", "baseline_dice"]
        if not model > base:
            messages.append(
                f"the model's mean Dice ({model:.3f}) does not beat the {baseline_name} "
                f"baseline ({base:.3f}); a threshold-and-connectivity rule segments as well. "
                "Report the baseline beside the model's Dice."
            )
    for message in messages:
        warnings.warn(message, MetricWarning, stacklevel=2)
    return SegmentationBaselineReport(per_case, summary, baseline_name, tuple(messages))
