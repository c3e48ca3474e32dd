"""Naive baselines a model must beat, including the air-in-body lung CT baseline."""

from ._air import air_in_body_mask
from ._classification import naive_baseline_summary
from ._plot import plot_segmentation
from ._segmentation import SegmentationBaselineReport, segmentation_baseline_report

__all__ = [
    "SegmentationBaselineReport",
    "air_in_body_mask",
    "naive_baseline_summary",
    "plot_segmentation",
    "segmentation_baseline_report",
]
