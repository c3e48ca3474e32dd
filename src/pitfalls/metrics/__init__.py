"""Classification summaries with baselines, Dice / IoU, and run-to-run comparison."""

from ._compare import RunComparison, compare_runs
from ._overlap import dice_score, iou_score
from ._summary import ClassificationSummary, classification_summary

__all__ = [
    "ClassificationSummary",
    "RunComparison",
    "classification_summary",
    "compare_runs",
    "dice_score",
    "iou_score",
]
