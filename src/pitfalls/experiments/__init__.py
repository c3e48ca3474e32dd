"""Run a pipeline the leaky way and the correct way and measure the gap.

:func:`leakage_gap` is the paper's method as a tool: it repeats the cross-validation of
a pipeline with the pitfall (oversampling, feature selection, augmentation or
preprocessing fitted before the split, or samples of one patient on both sides) and
without it, and compares the two score distributions with the Wilcoxon rank-sum test.
With ``pitfall="site"`` it measures the batch effect the same way: internal
cross-validation that mixes the sites against evaluation on each site held out.
``PITFALLS`` names the pitfalls it measures (the values of its ``pitfall`` argument).
"""

from ._gap import PITFALLS, leakage_gap
from ._result import LeakageGapResult

__all__ = ["PITFALLS", "LeakageGapResult", "leakage_gap"]
