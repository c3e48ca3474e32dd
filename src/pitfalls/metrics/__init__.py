"""Classification summaries with baselines, calibration, AUC comparison, Dice / IoU and boundary metrics.

Every statistic that can take the patient as its unit does so when ``groups`` (one
patient id per sample) is given: bootstrap intervals resample patients, the AUC test
uses the clustered variance, and :func:`aggregate_by_group` turns image- or
lesion-level predictions into one per patient.
"""

from ._aggregate import aggregate_by_group
from ._calibration import CalibrationSummary, calibration_summary
from ._compare import RunComparison, compare_runs
from ._curves import CurveBands, curve_bands, plot_pr, plot_roc
from ._delong import AUCComparison, compare_auc
from ._overlap import dice_score, iou_score
from ._summary import ClassificationSummary, classification_summary
from ._surface import hausdorff_distance, mean_surface_distance, surface_dice, surface_distances

__all__ = [
    "AUCComparison",
    "CalibrationSummary",
    "ClassificationSummary",
    "CurveBands",
    "RunComparison",
    "aggregate_by_group",
    "calibration_summary",
    "classification_summary",
    "compare_auc",
    "compare_runs",
    "curve_bands",
    "dice_score",
    "hausdorff_distance",
    "iou_score",
    "mean_surface_distance",
    "plot_pr",
    "plot_roc",
    "surface_dice",
    "surface_distances",
]
