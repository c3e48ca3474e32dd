"""Probes for batch effects: site-label confounding, site predictability, harmonisation.

The paper's third pitfall: when the data source (site, scanner, population) is
confounded with the label, a model can learn the source instead of the disease and
score well internally while failing on an external set.

- before training: :func:`confounding_test` (is the label mix different between
  sites?) and :func:`batch_predictability` (do the features carry a site signature?);
- after training: :func:`generalization_gap` (internal cross-validation beside an
  external set);
- to fix the signature without leaking: :class:`ComBat`, fitted on training data only.
"""

from pitfalls.batch_effects._combat import ComBat
from pitfalls.batch_effects._confounding import (
    ConfoundingResult,
    bias_corrected_cramers_v,
    confounding_test,
)
from pitfalls.batch_effects._gap import GeneralizationGapResult, generalization_gap
from pitfalls.batch_effects._plotting import (
    plot_batch_distributions,
    plot_permutation_null,
    plot_site_label,
)
from pitfalls.batch_effects._predictability import (
    BatchPredictabilityResult,
    batch_predictability,
)

__all__ = [
    "BatchPredictabilityResult",
    "ComBat",
    "ConfoundingResult",
    "GeneralizationGapResult",
    "batch_predictability",
    "bias_corrected_cramers_v",
    "confounding_test",
    "generalization_gap",
    "plot_batch_distributions",
    "plot_permutation_null",
    "plot_site_label",
]
