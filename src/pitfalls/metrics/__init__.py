"""Classification summaries with baselines, Dice / IoU, and run-to-run comparison."""

__all__: list[str] = []
