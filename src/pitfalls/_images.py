"""Reading one image file into a NumPy array: the one reader the audit, datasets and torch share.

It lives in a light private module (numpy at import; Pillow, tifffile and pydicom only
when a file needs them) so that ``pitfalls.audit`` can use it without importing the
synthetic cohorts of ``pitfalls.datasets`` or torch. The public name is
:func:`pitfalls.datasets.load_image`, re-exported unchanged by ``pitfalls.audit`` and
``pitfalls.torch``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["MODES", "convert_mode", "load_image"]

_TIFF_SUFFIXES = {".tif", ".tiff"}
_DICOM_SUFFIXES = {".dcm", ".dicom"}
MODES = (None, "L", "RGB")
# ITU-R 601-2 luma, the weights Pillow uses for convert("L")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def load_image(path: str | os.PathLike[str], mode: str | None = None) -> np.ndarray:
    """Read an image file into a writable, channels-last NumPy array.

    PNG, JPEG, BMP and every other format Pillow reads (palette images come back as
    their RGB or RGBA colours, not as palette indices); TIFF through ``tifffile`` when
    it is installed (16-bit and multi-channel microscopy files), Pillow otherwise;
    DICOM (``.dcm``, ``.dicom``) through ``pydicom`` (``pip install "pitfalls[io]"``);
    ``.npy`` and ``.npz`` (first array) files as stored.

    Parameters
    ----------
    path : path-like
        The image file.
    mode : {None, "L", "RGB"}, default=None
        ``None`` keeps the file's channels; ``"L"`` gives ``H x W`` grayscale (luma);
        ``"RGB"`` gives ``H x W x 3`` (grayscale repeated, alpha dropped).

    Returns
    -------
    ndarray of shape (H, W) or (H, W, C)

    Raises
    ------
    ValueError
        For a ``mode`` outside None, ``"L"`` and ``"RGB"``.
    ImportError
        For a DICOM file without pydicom, naming the extra to install.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from pitfalls.datasets import load_image
    >>> path = Path(tempfile.mkdtemp()) / "x.png"
    >>> Image.fromarray(np.zeros((4, 5), dtype=np.uint8)).save(path)
    >>> load_image(path).shape, load_image(path, mode="RGB").shape
    ((4, 5), (4, 5, 3))
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not supported; use None, 'L' or 'RGB'.")
    return convert_mode(_decode(Path(path)), mode)


def _decode(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return archive[archive.files[0]]
    if suffix in _DICOM_SUFFIXES:
        from ._optional import import_optional

        pydicom = import_optional("pydicom", feature="reading DICOM images")
        return np.array(pydicom.dcmread(path).pixel_array)
    if suffix in _TIFF_SUFFIXES and _has_tifffile():
        import tifffile

        return np.asarray(tifffile.imread(path))
    from PIL import Image

    with Image.open(path) as img:
        if img.mode == "P":  # palette indices mean nothing without the palette
            return np.array(img.convert("RGBA" if "transparency" in img.info else "RGB"))
        return np.array(img)  # a writable copy (np.asarray of a PIL image is read-only)


def _has_tifffile() -> bool:
    try:
        import tifffile  # noqa: F401
    except ImportError:
        return False
    return True


def convert_mode(array: np.ndarray, mode: str | None) -> np.ndarray:
    """``array`` as ``mode`` (None: unchanged, ``"L"``: luma, ``"RGB"``: three channels).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls._images import convert_mode
    >>> convert_mode(np.zeros((2, 3), np.uint8), "RGB").shape
    (2, 3, 3)
    """
    if mode is None:
        return array
    if mode == "RGB":
        if array.ndim == 2:
            return np.repeat(array[:, :, None], 3, axis=2)
        if array.shape[2] == 1:
            return np.repeat(array, 3, axis=2)
        return array[:, :, :3]  # drop an alpha channel
    if array.ndim == 3 and array.shape[2] >= 3:
        luma = array[:, :, :3].astype(np.float32) @ _LUMA
        return luma.round().astype(array.dtype) if array.dtype.kind in "ui" else luma
    return array[:, :, 0] if array.ndim == 3 else array
