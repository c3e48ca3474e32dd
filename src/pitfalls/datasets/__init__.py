"""Synthetic cohorts that reproduce each pitfall, and loaders for public dataset layouts."""

from ._radiomics_cohort import ENDPOINTS, make_radiomics_cohort, radiomics_feature_names

__all__ = ["ENDPOINTS", "make_radiomics_cohort", "radiomics_feature_names"]
