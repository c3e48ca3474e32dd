"""Synthetic chest X-rays from two sources with the label confounded by the source.

The paper's "Batch X-Ray" data set (model I) takes pneumonia images from a
paediatric population (Kermany et al.) and normal images from adults (RSNA
challenge). The source differs in anatomy, positioning and acquisition, so a
network can tell pneumonia from normal without looking at the lungs; on normal
paediatric images it calls nearly everything pneumonia (3.86% correct).
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.utils import check_random_state

__all__ = ["make_batch_xray"]

_CHUNK = 128  # images rendered at once

# Per-source acquisition and anatomy, at source_effect=1. "A" is paediatric-like
# (small thorax in a large field with head and arms in view, relatively large heart,
# more rotation, softer contrast); "B" is adult-like (thorax fills the frame).
_SOURCES: dict[str, dict[str, float]] = {
    "A": {"scale": 0.62, "heart": 0.30, "tilt": 9.0, "gamma": 0.75, "offset": 0.08, "blur": 1.0},
    "B": {"scale": 0.92, "heart": 0.22, "tilt": 3.0, "gamma": 1.25, "offset": 0.0, "blur": 0.5},
}


def _ellipse(u: np.ndarray, v: np.ndarray, cu: float, cv: float, ru: float, rv: float):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 < 1.0


def _source_parameters(source: str, n: int, effect: float, rng: np.random.RandomState) -> dict:
    """Per-image anatomy and acquisition: a source mean (pulled to the midpoint by
    ``effect``) plus patient-to-patient variation."""
    mid = {k: (_SOURCES["A"][k] + _SOURCES["B"][k]) / 2 for k in _SOURCES["A"]}
    mean = {k: mid[k] + effect * (_SOURCES[source][k] - mid[k]) for k in mid}
    return {
        "scale": mean["scale"] * rng.normal(1.0, 0.05, n),
        "heart": mean["heart"] * rng.normal(1.0, 0.08, n),
        "tilt": rng.normal(0.0, mean["tilt"], n),
        "shift_u": rng.normal(0.0, 0.04, n),
        "shift_v": rng.normal(0.0, 0.04, n),
        "gamma": mean["gamma"] * rng.normal(1.0, 0.05, n),
        "offset": mean["offset"] + rng.normal(0.0, 0.02, n),
        "blur": mean["blur"],
        "arms": np.full(n, effect * (1.0 if source == "A" else 0.0)),
    }


def _render_source(
    params: dict,
    pneumonia: np.ndarray,
    size: int,
    disease_signal: float,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """Render images (float in [0, 1]) and lung masks for one source."""
    n = pneumonia.size
    grid = (np.arange(size) + 0.5) / size * 2.0 - 1.0  # [-1, 1]
    y, x = np.meshgrid(grid, grid, indexing="ij")
    theta = np.deg2rad(params["tilt"])[:, None, None]
    scale = params["scale"][:, None, None]
    xr = x * np.cos(theta) - y * np.sin(theta)
    yr = x * np.sin(theta) + y * np.cos(theta)
    # (u, v): body coordinates; the thorax spans about [-1, 1] in u.
    u = (xr - params["shift_u"][:, None, None]) / scale
    v = (yr - params["shift_v"][:, None, None]) / scale

    body = (np.abs(u) < 0.95 - 0.1 * np.clip(-v, 0, None) ** 2) & (v > -1.05)
    neck = _ellipse(u, v, 0.0, -1.25, 0.25, 0.4)
    head = _ellipse(u, v, 0.0, -1.6, 0.45, 0.45)
    arms = (np.abs(np.abs(u) - 1.2) < 0.15) & (v > -0.9) & (params["arms"][:, None, None] > 0.5)
    lung_left = _ellipse(u, v, -0.42, -0.05, 0.3, 0.62)
    lung_right = _ellipse(u, v, 0.42, -0.05, 0.3, 0.62)
    lungs = (lung_left | lung_right) & (v < 0.5 - 0.25 * u**2)  # domed diaphragm
    heart_width = params["heart"][:, None, None]
    heart = _ellipse(u, v, 0.12, 0.28, heart_width * 1.6, 0.3)
    spine = (np.abs(u) < 0.09) & body
    ribs = lungs & (np.sin(14.0 * v + 6.0 * u**2) > 0.75)

    img = 0.03 + 0.5 * (body | neck | head | arms)
    img = np.where(lungs, 0.18, img)
    img = np.where(heart & body, 0.62, img)
    img = np.where(spine, 0.75, img)
    img = img + 0.12 * ribs
    opacity = _patchy_opacity(n, size, rng) * lungs * pneumonia[:, None, None]
    img = img + 0.25 * disease_signal * opacity

    img = ndimage.gaussian_filter(img, sigma=(0, params["blur"], params["blur"]))
    img = np.clip(img, 0.0, 1.0) ** params["gamma"][:, None, None] + params["offset"][:, None, None]
    img = img + rng.normal(0.0, 0.02, img.shape)
    return np.clip(img, 0.0, 1.0), lungs


def _patchy_opacity(n: int, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Smooth blotches in [0, 1]: consolidation covers parts of a lung, not all of it."""
    field = ndimage.gaussian_filter(rng.standard_normal((n, size, size)), (0, size / 16, size / 16))
    field /= field.std(axis=(1, 2), keepdims=True)
    return np.clip(field - 0.5, 0.0, 1.5) / 1.5


@overload
def make_batch_xray(
    n_pneumonia: int = ...,
    n_normal: int = ...,
    n_external: int = ...,
    image_size: int = ...,
    *,
    source_effect: float = ...,
    disease_signal: float = ...,
    return_masks: Literal[False] = ...,
    random_state: int | np.random.RandomState | None = ...,
) -> tuple[np.ndarray, pd.DataFrame]: ...


@overload
def make_batch_xray(
    n_pneumonia: int = ...,
    n_normal: int = ...,
    n_external: int = ...,
    image_size: int = ...,
    *,
    source_effect: float = ...,
    disease_signal: float = ...,
    return_masks: Literal[True],
    random_state: int | np.random.RandomState | None = ...,
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]: ...


def make_batch_xray(
    n_pneumonia: int = 200,
    n_normal: int = 200,
    n_external: int = 100,
    image_size: int = 64,
    *,
    source_effect: float = 1.0,
    disease_signal: float = 1.0,
    return_masks: bool = False,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, pd.DataFrame] | tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Simulate the paper's "Batch X-Ray" set: label confounded with the image source.

    What it simulates: frontal chest radiographs (grayscale; bright bone and soft
    tissue, dark lungs) from two sources.

    - Source ``"A"`` is paediatric-like (as Kermany et al.): the thorax is small in
      the field, head, neck and arms are in view, the heart is relatively large,
      positioning is less controlled (more rotation), and the acquisition gives
      softer contrast, a raised background and more blur.
    - Source ``"B"`` is adult-like (as the RSNA challenge): the thorax fills the
      frame, the heart is relatively smaller, rotation is small, contrast harder.

    Pneumonia is patchy, subtle consolidation inside the lung fields. The
    *internal* set has ``n_pneumonia`` pneumonia images, all from source A, and
    ``n_normal`` normal images, all from source B; the *external* set has
    ``n_external`` normal images from source A.

    Why internal scores inflate: inside the internal set, source and label are
    the same variable, and the source is far easier to see (anatomy scale,
    position, contrast) than the opacities. A model trained and tested there
    looks near perfect, and it labels source-A normals of the external set as
    pneumonia because it learned the source. Lowering ``source_effect`` to 0
    removes the confounder (both sources look alike) and the external set is
    then classified like the internal one.

    Parameters
    ----------
    n_pneumonia : int, default=200
        Internal pneumonia images (source A).
    n_normal : int, default=200
        Internal normal images (source B).
    n_external : int, default=100
        External normal images (source A). May be 0.
    image_size : int, default=64
        Side of the square images in pixels.
    source_effect : float, default=1.0
        How different the sources are, from 0 (identical distribution) to 1.
    disease_signal : float, default=1.0
        Strength of the opacities; 0 makes pneumonia invisible.
    return_masks : bool, default=False
        Also return the lung-field masks (for attribution inside vs outside
        the lungs, as in the paper's Figure 4).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible images.

    Returns
    -------
    images : ndarray of shape (n_images, image_size, image_size), uint8
        Internal images first (pneumonia, then normal, shuffled together), then
        the external ones.
    manifest : DataFrame
        One row per image: ``image_id``, ``patient_id`` (one image per patient),
        ``site`` (``"A"``/``"B"``), ``label`` (1 = pneumonia), ``diagnosis``
        (``"PNEUMONIA"``/``"NORMAL"``), ``cohort`` (``"internal"``/``"external"``)
        and ``index`` (row in ``images``).
    masks : ndarray of bool, shape (n_images, image_size, image_size)
        Lung fields; only with ``return_masks=True``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.datasets import make_batch_xray
    >>> images, manifest = make_batch_xray(6, 6, 4, image_size=32, random_state=0)
    >>> images.shape, images.dtype
    ((16, 32, 32), dtype('uint8'))
    >>> pd.crosstab(manifest["cohort"], [manifest["site"], manifest["diagnosis"]])
    site           A                B
    diagnosis NORMAL PNEUMONIA NORMAL
    cohort
    external       4         0      0
    internal       0         6      6
    """
    _check_xray_arguments(
        n_pneumonia, n_normal, n_external, image_size, source_effect, disease_signal
    )
    rng = check_random_state(random_state)
    parts = [("A", 1, "internal", n_pneumonia), ("B", 0, "internal", n_normal)]
    parts.append(("A", 0, "external", n_external))
    images, masks, rows = [], [], []
    for source, label, cohort, n in parts:
        if n == 0:
            continue
        params = _source_parameters(source, n, source_effect, rng)
        # Render in chunks and store uint8 at once: float intermediates of a
        # paper-scale set (14083 images of 224 px) would not fit in memory.
        for start in range(0, n, _CHUNK):
            chunk = {k: v[start : start + _CHUNK] if np.ndim(v) else v for k, v in params.items()}
            size = min(_CHUNK, n - start)
            img, lungs = _render_source(
                chunk, np.full(size, label), image_size, disease_signal, rng
            )
            images.append((img * 255.0).round().astype(np.uint8))
            masks.append(lungs)
        rows.append(
            pd.DataFrame({"site": source, "label": label, "cohort": cohort}, index=range(n))
        )
    manifest = pd.concat(rows, ignore_index=True)
    internal = np.flatnonzero(manifest["cohort"] == "internal")
    order = np.r_[rng.permutation(internal), np.flatnonzero(manifest["cohort"] == "external")]
    manifest = manifest.iloc[order].reset_index(drop=True)
    pixels = np.concatenate(images)[order]
    lung_masks = np.concatenate(masks)[order]

    manifest.insert(0, "image_id", [f"XR-{i + 1:05d}" for i in range(len(manifest))])
    manifest.insert(1, "patient_id", [f"{s}-{i + 1:05d}" for i, s in enumerate(manifest["site"])])
    manifest.insert(4, "diagnosis", np.where(manifest["label"] == 1, "PNEUMONIA", "NORMAL"))
    manifest["index"] = np.arange(len(manifest))
    if return_masks:
        return pixels, manifest, lung_masks
    return pixels, manifest


def _check_xray_arguments(
    n_pneumonia: int,
    n_normal: int,
    n_external: int,
    image_size: int,
    source_effect: float,
    disease_signal: float,
) -> None:
    for name, value in (("n_pneumonia", n_pneumonia), ("n_normal", n_normal)):
        if value < 1:
            raise ValueError(f"{name}={value} is too small; use {name} >= 1.")
    if n_external < 0:
        raise ValueError(f"n_external={n_external} is negative; use n_external >= 0.")
    if image_size < 16:
        raise ValueError(f"image_size={image_size} is too small; use image_size >= 16.")
    if not 0.0 <= source_effect <= 1.0:
        raise ValueError(
            f"source_effect={source_effect} is out of range; use 0 <= source_effect <= 1."
        )
    if disease_signal < 0:
        raise ValueError(f"disease_signal={disease_signal} is negative; use disease_signal >= 0.")
