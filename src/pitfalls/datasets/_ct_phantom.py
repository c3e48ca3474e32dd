"""Synthetic chest-abdomen CT volumes with lung masks, for the air-in-body baseline."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["make_ct_phantom"]

# Typical attenuation in Hounsfield units.
AIR_HU = -1000.0
LUNG_HU = -850.0
FAT_HU = -100.0
SOFT_TISSUE_HU = 40.0
TABLE_HU = 150.0


def _check_shape(shape: Any) -> tuple[int, int, int]:
    dims = tuple(int(v) for v in shape)
    if len(dims) != 3 or min(dims) < 8:
        raise ValueError(
            f"shape={tuple(shape)!r} is invalid; use (n_slices, height, width) with every "
            "size >= 8, e.g. (48, 128, 128)."
        )
    return dims[0], dims[1], dims[2]


def _box(
    shape: tuple[int, ...], low: np.ndarray, high: np.ndarray
) -> tuple[tuple[slice, ...], tuple[np.ndarray, ...]] | None:
    """Index box covering [low, high] (voxel coordinates) and its coordinate grids."""
    lo = np.maximum(np.floor(low).astype(int), 0)
    hi = np.minimum(np.ceil(high).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return None
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    axes = [np.arange(a, b, dtype=np.float32) for a, b in zip(lo, hi, strict=True)]
    grids = (axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :])
    return box, grids


def _paint_ellipsoid(
    mask: np.ndarray, center: tuple[float, float, float], radii: tuple[float, float, float]
) -> None:
    """Set the voxels of an axis-aligned ellipsoid to True (only its box is computed)."""
    c, r = np.asarray(center, dtype=float), np.asarray(radii, dtype=float)
    found = _box(mask.shape, c - r, c + r)
    if found is None:
        return
    box, (z, y, x) = found
    inside = ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1.0
    mask[box] |= inside


def _paint_tube(mask: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float) -> None:
    """Set the voxels within ``radius`` of the segment start-end to True."""
    found = _box(mask.shape, np.minimum(start, end) - radius, np.maximum(start, end) + radius)
    if found is None:
        return
    box, (z, y, x) = found
    seg = end - start
    t = ((z - start[0]) * seg[0] + (y - start[1]) * seg[1] + (x - start[2]) * seg[2]) / max(
        float(seg @ seg), 1e-9
    )
    t = np.clip(t, 0.0, 1.0)
    dist2 = (
        (z - start[0] - t * seg[0]) ** 2
        + (y - start[1] - t * seg[1]) ** 2
        + (x - start[2] - t * seg[2]) ** 2
    )
    mask[box] |= dist2 <= radius**2


class _Torso(NamedTuple):
    """Where one patient's body sits in the slice (pixels), and its soft-tissue core."""

    cy: float
    cx: float
    half_h: float
    half_w: float
    inner: np.ndarray  # (height, width) bool: inside the subcutaneous fat ring


class _Lungs(NamedTuple):
    mask: np.ndarray  # (n_slices, height, width) bool: the reference lung mask
    centers: list[tuple[float, float]]  # (x, y) of each lung
    apex: float  # slice of the lung tips
    base: float  # slice of the diaphragm


def _body(shape: tuple[int, int, int], rng: np.random.Generator) -> tuple[np.ndarray, _Torso]:
    """Elliptic cylinder through every slice (the scan stays within the torso), a
    subcutaneous fat ring around soft tissue. Size and position vary per patient."""
    _, height, width = shape
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    cy = height * (0.5 + rng.uniform(-0.04, 0.04))
    cx = width * (0.5 + rng.uniform(-0.04, 0.04))
    half_w = width * rng.uniform(0.38, 0.45)
    half_h = height * rng.uniform(0.27, 0.34)
    fat = rng.uniform(0.04, 0.10)
    body = ((y - cy) / half_h) ** 2 + ((x - cx) / half_w) ** 2 <= 1.0
    inner = ((y - cy) / (half_h * (1 - fat))) ** 2 + ((x - cx) / (half_w * (1 - fat))) ** 2 <= 1.0
    image = np.full(shape, AIR_HU, dtype=np.float32)
    image[:, body] = FAT_HU
    image[:, inner] = SOFT_TISSUE_HU
    return image, _Torso(cy, cx, half_h, half_w, inner)


def _add_table(image: np.ndarray, torso: _Torso, rng: np.random.Generator) -> None:
    """Patient table under the back, separated by an air gap (outside air)."""
    _, height, width = image.shape
    top = int(torso.cy + torso.half_h + rng.uniform(0.02, 0.04) * height)
    thickness = max(1, int(0.03 * height))
    if top + thickness < height:
        image[:, top : top + thickness, int(0.08 * width) : int(0.92 * width)] = TABLE_HU


def _add_lungs(image: np.ndarray, torso: _Torso, rng: np.random.Generator) -> _Lungs:
    """The upper halves of two ellipsoids centred on the diaphragm, so each lung runs
    from its apex (near the first slice) to a dome-shaped base; the slices below the
    lungs are upper abdomen."""
    n_slices = image.shape[0]
    apex = n_slices * rng.uniform(0.0, 0.06)
    base = n_slices * rng.uniform(0.5, 0.65)
    lung_half_w = torso.half_w * rng.uniform(0.24, 0.3)
    lung_half_h = torso.half_h * rng.uniform(0.55, 0.68)
    lungs = np.zeros(image.shape, dtype=bool)
    centers = []
    for side in (-1.0, 1.0):
        lx = torso.cx + side * torso.half_w * rng.uniform(0.36, 0.42)
        ly = torso.cy + torso.half_h * rng.uniform(-0.08, 0.05)
        _paint_ellipsoid(lungs, (base, ly, lx), (base - apex, lung_half_h, lung_half_w))
        centers.append((lx, ly))
    lungs[int(np.ceil(base)) :] = False
    image[lungs] = LUNG_HU + rng.normal(0.0, 30.0, size=int(lungs.sum()))
    return _Lungs(lungs, centers, apex, base)


def _add_vessels(image: np.ndarray, torso: _Torso, lungs: _Lungs, rng: np.random.Generator) -> None:
    """Soft-tissue tubes fanning out from each hilum. They belong to the reference lung
    mask (as in expert contours) but are above -400 HU."""
    vessels = np.zeros(image.shape, dtype=bool)
    vessel_radius = max(0.6, image.shape[2] * rng.uniform(0.004, 0.007))
    lung_z, lung_y, lung_x = np.nonzero(lungs.mask)
    for lx, ly in lungs.centers:
        hilum = np.array(
            [lungs.apex + (lungs.base - lungs.apex) * 0.55, ly, lx + (torso.cx - lx) * 0.35]
        )
        same_side = np.flatnonzero((lung_x - torso.cx) * (lx - torso.cx) > 0)
        for tip in rng.choice(same_side, size=rng.integers(6, 14)):
            end = np.array([lung_z[tip], lung_y[tip], lung_x[tip]], dtype=float)
            _paint_tube(vessels, hilum, end, vessel_radius)
    image[vessels & lungs.mask] = SOFT_TISSUE_HU


def _add_airway(
    image: np.ndarray, torso: _Torso, lungs: _Lungs, rng: np.random.Generator, *, connected: bool
) -> None:
    """The trachea runs from the first slice to the carina (air, not lung in the
    reference mask); main bronchi join it to the lungs when ``connected``."""
    airway = np.zeros(image.shape, dtype=bool)
    radius = max(1.0, image.shape[2] * rng.uniform(0.018, 0.026))
    carina = np.array(
        [
            lungs.apex + (lungs.base - lungs.apex) * rng.uniform(0.3, 0.4),
            torso.cy - torso.half_h * rng.uniform(0.15, 0.25),
            torso.cx,
        ]
    )
    _paint_tube(airway, np.array([0.0, carina[1], carina[2]]), carina, radius)
    if connected:
        for lx, ly in lungs.centers:
            hilum = np.array([carina[0] + (lungs.base - carina[0]) * 0.3, ly, lx])
            _paint_tube(airway, carina, hilum, radius * 0.7)
    image[airway] = AIR_HU


def _add_bowel_gas(
    image: np.ndarray, torso: _Torso, lungs: _Lungs, rng: np.random.Generator
) -> None:
    """Gas in the stomach (under the left dome) and in bowel loops below the lungs:
    enclosed air that the threshold baseline counts as lung."""
    base = lungs.base
    below = image.shape[0] - base
    gas = np.zeros(image.shape, dtype=bool)
    stomach_x, stomach_y = lungs.centers[1]
    _paint_ellipsoid(
        gas,
        (base + below * rng.uniform(0.1, 0.25), stomach_y, stomach_x),
        (
            below * rng.uniform(0.08, 0.25),
            torso.half_h * rng.uniform(0.15, 0.4),
            torso.half_w * rng.uniform(0.1, 0.25),
        ),
    )
    for _ in range(rng.integers(4, 22)):
        angle, frac = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.6)
        _paint_ellipsoid(
            gas,
            (
                base + below * rng.uniform(0.15, 0.95),
                torso.cy + np.sin(angle) * frac * torso.half_h,
                torso.cx + np.cos(angle) * frac * torso.half_w,
            ),
            (
                below * rng.uniform(0.05, 0.18),
                torso.half_h * rng.uniform(0.06, 0.18),
                torso.half_w * rng.uniform(0.05, 0.14),
            ),
        )
    gas[: int(np.floor(base)) + 1] = False
    gas &= torso.inner[None]
    image[gas] = AIR_HU


def _one_case(
    shape: tuple[int, int, int],
    rng: np.random.Generator,
    *,
    noise: float,
    table: bool,
    airway_connected: bool,
    bowel_gas: bool,
) -> tuple[np.ndarray, np.ndarray]:
    # the phases draw from rng in this order: keep it, or every seed's case changes
    image, torso = _body(shape, rng)
    if table:
        _add_table(image, torso, rng)
    lungs = _add_lungs(image, torso, rng)
    _add_vessels(image, torso, lungs, rng)
    _add_airway(image, torso, lungs, rng, connected=airway_connected)
    if bowel_gas:
        _add_bowel_gas(image, torso, lungs, rng)
    image += rng.normal(0.0, noise, size=shape).astype(np.float32)
    return np.clip(np.rint(image), -1024, 3071).astype(np.int16), lungs.mask


def make_ct_phantom(
    n_cases: int = 10,
    shape: tuple[int, int, int] = (48, 128, 128),
    *,
    noise: float = 15.0,
    table: bool = True,
    airway_connected: bool | float = 0.5,
    bowel_gas: bool = True,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic chest-upper-abdomen CT volumes in HU with reference lung masks.

    Simulates what makes the paper's air-in-body baseline look good and imperfect:
    a body (soft tissue at 40 HU in a subcutaneous fat ring at -100 HU) surrounded by
    outside air (-1000 HU) and, optionally, a patient table; two lungs (-850 HU with
    parenchymal texture) from the apex to a dome-shaped base; a trachea of air from the
    first slice down to the carina, joined to the lungs by main bronchi or not; gas
    (air) in the stomach under the left dome and in bowel loops in the slices below
    the lungs; Gaussian noise. Body size and position, lung size and extent, airway
    calibre and the amount of gas vary between cases.

    The reference masks contain the lungs only, like expert lung segmentations, so
    :func:`pitfalls.baselines.air_in_body_mask` finds the lungs almost perfectly but
    also counts the airway and the gas as lung: its Dice against these masks lands
    around 0.85-0.97 (the paper reports 0.84-0.97 on real CT) for that reason alone,
    not through any choice of threshold.

    Parameters
    ----------
    n_cases : int, default=10
        Number of volumes.
    shape : (int, int, int), default=(48, 128, 128)
        ``(n_slices, height, width)`` of each volume; slice 0 is the most cranial.
    noise : float, default=15.0
        Standard deviation of the Gaussian image noise, in HU.
    table : bool, default=True
        Draw a patient table under the body.
    airway_connected : bool or float, default=0.5
        Whether main bronchi join the trachea to the lungs; a float is the probability
        per case.
    bowel_gas : bool, default=True
        Add stomach and bowel gas below the lungs.
    random_state : int, numpy Generator or None
        Seed; the same seed gives the same volumes.

    Returns
    -------
    images : ndarray of int16, shape (n_cases, n_slices, height, width)
        CT volumes in Hounsfield units.
    lung_masks : ndarray of bool, same shape
        Reference lung masks (trachea, bronchi outside the lungs and gas excluded).

    Examples
    --------
    >>> from pitfalls.datasets._ct_phantom import make_ct_phantom
    >>> from pitfalls.baselines import air_in_body_mask
    >>> from pitfalls.metrics import dice_score
    >>> images, lungs = make_ct_phantom(n_cases=2, shape=(24, 64, 64), random_state=0)
    >>> images.shape, images.dtype, lungs.dtype
    ((2, 24, 64, 64), dtype('int16'), dtype('bool'))
    >>> dice = [dice_score(m, air_in_body_mask(img)) for img, m in zip(images, lungs)]
    >>> all(0.8 < d < 1.0 for d in dice)
    True
    """
    if not isinstance(n_cases, (int, np.integer)) or n_cases < 1:
        raise ValueError(f"n_cases={n_cases!r} is invalid; use a positive integer.")
    dims = _check_shape(shape)
    if noise < 0:
        raise ValueError(f"noise={noise!r} must be >= 0 (a standard deviation in HU).")
    p_connected = float(airway_connected)
    if not 0.0 <= p_connected <= 1.0:
        raise ValueError(
            f"airway_connected={airway_connected!r} must be a bool or a probability in [0, 1]."
        )
    rng = np.random.default_rng(random_state)
    images = np.empty((n_cases, *dims), dtype=np.int16)
    masks = np.empty((n_cases, *dims), dtype=bool)
    for i in range(n_cases):
        images[i], masks[i] = _one_case(
            dims,
            rng,
            noise=float(noise),
            table=table,
            airway_connected=bool(rng.random() < p_connected),
            bowel_gas=bowel_gas,
        )
    return images, masks
