"""Random tissue patches from whole-slide images, keyed by patient (the paper's procedure)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from PIL import Image

from .._manifest import check_columns, read_manifest
from ._datasets import load_image

__all__ = ["extract_patches", "patch_manifest", "tissue_mask"]

# Patches are drawn in batches: enough that the vectorised check pays, few enough that a
# slide with plenty of tissue stops soon after it has n_patches.
_BATCH = 256


def _downscale(slide: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return slide
    if slide.dtype == np.uint8 and (slide.ndim == 2 or slide.shape[2] in (3, 4)):
        img = Image.fromarray(slide)
        return np.asarray(img.reduce(factor))  # box filter, fast for large slides
    height = slide.shape[0] // factor * factor
    width = slide.shape[1] // factor * factor
    cropped = slide[:height, :width].astype(np.float64)
    shape = (height // factor, factor, width // factor, factor, *slide.shape[2:])
    return cropped.reshape(shape).mean(axis=(1, 3)).astype(slide.dtype)


def tissue_mask(
    image: np.ndarray, *, threshold: float = 220, min_saturation: float = 0
) -> np.ndarray:
    """Colour-threshold the tissue of an H&E image: darker than ``threshold`` is tissue.

    Slide background (glass) is bright and grey, tissue is darker and coloured.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        ``uint8``-range intensities.
    threshold : float, default=220
        A pixel is tissue when its mean intensity over channels is below ``threshold``.
    min_saturation : float, default=0
        Also require ``max - min`` over RGB channels of at least this (e.g. 15 to drop
        grey pen marks and shadows).

    Returns
    -------
    ndarray of bool, shape (H, W)

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.torch import tissue_mask
    >>> tissue_mask(np.array([[255, 120]], dtype=np.uint8)).tolist()
    [[False, True]]
    """
    array = np.asarray(image)
    if array.ndim == 3:
        rgb = array[:, :, :3].astype(np.float32)
        mask = rgb.mean(axis=2) < threshold
        if min_saturation > 0:
            mask &= (rgb.max(axis=2) - rgb.min(axis=2)) >= min_saturation
        return np.asarray(mask)
    return np.asarray(array < threshold)


def _summed_area(mask: np.ndarray) -> np.ndarray:
    # int32 halves the memory of a whole-slide table whenever the counts fit
    dtype = np.int32 if mask.size < 2**31 else np.int64
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=dtype)
    np.cumsum(np.cumsum(mask, axis=0, dtype=dtype), axis=1, out=table[1:, 1:])
    return table


def _window_sums(table: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    return (
        table[rows + size, cols + size]
        - table[rows, cols + size]
        - table[rows + size, cols]
        + table[rows, cols]
    )


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer.")


def extract_patches(
    slide: Any,
    *,
    patch_size: int = 1024,
    n_patches: int = 200,
    max_background: float = 0.75,
    downscale: int = 4,
    tissue_threshold: float = 220,
    max_attempts: int | None = None,
    random_state: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Random square patches with limited background, as in the paper's histopathology set.

    The procedure of Maleki et al.: downscale the slide by ``downscale``, find the tissue
    by colour thresholding (:func:`tissue_mask`), then draw random ``patch_size`` patches
    from the downscaled slide, keeping those with less than ``max_background`` background,
    until ``n_patches`` are kept. The background fraction of every candidate comes from a
    summed-area table, so a candidate costs O(1) whatever the patch size.

    Parameters
    ----------
    slide : ndarray or path-like
        ``H x W x C`` (RGB) or ``H x W`` image, or a file :func:`load_image` reads.
    patch_size : int, default=1024
        Side of a patch, in pixels of the downscaled slide.
    n_patches : int, default=200
        Patches to return.
    max_background : float, default=0.75
        Patches with this fraction of background or more are rejected.
    downscale : int, default=4
        Integer downscaling factor applied first (box filter).
    tissue_threshold : float, default=220
        Passed to :func:`tissue_mask`.
    max_attempts : int, optional
        Candidates drawn before giving up; default ``100 * n_patches``.
    random_state : int or Generator, optional
        Seed; the same seed gives the same patches.

    Returns
    -------
    patches : ndarray of shape (n_patches, patch_size, patch_size[, C])
        From the downscaled slide, same dtype.
    coords : ndarray of int64, shape (n_patches, 2)
        ``(row, col)`` of each patch's top-left corner in the *original* slide's pixels
        (downscaled position times ``downscale``).

    Raises
    ------
    ValueError
        If the downscaled slide is smaller than a patch, no position has enough tissue,
        or ``max_attempts`` candidates did not give ``n_patches`` (never an endless loop).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.torch import extract_patches
    >>> slide = np.full((64, 64, 3), 255, dtype=np.uint8)
    >>> slide[16:48, 16:48] = 100  # a square of tissue on white glass
    >>> patches, coords = extract_patches(slide, patch_size=8, n_patches=5, downscale=2,
    ...                                   random_state=0)
    >>> patches.shape, coords.shape
    ((5, 8, 8, 3), (5, 2))
    >>> bool(((patches < 220).mean(axis=(1, 2, 3)) > 0.25).all())
    True
    """
    _check_positive_int("patch_size", patch_size)
    _check_positive_int("n_patches", n_patches)
    _check_positive_int("downscale", downscale)
    if not 0 < max_background <= 1:
        raise ValueError(f"max_background={max_background!r} must be in (0, 1].")
    attempts = 100 * n_patches if max_attempts is None else max_attempts
    _check_positive_int("max_attempts", attempts)
    array = load_image(slide) if isinstance(slide, str | os.PathLike) else np.asarray(slide)
    small = _downscale(array, downscale)
    height, width = small.shape[:2]
    if height < patch_size or width < patch_size:
        raise ValueError(
            f"patch_size={patch_size} is larger than the downscaled slide ({height} x {width} "
            f"after downscale={downscale}); use a smaller patch_size or downscale."
        )
    background = ~tissue_mask(small, threshold=tissue_threshold)
    table = _summed_area(background)
    area = patch_size * patch_size
    limit = max_background * area
    rng = np.random.default_rng(random_state)
    kept_rows: list[np.ndarray] = []
    kept_cols: list[np.ndarray] = []
    n_kept = drawn = 0
    while n_kept < n_patches and drawn < attempts:
        batch = min(_BATCH, attempts - drawn)
        rows = rng.integers(0, height - patch_size + 1, size=batch)
        cols = rng.integers(0, width - patch_size + 1, size=batch)
        drawn += batch
        ok = _window_sums(table, rows, cols, patch_size) < limit
        kept_rows.append(rows[ok])
        kept_cols.append(cols[ok])
        n_kept += int(ok.sum())
    if n_kept < n_patches:
        tissue = 1 - background.mean()
        raise ValueError(
            f"only {n_kept} of n_patches={n_patches} patches with less than "
            f"max_background={max_background} background were found in {drawn} random "
            f"draws (the downscaled slide is {tissue:.1%} tissue); lower n_patches or "
            "patch_size, raise max_background or max_attempts, or check tissue_threshold."
        )
    rows = np.concatenate(kept_rows)[:n_patches]
    cols = np.concatenate(kept_cols)[:n_patches]
    patches = np.stack(
        [small[r : r + patch_size, c : c + patch_size] for r, c in zip(rows, cols, strict=True)]
    )
    coords = np.stack([rows, cols], axis=1).astype(np.int64) * downscale
    return patches, coords


def _patches_of_slide(
    position: int,
    row: pd.Series,
    path: Path,
    out_dir: Path,
    seed: int,
    options: dict[str, Any],
    file_format: str,
) -> list[dict[str, Any]]:
    try:
        patches, coords = extract_patches(path, random_state=seed, **options)
    except ValueError as exc:
        raise ValueError(f"slide '{path}' (row {row.name!r}): {exc}") from exc
    records = []
    suffix = ".jpg" if file_format == "jpeg" else ".png"
    for number, (patch, (top, left)) in enumerate(zip(patches, coords, strict=True)):
        file = out_dir / f"slide{position:05d}_patch{number:04d}{suffix}"
        if file_format == "jpeg":
            Image.fromarray(patch).save(file, quality=95)
        else:
            Image.fromarray(patch).save(file)
        records.append(
            {
                **row.to_dict(),
                "patch_path": str(file),
                "patch_row": int(top),
                "patch_col": int(left),
            }
        )
    return records


def patch_manifest(
    slides: Any,
    *,
    image: str,
    group: str,
    out_dir: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    patch_size: int = 1024,
    n_patches: int = 200,
    max_background: float = 0.75,
    downscale: int = 4,
    tissue_threshold: float = 220,
    file_format: str = "png",
    n_jobs: int | None = None,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Extract patches from every slide of a manifest and return the patch manifest.

    Every patch row keeps all columns of its slide's row (patient id, label, site...), so
    a group-aware splitter can keep a patient's patches on one side of every split, the
    paper's model F. Patches are written as PNG files under ``out_dir``.

    Parameters
    ----------
    slides : DataFrame or path-like
        One row per slide.
    image : str
        Column of the slide file path (relative to ``root``).
    group : str
        Patient (subject) column; must be filled on every row.
    out_dir : path-like
        Where patch files go (created if needed).
    root : path-like, optional
        Directory the slide paths are relative to.
    patch_size, n_patches, max_background, downscale, tissue_threshold
        As for :func:`extract_patches`.
    file_format : {"png", "jpeg"}, default="png"
        Patch files: lossless PNG, or JPEG (quality 95; smaller and several times faster
        to write and read for 1024-pixel patches).
    n_jobs : int, optional
        Slides processed in parallel with joblib (``joblib.parallel_config`` applies).
    random_state : int, optional
        Seed; each slide gets an independent stream derived from it.

    Returns
    -------
    DataFrame
        One row per patch: the slide's columns plus ``patch_path``, ``patch_row``,
        ``patch_col`` (top-left corner in original slide pixels).

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from pitfalls.torch import patch_manifest
    >>> tmp = Path(tempfile.mkdtemp())
    >>> slide = np.full((32, 32, 3), 90, dtype=np.uint8)
    >>> Image.fromarray(slide).save(tmp / "s1.png")
    >>> slides = pd.DataFrame({"file": ["s1.png"], "patient": ["p7"], "y": [1]})
    >>> patches = patch_manifest(slides, image="file", group="patient", root=tmp,
    ...                          out_dir=tmp / "patches", patch_size=8, n_patches=3,
    ...                          downscale=1, random_state=0)
    >>> patches[["patient", "y"]].values.tolist()
    [['p7', 1], ['p7', 1], ['p7', 1]]
    """
    if file_format not in ("png", "jpeg"):
        raise ValueError(f"file_format={file_format!r} is not supported; use 'png' or 'jpeg'.")
    df = read_manifest(slides)
    check_columns(df, {"image": image, "group": group}, required_values=("image", "group"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = None if root is None else Path(root)
    paths = [Path(p) if base is None else base / Path(p) for p in df[image]]
    seeds = np.random.SeedSequence(random_state).generate_state(len(df))
    options = {
        "patch_size": patch_size,
        "n_patches": n_patches,
        "max_background": max_background,
        "downscale": downscale,
        "tissue_threshold": tissue_threshold,
    }
    per_slide = Parallel(n_jobs=n_jobs)(
        delayed(_patches_of_slide)(
            i, df.iloc[i], paths[i], out, int(seeds[i]), options, file_format
        )
        for i in range(len(df))
    )
    return pd.DataFrame([record for records in per_slide for record in records])
