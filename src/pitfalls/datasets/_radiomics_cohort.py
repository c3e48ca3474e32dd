"""A synthetic head-and-neck radiomics cohort shaped like the paper's HNSCC data.

The paper (Maleki et al., Appendix A and Table 1) extracts 1652 pyradiomics features
from the CT tumours of 137 head-and-neck cancer patients (49 larynx, 88 oropharynx)
and predicts three clinical endpoints. This module simulates a table with the same
shape and the same statistical traps: very many correlated, heavy-tailed features
on wildly different scales, a handful of constant ones, and only a few features
that carry a *weak* real signal about each endpoint.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["ENDPOINTS", "make_radiomics_cohort", "radiomics_feature_names"]

# pyradiomics 3 feature names per class (deprecated names left out), in pyradiomics' order.
_SHAPE = [
    "Elongation",
    "Flatness",
    "LeastAxisLength",
    "MajorAxisLength",
    "Maximum2DDiameterColumn",
    "Maximum2DDiameterRow",
    "Maximum2DDiameterSlice",
    "Maximum3DDiameter",
    "MeshVolume",
    "MinorAxisLength",
    "Sphericity",
    "SurfaceArea",
    "SurfaceVolumeRatio",
    "VoxelVolume",
]
_TEXTURE_FAMILIES: dict[str, list[str]] = {
    "firstorder": [
        "10Percentile",
        "90Percentile",
        "Energy",
        "Entropy",
        "InterquartileRange",
        "Kurtosis",
        "Maximum",
        "MeanAbsoluteDeviation",
        "Mean",
        "Median",
        "Minimum",
        "Range",
        "RobustMeanAbsoluteDeviation",
        "RootMeanSquared",
        "Skewness",
        "TotalEnergy",
        "Uniformity",
        "Variance",
    ],
    "glcm": [
        "Autocorrelation",
        "ClusterProminence",
        "ClusterShade",
        "ClusterTendency",
        "Contrast",
        "Correlation",
        "DifferenceAverage",
        "DifferenceEntropy",
        "DifferenceVariance",
        "Id",
        "Idm",
        "Idmn",
        "Idn",
        "Imc1",
        "Imc2",
        "InverseVariance",
        "JointAverage",
        "JointEnergy",
        "JointEntropy",
        "MCC",
        "MaximumProbability",
        "SumAverage",
        "SumEntropy",
        "SumSquares",
    ],
    "gldm": [
        "DependenceEntropy",
        "DependenceNonUniformity",
        "DependenceNonUniformityNormalized",
        "DependenceVariance",
        "GrayLevelNonUniformity",
        "GrayLevelVariance",
        "HighGrayLevelEmphasis",
        "LargeDependenceEmphasis",
        "LargeDependenceHighGrayLevelEmphasis",
        "LargeDependenceLowGrayLevelEmphasis",
        "LowGrayLevelEmphasis",
        "SmallDependenceEmphasis",
        "SmallDependenceHighGrayLevelEmphasis",
        "SmallDependenceLowGrayLevelEmphasis",
    ],
    "glrlm": [
        "GrayLevelNonUniformity",
        "GrayLevelNonUniformityNormalized",
        "GrayLevelVariance",
        "HighGrayLevelRunEmphasis",
        "LongRunEmphasis",
        "LongRunHighGrayLevelEmphasis",
        "LongRunLowGrayLevelEmphasis",
        "LowGrayLevelRunEmphasis",
        "RunEntropy",
        "RunLengthNonUniformity",
        "RunLengthNonUniformityNormalized",
        "RunPercentage",
        "RunVariance",
        "ShortRunEmphasis",
        "ShortRunHighGrayLevelEmphasis",
        "ShortRunLowGrayLevelEmphasis",
    ],
    "glszm": [
        "GrayLevelNonUniformity",
        "GrayLevelNonUniformityNormalized",
        "GrayLevelVariance",
        "HighGrayLevelZoneEmphasis",
        "LargeAreaEmphasis",
        "LargeAreaHighGrayLevelEmphasis",
        "LargeAreaLowGrayLevelEmphasis",
        "LowGrayLevelZoneEmphasis",
        "SizeZoneNonUniformity",
        "SizeZoneNonUniformityNormalized",
        "SmallAreaEmphasis",
        "SmallAreaHighGrayLevelEmphasis",
        "SmallAreaLowGrayLevelEmphasis",
        "ZoneEntropy",
        "ZonePercentage",
        "ZoneVariance",
    ],
    "ngtdm": ["Busyness", "Coarseness", "Complexity", "Contrast", "Strength"],
}
# Image types in the order pyradiomics' extractor emits them when all are enabled.
_IMAGE_TYPES = (
    ["original"]
    + [f"wavelet-{c}" for c in ("LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH", "LLL")]
    + [f"log-sigma-{s}-0-mm-3D" for s in (1, 2, 3, 4, 5)]
    + ["square", "squareroot", "logarithm", "exponential", "gradient", "lbp-3D-m1", "lbp-3D-k"]
)

# Table 1 of the paper: counts per primary site, (negative, positive) for each endpoint.
_SITES = {"larynx": 49, "oropharynx": 88}
_ENDPOINT_COUNTS: dict[str, dict[str, tuple[int, int]]] = {
    # 3-year overall survival "No: Yes" = died : survived. Positive class = survived.
    "survival_3y": {"larynx": (11, 38), "oropharynx": (27, 61)},
    "local_recurrence": {"larynx": (37, 12), "oropharynx": (76, 12)},
    "distant_metastasis": {"larynx": (48, 1), "oropharynx": (81, 7)},
}
ENDPOINTS: tuple[str, ...] = tuple(_ENDPOINT_COUNTS)


def radiomics_feature_names(n_features: int = 1652) -> list[str]:
    """Radiomics-style column names, in the order pyradiomics would emit them.

    The original image gives the 14 shape features and the 93 first-order and
    texture features; each filtered image type (wavelet sub-bands, Laplacian of
    Gaussian, square, ...) adds another 93. When ``n_features`` exceeds the
    2153 distinct names, ``_2``, ``_3``, ... copies are appended.

    Parameters
    ----------
    n_features : int, default=1652
        Number of names.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from pitfalls.datasets import radiomics_feature_names
    >>> radiomics_feature_names(3)
    ['original_shape_Elongation', 'original_shape_Flatness', 'original_shape_LeastAxisLength']
    >>> radiomics_feature_names(1652)[-1]
    'exponential_glrlm_GrayLevelNonUniformity'
    """
    base = [f"original_shape_{name}" for name in _SHAPE]
    for image_type in _IMAGE_TYPES:
        for family, names in _TEXTURE_FAMILIES.items():
            base.extend(f"{image_type}_{family}_{name}" for name in names)
    names = base[:n_features]
    copy = 2
    while len(names) < n_features:
        names.extend(f"{name}_{copy}" for name in base[: n_features - len(names)])
        copy += 1
    return names


def _scaled_counts(counts: tuple[int, int], n_site: int, n_site_paper: int) -> tuple[int, int]:
    """(negative, positive) counts for a site scaled from the paper's to ``n_site``."""
    n_pos = round(counts[1] * n_site / n_site_paper)
    n_pos = min(max(n_pos, 1 if n_site >= 2 else 0), n_site - 1) if n_site >= 2 else 0
    return n_site - n_pos, n_pos


def _clinical_table(n_patients: int, rng: np.random.RandomState) -> pd.DataFrame:
    """Patient ids, primary site and the three endpoints with Table 1's counts per site."""
    n_paper = sum(_SITES.values())
    n_larynx = round(n_patients * _SITES["larynx"] / n_paper)
    site = np.array(["larynx"] * n_larynx + ["oropharynx"] * (n_patients - n_larynx), dtype=object)
    table = pd.DataFrame(
        {"patient_id": [f"HN-{i + 1:03d}" for i in range(n_patients)], "site": site}
    )
    for endpoint, per_site in _ENDPOINT_COUNTS.items():
        labels = np.zeros(n_patients, dtype=np.int64)
        for name, n_site_paper in _SITES.items():
            idx = np.flatnonzero(site == name)
            n_neg, n_pos = _scaled_counts(per_site[name], idx.size, n_site_paper)
            labels[idx] = rng.permutation(np.r_[np.zeros(n_neg), np.ones(n_pos)])
        table[endpoint] = labels
    return table


def _latent_features(
    n_patients: int, n_features: int, rng: np.random.RandomState, block_size: int = 31
) -> np.ndarray:
    """Standard-normal features correlated through a tumour-size factor and block factors.

    Real radiomics features are strongly correlated: many track tumour volume, and
    features of one family on one filtered image move together. Each feature
    loads on the global factor and on two factors of its block.
    """
    global_factor = rng.standard_normal((n_patients, 1))
    n_blocks = -(-n_features // block_size)
    block_factors = rng.standard_normal((n_patients, n_blocks, 2))
    block_of = np.arange(n_features) // block_size
    w_global = rng.uniform(0.0, 0.7, n_features)
    w_block = rng.uniform(-0.8, 0.8, (n_features, 2))
    shared = global_factor * w_global + np.einsum(
        "nfk,fk->nf", block_factors[:, block_of, :], w_block
    )
    shared_var = w_global**2 + (w_block**2).sum(axis=1)
    unique = rng.standard_normal((n_patients, n_features)) * 0.5
    return (shared + unique) / np.sqrt(shared_var + 0.25)


def _to_radiomics_scale(z: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Monotone, feature-specific transforms: skew, heavy tails and scales from 1e-3 to 1e6."""
    n_features = z.shape[1]
    kind = rng.choice(3, size=n_features, p=[0.3, 0.5, 0.2])
    out = np.where(kind == 0, z, 0.0)
    out = np.where(kind == 1, np.exp(rng.uniform(0.3, 1.0, n_features) * z), out)
    out = np.where(kind == 2, np.sinh(1.5 * z), out)  # heavy tails on both sides
    scale = 10.0 ** rng.uniform(-3, 6, n_features)
    offset = np.where(kind == 1, 0.0, rng.normal(0.0, 3.0, n_features)) * scale
    return out * scale + offset


@overload
def make_radiomics_cohort(
    n_patients: int = ...,
    n_features: int = ...,
    *,
    endpoint: str = ...,
    n_informative: int = ...,
    effect_size: float = ...,
    constant_fraction: float = ...,
    return_manifest: Literal[False] = ...,
    random_state: int | np.random.RandomState | None = ...,
) -> tuple[pd.DataFrame, pd.Series]: ...


@overload
def make_radiomics_cohort(
    n_patients: int = ...,
    n_features: int = ...,
    *,
    endpoint: str = ...,
    n_informative: int = ...,
    effect_size: float = ...,
    constant_fraction: float = ...,
    return_manifest: Literal[True],
    random_state: int | np.random.RandomState | None = ...,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]: ...


def make_radiomics_cohort(
    n_patients: int = 137,
    n_features: int = 1652,
    *,
    endpoint: str = "local_recurrence",
    n_informative: int = 5,
    effect_size: float = 0.5,
    constant_fraction: float = 0.02,
    return_manifest: bool = False,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[pd.DataFrame, pd.Series] | tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Simulate a head-and-neck radiomics cohort with the paper's endpoint prevalences.

    What it simulates: one row per patient, ``n_features`` pyradiomics-named
    features (``original_shape_VoxelVolume``, ``wavelet-LLH_glszm_ZoneEntropy``,
    ...) that are correlated through a tumour-size factor and through factors
    shared by a feature family on one filtered image, transformed to be skewed or
    heavy tailed and on scales from 1e-3 to 1e6. About ``constant_fraction`` of
    the features are constant (as some filtered-image features are in real
    extractions), so ``VarianceThreshold`` has work to do. Labels follow Table 1
    of the paper per primary site (49 larynx, 88 oropharynx at the default size):

    ======================  ============  ==========================================
    endpoint                positives     positive class
    ======================  ============  ==========================================
    ``local_recurrence``    24 / 137      recurrence ("Local Recurrence: Yes")
    ``survival_3y``         99 / 137      survived 3 years ("Overall Survival: Yes")
    ``distant_metastasis``  8 / 137       metastasis ("Distant Metastasis: Yes")
    ======================  ============  ==========================================

    For survival, Table 1's "3-Year Overall Survival (No: Yes)" reads 11:38 and
    27:61, i.e. 38 deaths and 99 survivors; the positive class is "Yes" (survived),
    which is the reading consistent with the paper's F1 of 0.75-0.80 at an
    accuracy of 0.64-0.72 (Table 2, models G and H).

    Only ``n_informative`` features per endpoint carry signal: their value before
    the monotone transform is shifted by ``effect_size`` standard deviations
    between classes. Each endpoint has its own informative features, and the
    labels of the three endpoints are drawn independently, so ``X`` does not
    depend on ``endpoint`` (the same seed gives the same table for every
    endpoint).

    Why the pitfalls inflate scores on it, for the paper's reasons only:
    oversampling before the split puts exact copies of minority patients on
    both sides of it, so the test set holds rows the forest has memorised;
    feature selection on all data picks, out of ~1650 noise features, those that
    happen to correlate with the label in the test rows too. With the correct
    protocol, scores stay at what a few weak features allow.

    Parameters
    ----------
    n_patients : int, default=137
        Number of patients. Sites and endpoint counts are scaled from Table 1.
    n_features : int, default=1652
        Number of features (the paper's pyradiomics extraction gives 1652).
    endpoint : {"local_recurrence", "survival_3y", "distant_metastasis"}, \
default="local_recurrence"
        Which endpoint ``y`` holds.
    n_informative : int, default=5
        Features that carry a weak signal about each endpoint.
    effect_size : float, default=0.5
        Class difference of each informative feature, in standard deviations of
        its latent (pre-transform) value. 0 gives a cohort with no signal at all.
    constant_fraction : float, default=0.02
        Fraction of features that are constant.
    return_manifest : bool, default=False
        Also return a per-patient table: ``patient_id``, ``site`` and all three
        endpoints (0/1), indexed like ``X``.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible cohorts.

    Returns
    -------
    X : DataFrame of shape (n_patients, n_features)
        Features, indexed by patient id (``HN-001``, ...).
    y : Series of shape (n_patients,)
        0/1 labels of ``endpoint``, named after it, same index as ``X``.
    manifest : DataFrame of shape (n_patients, 5)
        Only when ``return_manifest=True``.

    Examples
    --------
    >>> from pitfalls.datasets import make_radiomics_cohort
    >>> X, y = make_radiomics_cohort(random_state=0)
    >>> X.shape, int(y.sum())
    ((137, 1652), 24)
    >>> X.columns[0], X.index[0]
    ('original_shape_Elongation', 'HN-001')
    >>> X, y, manifest = make_radiomics_cohort(
    ...     n_features=50, endpoint="survival_3y", return_manifest=True, random_state=0)
    >>> int(y.sum()), manifest.groupby("site")["survival_3y"].sum().to_dict()
    (99, {'larynx': 38, 'oropharynx': 61})
    """
    _check_arguments(
        n_patients, n_features, endpoint, n_informative, effect_size, constant_fraction
    )
    rng = check_random_state(random_state)
    clinical = _clinical_table(n_patients, rng)
    z = _latent_features(n_patients, n_features, rng)

    n_constant = round(constant_fraction * n_features)
    order = rng.permutation(n_features)
    constant_cols = order[:n_constant]
    free_cols = order[n_constant:]
    for k, name in enumerate(ENDPOINTS):
        informative = free_cols[k * n_informative : (k + 1) * n_informative]
        labels = clinical[name].to_numpy()
        # Shift by +-effect_size/2 so the class difference is effect_size SDs.
        z[:, informative] += effect_size * (labels[:, None] - 0.5)

    values = _to_radiomics_scale(z, rng)
    # Whole numbers, so the columns are exactly constant in floating point too.
    values[:, constant_cols] = np.round(values[0, constant_cols])
    index = pd.Index(clinical["patient_id"], name="patient_id")
    X = pd.DataFrame(values, index=index, columns=radiomics_feature_names(n_features))
    y = pd.Series(clinical[endpoint].to_numpy(), index=index, name=endpoint)
    if return_manifest:
        return X, y, clinical.set_index(index, drop=False)
    return X, y


def _check_arguments(
    n_patients: int,
    n_features: int,
    endpoint: str,
    n_informative: int,
    effect_size: float,
    constant_fraction: float,
) -> None:
    if endpoint not in _ENDPOINT_COUNTS:
        raise ValueError(
            f"endpoint={endpoint!r} is not supported; use one of "
            f"{', '.join(repr(e) for e in ENDPOINTS)}."
        )
    if n_patients < 4:
        raise ValueError(f"n_patients={n_patients} is too small; use n_patients >= 4.")
    if not 0.0 <= constant_fraction < 1.0:
        raise ValueError(
            f"constant_fraction={constant_fraction} is out of range; use 0 <= constant_fraction < 1."
        )
    needed = len(ENDPOINTS) * n_informative + round(constant_fraction * n_features)
    if n_informative < 0 or needed > n_features:
        raise ValueError(
            f"n_informative={n_informative} is out of range for n_features={n_features}: "
            f"the three endpoints and the constant features need {needed} columns; "
            f"use 0 <= n_informative <= {(n_features - round(constant_fraction * n_features)) // 3}."
        )
    if effect_size < 0:
        raise ValueError(f"effect_size={effect_size} is negative; use effect_size >= 0.")
