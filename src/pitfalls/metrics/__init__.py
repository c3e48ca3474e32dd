"""Classification summaries with baselines, Dice / IoU, and run-to-run comparison."""

from ._compare import RunComparison, compare_runs

__all__ = ["RunComparison", "compare_runs"]
