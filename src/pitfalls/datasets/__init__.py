"""Synthetic cohorts that reproduce each pitfall, and loaders for public dataset layouts.

:func:`load_image` is the one image-file reader of the library (the audit and the torch
datasets use it too, and re-export it under the same name).
"""

from .._images import load_image
from ._batch_xray import make_batch_xray
from ._ct_phantom import make_ct_phantom
from ._ct_tumours import make_ct_tumours
from ._load_ct import load_lctsc, rasterize_rtstruct
from ._load_tables import load_radiomics_csv
from ._load_xray import kermany_patient_id, load_chest_xray_kermany, load_rsna_pneumonia
from ._multisite_cohort import make_multisite_cohort
from ._patch_cohort import make_patch_cohort
from ._radiomics_cohort import ENDPOINTS, make_radiomics_cohort, radiomics_feature_names

__all__ = [
    "ENDPOINTS",
    "kermany_patient_id",
    "load_chest_xray_kermany",
    "load_image",
    "load_lctsc",
    "load_radiomics_csv",
    "load_rsna_pneumonia",
    "make_batch_xray",
    "make_ct_phantom",
    "make_ct_tumours",
    "make_multisite_cohort",
    "make_patch_cohort",
    "make_radiomics_cohort",
    "radiomics_feature_names",
    "rasterize_rtstruct",
]
