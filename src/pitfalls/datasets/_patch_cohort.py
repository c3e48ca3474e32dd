"""Synthetic H&E-like patches of solid and acinar lung adenocarcinoma, several per patient.

The paper (models C-F) classifies 1024-px patches cut from 110 whole-slide images
(51 solid-, 59 acinar-predominant) with a ResNet-50. Patches of one slide share far
more than their growth pattern: the stain batch, the scanner's blur and noise, the
patient's nucleus size and density. This module simulates exactly that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.utils import check_random_state

__all__ = ["make_patch_cohort"]

# Optical densities of haematoxylin and eosin per RGB channel (Ruifrok & Johnston).
_HAEMATOXYLIN = np.array([0.65, 0.70, 0.29])
_EOSIN = np.array([0.07, 0.99, 0.11])
_N_GLANDS = 2  # candidate gland sites per patch
_MAX_RENDER_SIZE = 64


def _patient_signatures(n_patients: int, strength: float, rng: np.random.RandomState) -> dict:
    """Per-patient stain, scanner and tissue parameters shared by all of a patient's patches."""

    def jitter(size: tuple[int, ...] | int, scale: float) -> np.ndarray:
        return 1.0 + strength * scale * rng.uniform(-1, 1, size)

    return {
        "h_vector": _HAEMATOXYLIN * jitter((n_patients, 3), 0.35),
        "e_vector": _EOSIN * jitter((n_patients, 3), 0.35),
        "h_amount": 1.2 * jitter(n_patients, 0.4),
        "e_amount": 0.55 * jitter(n_patients, 0.5),
        "brightness": 1.0 - strength * rng.uniform(0.0, 0.15, n_patients),
        "blur": 0.3 + strength * rng.uniform(0.0, 0.9, n_patients),
        "noise": 2.0 + strength * rng.uniform(0.0, 8.0, n_patients),
        "nucleus_size": jitter(n_patients, 0.45),
        "density": jitter(n_patients, 0.4),
        "ring_effect": strength * rng.normal(0.0, 0.7, n_patients),
    }


def _nuclei_and_lumen(
    ring_logit: np.ndarray, size: int, density: np.ndarray, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Nucleus count map and lumen mask per patch.

    Solid pattern = sheets of scattered nuclei; acinar pattern = nuclei lined up
    on rings (glands) around an empty lumen. Each nucleus sits on a ring with
    probability ``sigmoid(ring_logit)`` of its patch.
    """
    n = ring_logit.size
    n_nuclei = 57  # per patch at any size: structures scale with the patch
    centres = rng.uniform(0.25, 0.75, (n, _N_GLANDS, 2)) * size
    radius = rng.uniform(0.12, 0.22, (n, _N_GLANDS)) * size
    gland = rng.randint(_N_GLANDS, size=(n, n_nuclei))
    angle = rng.uniform(0, 2 * np.pi, (n, n_nuclei))
    r = np.take_along_axis(radius, gland, axis=1) * rng.normal(1.0, 0.08, (n, n_nuclei))
    c = np.take_along_axis(centres, gland[..., None], axis=1)
    on_ring = c + r[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    scattered = rng.uniform(0, size, (n, n_nuclei, 2))
    p_ring = 1.0 / (1.0 + np.exp(-ring_logit))
    ring = rng.uniform(size=(n, n_nuclei)) < p_ring[:, None]
    # Patients differ in cellularity: drop nuclei to each patch's density.
    kept = rng.uniform(size=(n, n_nuclei)) < np.clip(density, 0.1, 1.0)[:, None]
    points = np.where(ring[..., None], on_ring, scattered)
    ij = np.floor(points).astype(np.int64)
    inside = kept & (ij >= 0).all(-1) & (ij < size).all(-1)
    counts = np.zeros((n, size, size))
    patch = np.broadcast_to(np.arange(n)[:, None], ij.shape[:2])
    np.add.at(counts, (patch[inside], ij[..., 0][inside], ij[..., 1][inside]), 1.0)

    # A gland has a lumen only where enough nuclei line it.
    ring_share = np.stack([((gland == g) & ring).mean(axis=1) for g in range(_N_GLANDS)], 1)
    yy, xx = np.mgrid[0:size, 0:size]
    dist = np.hypot(yy - centres[..., 0, None, None], xx - centres[..., 1, None, None])
    lumen = (dist < 0.7 * radius[..., None, None]) & (ring_share[..., None, None] > 0.15)
    return counts, lumen.any(axis=1)


def make_patch_cohort(
    n_patients: int = 110,
    patches_per_patient: int = 20,
    image_size: int = 32,
    *,
    class_signal: float = 1.0,
    patient_signal: float = 1.0,
    acinar_fraction: float = 59 / 110,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Simulate H&E-like patches of solid vs acinar lung adenocarcinoma, grouped by patient.

    What it simulates: each patient (slide) is solid- or acinar-predominant
    (51 and 59 of 110 in the paper). Nuclei (haematoxylin, purple) lie scattered in
    sheets in solid tissue and line up on rings around empty lumens (glands) in
    acinar tissue, over an eosin (pink) stroma; colours follow the Beer-Lambert
    stain model. The *class signal is weak*: every patch mixes both arrangements,
    acinar patches only lean towards rings (``class_signal`` on the logit of the
    ring probability) and patients vary around their class. The *patient
    signature is strong*: stain hue and amount, scanner blur and noise,
    brightness, nucleus size and cellularity are drawn once per patient and
    shared by all of the patient's patches.

    Why a patch-level split inflates scores: with a patient's patches on both
    sides of the split, a network can recognise the patient's signature in the
    test patch and return the label it learned for that patient, so the score
    measures patient recognition. With a patient-level split the signature is
    useless (it is independent of the label) and only the weak ring/sheet signal
    is left. Augmentation before the split inflates for the same reason:
    augmented copies of a test patch sit in the training set.

    Parameters
    ----------
    n_patients : int, default=110
        Number of patients (one slide each).
    patches_per_patient : int, default=20
        Patches cut from each slide (the paper used 200 of 1024 px).
    image_size : int, default=32
        Patch side in pixels; small by default so CPU training is quick.
    class_signal : float, default=1.0
        Difference in the logit of the probability that a nucleus lines a gland
        between acinar and solid patches. 0 makes the classes identical.
    patient_signal : float, default=1.0
        Strength of the per-patient stain/scanner/tissue signature; 0 makes all
        patients look alike apart from their class.
    acinar_fraction : float, default=59/110
        Share of acinar-predominant patients.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible cohorts.

    Returns
    -------
    images : ndarray of shape (n_patients * patches_per_patient, image_size, image_size, 3)
        RGB patches, ``uint8``.
    manifest : DataFrame
        One row per patch, row ``i`` describes ``images[i]``: ``patch_id``,
        ``patient_id``, ``label`` (1 = acinar, 0 = solid), ``pattern``
        (``"acinar"``/``"solid"``) and ``index`` (the row in ``images``).

    Examples
    --------
    >>> from pitfalls.datasets import make_patch_cohort
    >>> images, manifest = make_patch_cohort(n_patients=4, patches_per_patient=3, random_state=0)
    >>> images.shape, images.dtype
    ((12, 32, 32, 3), dtype('uint8'))
    >>> manifest.columns.tolist()
    ['patch_id', 'patient_id', 'label', 'pattern', 'index']
    >>> int(manifest.groupby("patient_id")["label"].nunique().max())
    1
    """
    _check_patch_arguments(
        n_patients, patches_per_patient, image_size, class_signal, patient_signal, acinar_fraction
    )
    rng = check_random_state(random_state)
    n_acinar = round(acinar_fraction * n_patients)
    patient_label = rng.permutation(np.r_[np.zeros(n_patients - n_acinar), np.ones(n_acinar)])
    sig = _patient_signatures(n_patients, patient_signal, rng)
    patient = np.repeat(np.arange(n_patients), patches_per_patient)
    label = patient_label[patient].astype(np.int64)

    ring_logit = (
        -1.0
        + class_signal * (label - 0.5)
        + sig["ring_effect"][patient]
        + rng.normal(0.0, 0.6, patient.size)
    )
    images = np.empty((patient.size, image_size, image_size, 3), dtype=np.uint8)
    # Tissue is drawn at up to 64 px and enlarged, so 224-px patches cost little more
    # than 64-px ones; noise is added at full size.
    render_size = min(image_size, _MAX_RENDER_SIZE)
    scale = render_size / 32  # keep structures the same relative size at any image_size
    # One patient at a time keeps memory flat at paper scale (22000 patches).
    for p in range(n_patients):
        rows = slice(p * patches_per_patient, (p + 1) * patches_per_patient)
        counts, lumen = _nuclei_and_lumen(
            ring_logit[rows], render_size, sig["density"][patient[rows]], rng
        )
        images[rows] = _render(counts, lumen, sig, p, scale, rng, image_size)

    manifest = pd.DataFrame(
        {
            "patch_id": [
                f"P{p + 1:03d}-{k:03d}"
                for p in range(n_patients)
                for k in range(patches_per_patient)
            ],
            "patient_id": [f"P{p + 1:03d}" for p in patient],
            "label": label,
            "pattern": np.where(label == 1, "acinar", "solid"),
            "index": np.arange(patient.size),
        }
    )
    return images, manifest


def _linear_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of linear interpolation between pixel centres, edges clamped.

    Applied along both axes as two matrix products, it resizes a stack of images
    much faster than ``scipy.ndimage.zoom``.
    """
    position = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    left = np.floor(position).astype(np.int64)
    right = np.minimum(left + 1, n_in - 1)
    frac = position - left
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), left), 1 - frac)
    np.add.at(weights, (np.arange(n_out), right), frac)
    return weights


def _render(
    counts: np.ndarray,
    lumen: np.ndarray,
    sig: dict,
    p: int,
    scale: float,
    rng: np.random.RandomState,
    out_size: int,
) -> np.ndarray:
    """Turn nucleus maps into RGB with patient ``p``'s stain, blur and noise."""
    sigma = 0.7 * scale * sig["nucleus_size"][p]
    nuclei = ndimage.gaussian_filter(counts, sigma=(0, sigma, sigma)) * (2 * np.pi * sigma**2)
    stroma_texture = ndimage.gaussian_filter(
        rng.standard_normal(counts.shape), sigma=(0, 2 * scale, 2 * scale)
    )
    eosin = sig["e_amount"][p] * (1.0 + 2.0 * stroma_texture) * ~lumen
    haem = sig["h_amount"][p] * np.clip(nuclei, 0, 1.5)
    density = (
        haem[..., None] * sig["h_vector"][p]
        + np.clip(eosin, 0, None)[..., None] * sig["e_vector"][p]
    )
    rgb = 255.0 * sig["brightness"][p] * np.exp(-density)
    blur = sig["blur"][p] * scale
    rgb = ndimage.gaussian_filter(rgb, sigma=(0, blur, blur, 0))
    if out_size != rgb.shape[1]:
        weights = _linear_resize_matrix(rgb.shape[1], out_size)
        rgb = np.einsum("oi,nijc,pj->nopc", weights, rgb, weights, optimize=True)
    rgb += rng.normal(0.0, sig["noise"][p], rgb.shape)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _check_patch_arguments(
    n_patients: int,
    patches_per_patient: int,
    image_size: int,
    class_signal: float,
    patient_signal: float,
    acinar_fraction: float,
) -> None:
    if n_patients < 2:
        raise ValueError(f"n_patients={n_patients} is too small; use n_patients >= 2.")
    if patches_per_patient < 1:
        raise ValueError(
            f"patches_per_patient={patches_per_patient} is too small; use patches_per_patient >= 1."
        )
    if image_size < 8:
        raise ValueError(f"image_size={image_size} is too small; use image_size >= 8.")
    if class_signal < 0 or patient_signal < 0:
        raise ValueError(
            f"class_signal={class_signal} and patient_signal={patient_signal} must both be >= 0."
        )
    if not 0.0 < acinar_fraction < 1.0:
        raise ValueError(
            f"acinar_fraction={acinar_fraction} is out of range; use 0 < acinar_fraction < 1."
        )
