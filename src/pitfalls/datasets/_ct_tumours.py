"""Small synthetic CT volumes with one tumour each, for demonstrating radiomics extraction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.stats import norm
from sklearn.utils import check_random_state

__all__ = ["make_ct_tumours"]


def _lobulated_ball(
    shape: tuple[int, int, int],
    spacing: np.ndarray,
    radius_mm: float,
    lobulation: float,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """A tumour mask whose radius varies smoothly with direction, and the normalised
    distance of each voxel from the centre (0 at the centre, 1 at the edge)."""
    centre = np.array(shape) / 2 + rng.uniform(-0.1, 0.1, 3) * np.array(shape)
    zz, yy, xx = np.indices(shape, dtype=float)
    offsets = (
        np.stack([zz - centre[0], yy - centre[1], xx - centre[2]]) * spacing[:, None, None, None]
    )
    distance = np.sqrt((offsets**2).sum(axis=0))
    direction = offsets / np.maximum(distance, 1e-9)
    # Low-order harmonics of the direction make the outline lobulated, not spherical.
    weights = rng.normal(0.0, 1.0, (3, 3))
    bumps = np.einsum("ij,j...->i...", weights, direction)
    radius = radius_mm * (1.0 + lobulation * np.tanh((bumps**2).sum(axis=0) - 1.0) / 2)
    relative = distance / radius
    return relative < 1.0, relative


def make_ct_tumours(
    n_cases: int = 10,
    *,
    shape: tuple[int, int, int] = (24, 48, 48),
    spacing: tuple[float, float, float] = (3.0, 1.0, 1.0),
    labels: Any = None,
    effect_size: float = 0.5,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Simulate small CT volumes (Hounsfield units) each holding one segmented tumour.

    What it simulates: a block of soft tissue (about 40 HU) with fat (about
    -100 HU) and a bone edge (about 700 HU), scanner noise, and one lobulated
    tumour per case that enhances (about 60-120 HU) with a necrotic, darker
    core in some cases. Tumour size, lobulation, enhancement, heterogeneity and
    necrosis vary from case to case, so shape, first-order and texture
    features all vary, and the per-case truths are returned in the manifest.
    The volumes are small so that pyradiomics runs in well under a second per
    case.

    Without ``labels`` the tumours carry no clinical signal; they demonstrate
    :func:`pitfalls.radiomics.extract_features`. With ``labels`` (e.g. an
    endpoint of :func:`make_radiomics_cohort`), positive cases are drawn a
    little larger, more lobulated, more heterogeneous and more often necrotic
    (each tumour property shifted by ``effect_size`` standard deviations on a
    probit scale), so a pyradiomics extraction of them gives a real radiomics
    table with a weak, image-borne signal.

    Parameters
    ----------
    n_cases : int, default=10
        Number of volumes.
    shape : tuple of 3 int, default=(24, 48, 48)
        Volume shape in numpy order ``(z, y, x)``.
    spacing : tuple of 3 float, default=(3.0, 1.0, 1.0)
        Voxel size in mm, in the same order as ``shape`` (thick axial slices).
    labels : array-like of 0/1, shape (n_cases,), optional
        Outcome of each case; positive tumours look more aggressive.
    effect_size : float, default=0.5
        Shift of each tumour property between classes (probit scale); used
        only with ``labels``.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible volumes.

    Returns
    -------
    volumes : ndarray of int16, shape ``(n_cases, *shape)``
        CT intensities in Hounsfield units.
    masks : ndarray of uint8, shape ``(n_cases, *shape)``
        Tumour masks (1 inside).
    manifest : DataFrame
        One row per case: ``case_id``, ``radius_mm``, ``lobulation``,
        ``enhancement_hu``, ``heterogeneity_hu``, ``necrosis`` (fraction of the
        radius that is necrotic, 0 for none), ``volume_ml`` (of the mask), and
        ``label`` when ``labels`` is given.

    Examples
    --------
    >>> from pitfalls.datasets import make_ct_tumours
    >>> volumes, masks, manifest = make_ct_tumours(3, random_state=0)
    >>> volumes.shape, volumes.dtype, masks.dtype
    ((3, 24, 48, 48), dtype('int16'), dtype('uint8'))
    >>> bool((masks.sum(axis=(1, 2, 3)) > 0).all())
    True
    >>> _, _, manifest = make_ct_tumours(4, labels=[0, 1, 0, 1], random_state=0)
    >>> manifest["label"].tolist()
    [0, 1, 0, 1]
    """
    if n_cases < 1:
        raise ValueError(f"n_cases={n_cases} is too small; use n_cases >= 1.")
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f"shape={tuple(shape)} must be 3 sizes of at least 8 voxels each.")
    if len(spacing) != 3 or min(spacing) <= 0:
        raise ValueError(f"spacing={tuple(spacing)} must be 3 positive voxel sizes in mm.")
    shift = _label_shift(labels, n_cases, effect_size)
    rng = check_random_state(random_state)

    def draw(low: float, high: float, case: int) -> float:
        # Uniform on [low, high] when shift is 0; pushed up for positive cases.
        return low + (high - low) * float(norm.cdf(rng.standard_normal() + shift[case]))

    spacing_arr = np.asarray(spacing, dtype=float)
    extent_mm = float(np.min(np.asarray(shape) * spacing_arr))
    volumes = np.empty((n_cases, *shape), dtype=np.int16)
    masks = np.empty((n_cases, *shape), dtype=np.uint8)
    rows = []
    for case in range(n_cases):
        radius = draw(0.15, 0.32, case) * extent_mm
        lobulation = draw(0.0, 0.6, case)
        enhancement = rng.uniform(60, 120)
        heterogeneity = draw(5, 30, case)
        necrotic = draw(0.0, 1.0, case) > 0.6
        necrosis = rng.uniform(0.4, 0.7) if necrotic else 0.0
        mask, relative = _lobulated_ball(shape, spacing_arr, radius, lobulation, rng)

        tissue = np.full(shape, 40.0)
        fat = ndimage.gaussian_filter(rng.standard_normal(shape), 3) > 0.15
        tissue[fat] = -100.0
        tissue[:, :, : max(2, shape[2] // 12)] = 700.0  # a bone edge at one side
        texture = ndimage.gaussian_filter(rng.standard_normal(shape), 1.0)
        texture /= texture.std()
        tumour = enhancement + heterogeneity * texture
        if necrosis:
            tumour = np.where(relative < necrosis, 15.0 + 0.5 * heterogeneity * texture, tumour)
        ct = np.where(mask, tumour, tissue)
        ct = ndimage.gaussian_filter(ct, 0.7) + rng.normal(
            0.0, 12.0, shape
        )  # partial volume, noise
        volumes[case] = np.clip(np.rint(ct), -1024, 3071)
        masks[case] = mask
        rows.append(
            {
                "case_id": f"CT-{case + 1:03d}",
                "radius_mm": radius,
                "lobulation": lobulation,
                "enhancement_hu": enhancement,
                "heterogeneity_hu": heterogeneity,
                "necrosis": necrosis,
                "volume_ml": mask.sum() * float(np.prod(spacing_arr)) / 1000.0,
            }
        )
    manifest = pd.DataFrame(rows)
    if labels is not None:
        manifest["label"] = np.asarray(labels).astype(np.int64)
    return volumes, masks, manifest


def _label_shift(labels: Any, n_cases: int, effect_size: float) -> np.ndarray:
    if labels is None:
        return np.zeros(n_cases)
    values = np.asarray(labels)
    if values.shape != (n_cases,) or not np.isin(values, [0, 1]).all():
        raise ValueError(
            f"labels must hold one 0/1 value per case ({n_cases}); got shape {values.shape} "
            f"with values {sorted(set(np.ravel(values).tolist()))[:5]}."
        )
    return effect_size * (values.astype(float) - 0.5)
