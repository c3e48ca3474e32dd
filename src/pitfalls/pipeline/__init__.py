"""Leakage-safe pipelines: resamplers and augmenters act only in ``fit``.

:class:`Pipeline` is imbalanced-learn's pipeline with groups and per-sample metadata
following resampling; :class:`AugmentationSampler` turns data augmentation into a
training-only step; :class:`LeakageGuard` warns when an evaluation row was seen in
``fit``.
"""

from ._augment import AugmentationSampler
from ._guard import LeakageGuard
from ._pipeline import Pipeline, make_pipeline

__all__ = ["AugmentationSampler", "LeakageGuard", "Pipeline", "make_pipeline"]
