"""The paper's trivial lung-segmentation baseline: air inside the body."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["air_in_body_mask"]


def _check_ct(ct_hu: Any) -> np.ndarray:
    image = np.asarray(ct_hu)
    if image.ndim not in (2, 3):
        raise ValueError(
            f"ct_hu must be a 2D slice (rows, cols) or a 3D volume (slices, rows, cols); "
            f"got shape {image.shape}."
        )
    if image.dtype.kind == "u" or image.dtype == bool:
        raise ValueError(
            f"ct_hu has dtype {image.dtype}, which cannot hold negative Hounsfield units; "
            "it looks like raw stored pixel values. Apply the DICOM rescale first: "
            "hu = pixels * RescaleSlope + RescaleIntercept."
        )
    if image.dtype.kind not in "if":
        raise ValueError(f"ct_hu must be numeric (Hounsfield units); got dtype {image.dtype}.")
    return image


def air_in_body_mask(ct_hu: Any, *, threshold: float = -400) -> np.ndarray:
    """Air inside the body: the paper's trivial lung segmentation of a chest CT.

    Voxels below ``threshold`` HU are air; air connected to the outside of the body
    (any connected component that touches the in-plane border of the image) is
    removed. What remains is every air space enclosed by the body: the lungs, but
    also the trachea and main bronchi, and gas in the stomach and bowel. That is on
    purpose: it is the baseline of Maleki et al., and it already reaches Dice ~0.92
    against expert lung masks, which is why a lung-segmentation model's Dice means
    little until it is compared with this number.

    Parameters
    ----------
    ct_hu : array-like of shape (rows, cols) or (slices, rows, cols)
        CT slice or volume in Hounsfield units (after DICOM rescale slope/intercept),
        slices on the first axis. Any signed integer or float dtype.
    threshold : float, default=-400
        Voxels strictly below it are air. -400 HU separates air (-1000) and aerated
        lung (about -850) from soft tissue (about 0 to 80) and fat (about -100).

    Returns
    -------
    ndarray of bool, same shape as ``ct_hu``

    Notes
    -----
    For a volume the connectivity is computed in 3D (6-connected faces), so air that
    is enclosed in one slice but open to the outside in another (nostrils, the gap
    under the patient) is removed. "Outside" means touching the border of the slice
    plane (first/last row or column). The first and last slices are *not* treated as
    outside, because the trachea and often the lungs leave the scanned range there;
    treating them as outside would delete the lungs through the airway.

    There is no ``spacing`` argument: thresholding and connectivity do not depend on
    the voxel size, so the mask would be the same for every spacing.

    A 150 x 512 x 512 int16 volume takes about a second (one call to
    :func:`scipy.ndimage.label` and a table lookup; see ``benchmarks/bench_metrics.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.baselines import air_in_body_mask
    >>> ct = np.full((7, 7), -1000)      # outside air
    >>> ct[1:6, 1:6] = 40                # body (soft tissue)
    >>> ct[2:5, 2:4] = -850              # a lung
    >>> ct[3, 5] = -1000                 # a skin fold open to the outside air
    >>> air_in_body_mask(ct).astype(int)
    array([[0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 0, 0, 0],
           [0, 0, 1, 1, 0, 0, 0],
           [0, 0, 1, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0]])
    """
    image = _check_ct(ct_hu)
    air = image < threshold
    labels, n_components = ndimage.label(air)
    # components touching the in-plane border are outside air; label 0 is not air at all
    border = np.concatenate(
        [
            labels[..., 0, :].ravel(),
            labels[..., -1, :].ravel(),
            labels[..., :, 0].ravel(),
            labels[..., :, -1].ravel(),
        ]
    )
    outside = np.zeros(n_components + 1, dtype=bool)
    outside[border] = True
    outside[0] = True
    return ~outside[labels]
