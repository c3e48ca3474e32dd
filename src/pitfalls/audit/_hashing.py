"""Image hashing: exact (decoded pixels) and perceptual (DCT pHash), in parallel.

Exact hash
    The decoded pixel array (not the file bytes) is hashed with BLAKE2b together
    with its shape and dtype, so a PNG re-saved with another compression level, or
    a copy with other metadata, still matches.

Perceptual hash (64 bits) and detail hash (256 bits)
    1. grey levels (ITU-R 601 luma for colour images);
    2. a uniform surround (pixels within 8% of the intensity range of the frame's
       median value) that covers over a quarter of the image is trimmed, so that
       the same content on a larger or shifted black canvas hashes alike and a
       mostly black image is hashed on its content;
    3. area-averaged downsample to 32x32, 2-D DCT-II, the 8x8 lowest frequencies;
    4. bit = coefficient above the median of the 63 non-DC coefficients.

    The detail hash repeats steps 3-4 on a 64x64 thumbnail with its 16x16 lowest
    frequencies. Images of one kind (chest X-rays) share their coarse layout, so
    unrelated images can come within a few of the 64 coarse bits; the detail hash
    removes most of them. The near-duplicate search uses the coarse hash to find
    candidates quickly, the detail hash to filter them and the verification
    thumbnail (below) to confirm them.

    Adding a constant (brightness) changes only the DC term and scaling (contrast)
    scales every coefficient, so neither moves the bits; light noise and shifts of a
    few pixels barely touch the lowest frequencies.

Verification thumbnail (64x64, uint8)
    The same trimmed 64x64 thumbnail, min-max scaled to 0-255, is kept (4 KiB per
    image) so that hash candidates can be verified on content
    (:func:`pitfalls.audit._search.thumbnail_correlation`): images of one kind (chest
    X-rays) can agree on both hashes without being copies of each other.

Low-information images
    A blank image (under 0.1% of pixels differing from the frame, a thumbnail whose
    standard deviation is under 2% of the intensity range, more than a quarter of
    the AC coefficients tied at zero, or under 15% of the thumbnail's variance in
    the 63 hashed frequencies, as for pure noise) has a meaningless perceptual
    hash: every blank image would match every other. Those are flagged and kept out of the
    near-duplicate search.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.fft import dctn

from .._images import load_image
from .._manifest import ManifestError

__all__ = [
    "ImageHashes",
    "detail_hash",
    "hash_images",
    "load_image",
    "perceptual_hash",
    "pixel_hash",
    "resolve_image_paths",
]

_THUMB = 32
_BORDER_TOLERANCE = 0.08
_MIN_RELATIVE_STD = 0.02
_MAX_TIED_FRACTION = 0.25
_MIN_LOW_FREQUENCY_SHARE = 0.15
_MIN_CONTENT_FRACTION = 0.001
_CONTENT_QUANTILE = 0.005
_MAX_KEPT_AREA = 0.75
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass
class ImageHashes:
    """Hashes of a sequence of images (one entry per manifest row).

    Attributes
    ----------
    exact : ndarray of str, shape (n,)
        Hex BLAKE2b digest of the decoded pixels, shape and dtype.
    perceptual : ndarray of uint64, shape (n,)
        64-bit DCT perceptual hash.
    detail : ndarray of uint64, shape (n, 4)
        256-bit DCT detail hash.
    perceptual_orientations : ndarray of uint64, shape (n, 8)
        Perceptual hash of the image flipped or turned: identity, left-right flip,
        up-down flip, half turn, transpose, two quarter turns, anti-transpose.
    detail_orientations : ndarray of uint64, shape (n, 8, 4)
        Detail hash of the same 8 orientations.
    low_information : ndarray of bool, shape (n,)
        True for (nearly) blank images, whose perceptual hash is not used.
    thumbnail : ndarray of uint8, shape (n, 64, 64), or None
        Grey-level thumbnail of the trimmed content, min-max scaled to 0-255 (all
        zero for a blank image), used to verify near-duplicate candidates. None
        skips that verification.
    """

    exact: np.ndarray
    perceptual_orientations: np.ndarray
    detail_orientations: np.ndarray
    low_information: np.ndarray
    thumbnail: np.ndarray | None = None

    @property
    def perceptual(self) -> np.ndarray:
        """64-bit perceptual hash of each image as stored (first orientation)."""
        return self.perceptual_orientations[:, 0]

    @property
    def detail(self) -> np.ndarray:
        """256-bit detail hash of each image as stored, shape (n, 4)."""
        return self.detail_orientations[:, 0]


def resolve_image_paths(
    values: Sequence[Any], *, root: str | os.PathLike | None, column: str, rows: Sequence[Any]
) -> list[Path]:
    """Resolve manifest image paths against ``root``, refusing any that escape it.

    Parameters
    ----------
    values : sequence of str
        Image paths as written in the manifest (relative to ``root``, or absolute).
    root : path-like or None
        Directory the paths are relative to. When given, a path that resolves
        outside it (``..``, an absolute path elsewhere, a symbolic link pointing
        out) is refused before anything is read. When None, paths are taken as
        they are (relative to the working directory).
    column : str
        Manifest column name, for error messages.
    rows : sequence
        Manifest row labels, for error messages.

    Returns
    -------
    list of Path

    Raises
    ------
    ManifestError
        Naming the column, row and path that escapes ``root``.

    Examples
    --------
    >>> from pitfalls.audit import resolve_image_paths
    >>> [p.name for p in resolve_image_paths(["a.png"], root=".", column="path", rows=[0])]
    ['a.png']
    >>> resolve_image_paths(["../etc/passwd"], root=".", column="path", rows=[7])
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.ManifestError: image column 'path', row 7: '../etc/passwd' resolves outside root '...'; refusing to read it.
    """
    if root is None:
        return [Path(str(v)) for v in values]
    base = Path(root).resolve()
    resolved = []
    for row, value in zip(rows, values, strict=True):
        path = (base / str(value)).resolve()
        if not path.is_relative_to(base):
            raise ManifestError(
                f"image column {column!r}, row {row}: {str(value)!r} resolves outside root "
                f"'{base}'; refusing to read it."
            )
        resolved.append(path)
    return resolved


def pixel_hash(pixels: np.ndarray) -> str:
    """BLAKE2b digest of decoded pixels, their shape and dtype.

    Parameters
    ----------
    pixels : ndarray

    Returns
    -------
    str
        32 hex characters.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit import pixel_hash
    >>> a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    >>> pixel_hash(a) == pixel_hash(a.copy()), pixel_hash(a) == pixel_hash(a.reshape(3, 2))
    (True, False)
    """
    pixels = np.ascontiguousarray(pixels)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{pixels.shape}|{pixels.dtype.str}|".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def perceptual_hash(pixels: np.ndarray) -> tuple[np.uint64, bool]:
    """64-bit DCT perceptual hash of an image and whether it is low-information.

    Parameters
    ----------
    pixels : ndarray of shape (h, w) or (h, w, channels)

    Returns
    -------
    hash : numpy.uint64
    low_information : bool
        True when the image is (nearly) uniform; its hash should not be compared.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit import perceptual_hash
    >>> rng = np.random.default_rng(0)
    >>> img = rng.normal(size=(8, 8)).repeat(16, 0).repeat(16, 1) * 40 + 100
    >>> h1, low = perceptual_hash(img)
    >>> h2, _ = perceptual_hash(img * 1.5 + 20)  # contrast and brightness
    >>> int(h1 ^ h2).bit_count(), low  # Hamming distance
    (0, False)
    >>> perceptual_hash(np.zeros((64, 64)))[1]
    True
    """
    coarse, _, low = _signature(pixels)
    return coarse[0], low


def detail_hash(pixels: np.ndarray) -> np.ndarray:
    """256-bit DCT hash of an image (16x16 lowest frequencies of a 64x64 thumbnail).

    Finer than :func:`perceptual_hash`: used to confirm near-duplicate candidates
    among images that share their coarse layout.

    Parameters
    ----------
    pixels : ndarray of shape (h, w) or (h, w, channels)

    Returns
    -------
    ndarray of uint64, shape (4,)
        All zero for a blank image.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit import detail_hash
    >>> rng = np.random.default_rng(0)
    >>> img = rng.normal(size=(16, 16)).repeat(8, 0).repeat(8, 1) * 40 + 100
    >>> a, b = detail_hash(img), detail_hash(np.clip(img + 10, 0, 255))
    >>> a.shape, int(np.unpackbits((a ^ b).view(np.uint8)).sum())  # Hamming distance
    ((4,), 0)
    """
    return _signature(pixels)[1][0]


def _signature(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    # Coarse hashes (8,), detail hashes (8, 4) for the 8 orientations, low-information flag.
    coarse, fine, low, _ = _describe(pixels)
    return coarse, fine, low


def _describe(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
    # _signature plus the 64x64 uint8 verification thumbnail.
    gray = _grayscale(pixels)
    intensity_range = float(gray.max()) - float(gray.min())
    content = _trim_border(gray, intensity_range)
    if content is None:
        blank = np.zeros((2 * _THUMB, 2 * _THUMB), np.uint8)
        return np.zeros(8, np.uint64), np.zeros((8, 4), np.uint64), True, blank
    fine_thumb = _downsample(content, 2 * _THUMB)
    # Cells of the 64-grid nest in those of the 32-grid with equal areas.
    thumb = fine_thumb.reshape(_THUMB, 2, _THUMB, 2).mean(axis=(1, 3))
    spectrum = dctn(thumb, type=2, norm="ortho")
    block = spectrum[:8, :8]
    coeffs = block.ravel()
    ac = coeffs[1:]
    scale = max(abs(float(coeffs[0])), intensity_range, 1e-12)
    tied = np.mean(np.abs(ac) <= 1e-6 * scale)
    # Share of the thumbnail's variance in the 63 hashed frequencies: about 6% for
    # pure noise (63 of 1023 AC terms), most of it for anything with structure.
    ac_energy = float((spectrum**2).sum() - coeffs[0] ** 2)
    low_share = float((ac**2).sum()) < _MIN_LOW_FREQUENCY_SHARE * ac_energy
    low = bool(
        float(thumb.std()) < _MIN_RELATIVE_STD * max(intensity_range, 1e-12)
        or tied > _MAX_TIED_FRACTION
        or low_share
        or ac_energy <= 0
    )
    fine = dctn(fine_thumb, type=2, norm="ortho")[:16, :16]
    coarse_hashes = np.array([_bits(b)[0] for b in _orientations(block)], dtype=np.uint64)
    fine_hashes = np.stack([_bits(b) for b in _orientations(fine)])
    lo, hi = float(fine_thumb.min()), float(fine_thumb.max())
    scaled = (fine_thumb - lo) * (255.0 / max(hi - lo, 1e-12))
    return coarse_hashes, fine_hashes, low, np.round(scaled).astype(np.uint8)


def _orientations(block: np.ndarray) -> list[np.ndarray]:
    # DCT-II coefficients of a flipped image are those of the image with odd
    # frequencies negated, and transposing the image transposes them: the hashes of
    # the 8 flips and quarter turns come from one transform. Order: identity,
    # left-right flip, up-down flip, half turn, then the transposes of those four
    # (transpose, two quarter turns, anti-transpose).
    sign = (-1.0) ** np.arange(block.shape[0])
    flips = [block, block * sign, block * sign[:, None], block * sign[:, None] * sign]
    return flips + [f.T for f in flips]


def _bits(block: np.ndarray) -> np.ndarray:
    values = block.ravel()
    return np.packbits(values > np.median(values[1:])).view(">u8").astype(np.uint64)


def _grayscale(pixels: np.ndarray) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[..., :3].astype(np.float32) @ _LUMA.astype(np.float32)
    elif arr.ndim == 3 and arr.shape[2] in (1, 2):
        arr = arr[..., 0]
    elif arr.ndim == 3:  # a volume: hash its middle slice
        arr = arr[arr.shape[0] // 2]
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D image (or 2-D with channels); got shape {arr.shape}.")
    return arr.astype(np.float32, copy=False)


def _trim_border(gray: np.ndarray, intensity_range: float) -> np.ndarray | None:
    # Content = pixels differing from the frame's median value by over 8% of the
    # range. The content box keeps all but 0.5% of the content on each side (a
    # quantile, so a stray pixel does not move it). It is used only when it drops a
    # real surround (over a quarter of the image): trimming a few edge columns
    # in and out from copy to copy would make the hash unstable.
    frame = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = np.median(frame)
    # Percentiles on a strided sample (about 16k pixels) cost little and barely move.
    step = max(1, int(np.sqrt(gray.size / 16384)))
    low, high = np.percentile(gray[::step, ::step], [0.5, 99.5])
    tolerance = _BORDER_TOLERANCE * max(high - low, intensity_range * 0.5)
    if tolerance <= 0:
        return None
    differs = np.abs(gray - np.float32(background)) > tolerance
    per_row = np.count_nonzero(differs, axis=1)
    total = int(per_row.sum())
    if total < _MIN_CONTENT_FRACTION * gray.size:
        return None
    top, bottom = _quantile_bounds(per_row, total)
    left, right = _quantile_bounds(np.count_nonzero(differs, axis=0), total)
    if (bottom - top) * (right - left) > _MAX_KEPT_AREA * gray.size:
        return gray
    return gray[top:bottom, left:right]


def _quantile_bounds(counts: np.ndarray, total: int) -> tuple[int, int]:
    cumulative = np.cumsum(counts)
    start = int(np.searchsorted(cumulative, _CONTENT_QUANTILE * total, side="right"))
    stop = int(np.searchsorted(cumulative, (1 - _CONTENT_QUANTILE) * total, side="left")) + 1
    return start, max(stop, start + 1)


def _downsample(gray: np.ndarray, size: int) -> np.ndarray:
    # Exact area average onto a size x size grid (cells may cut pixels), done per
    # axis by interpolating the cumulative sum at the cell edges. The grid is
    # mirror-symmetric, so a flipped image gives the flipped thumbnail and the
    # flip-aware hashes agree; no BLAS call, so no thread contention.
    # The big pass runs along the contiguous axis (rows of a C-ordered image).
    return _area_average(_area_average(gray.astype(np.float64), size, axis=1), size, axis=0)


def _area_average(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    n = values.shape[axis]
    edges = np.arange(size + 1) * (n / size)
    lower = np.minimum(np.floor(edges).astype(np.int64), n - 1)
    fraction = (edges - lower).reshape([-1 if a == axis else 1 for a in range(2)])
    if n >= size:
        # Sums of whole pixels between the cell edges (one reduceat pass over the
        # image), then the cut parts of the pixels the edges fall in.
        segments = np.add.reduceat(values, lower[:-1], axis=axis)
        zero = np.zeros_like(np.take(segments, [0], axis=axis))
        before = np.concatenate([zero, np.cumsum(segments, axis=axis)], axis=axis)
        integral = np.take(before, np.arange(size + 1), axis=axis)
        edge_pixels = np.take(values, lower, axis=axis)
        integral = integral + fraction * edge_pixels
        # The last edge is the end of the image: the total, not pixel n-1 cut in full.
        last = [slice(None), slice(None)]
        last[axis] = slice(size, size + 1)
        integral[tuple(last)] = np.take(before, [size], axis=axis)
    else:  # upsampling a tiny image: interpolate the running sum
        zero = np.zeros_like(np.take(values, [0], axis=axis))
        cumulative = np.concatenate([zero, np.cumsum(values, axis=axis)], axis=axis)
        low = np.take(cumulative, lower, axis=axis)
        integral = low + fraction * (np.take(cumulative, lower + 1, axis=axis) - low)
    return np.diff(integral, axis=axis) / (n / size)


_Hashes = tuple[str, np.ndarray, np.ndarray, bool, np.ndarray]


def _hash_one(path: Path) -> _Hashes | str:
    # Returns the error text instead of raising, so the caller can name the row.
    try:
        pixels = load_image(path)
        coarse, fine, low, thumb = _describe(pixels)
        return pixel_hash(pixels), coarse, fine, low, thumb
    except Exception as exc:  # any decoder error means "unreadable image"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return reason


def _hash_chunk(paths: Sequence[Path]) -> list[_Hashes | str]:
    return [_hash_one(p) for p in paths]


def _chunks(items: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def hash_images(
    paths: Sequence[Path],
    *,
    column: str = "image",
    rows: Sequence[Any] | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> ImageHashes:
    """Exact and perceptual hashes of image files, in parallel with joblib.

    Parameters
    ----------
    paths : sequence of Path
        Image files (already resolved, see :func:`resolve_image_paths`).
    column : str, default="image"
        Manifest column name, for error messages.
    rows : sequence, optional
        Manifest row label of each path, for error messages (default: positions).
    n_jobs : int, optional
        Number of joblib workers (``None`` means 1 unless inside a
        ``joblib.parallel_config`` context).
    progress : bool, optional
        Show a progress bar on stderr; default: only when stderr is a terminal.

    Returns
    -------
    ImageHashes

    Raises
    ------
    ManifestError
        For the first image that cannot be read, naming the row and path.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from pitfalls.audit import hash_images
    >>> with tempfile.TemporaryDirectory() as d:
    ...     img = Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 251)
    ...     img.convert("L").save(Path(d, "a.png"))
    ...     img.convert("L").save(Path(d, "b.png"), compress_level=0)
    ...     h = hash_images([Path(d, "a.png"), Path(d, "b.png")])
    >>> bool(h.exact[0] == h.exact[1])
    True
    """
    from joblib import Parallel, delayed

    rows = list(range(len(paths))) if rows is None else list(rows)
    if progress is None:
        progress = sys.stderr.isatty()
    chunk_size = 32
    tasks = (delayed(_hash_chunk)(chunk) for chunk in _chunks(paths, chunk_size))
    results: list[_Hashes | str] = []
    bar = _progress_bar(len(paths), progress)
    for chunk_result in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):
        results.extend(chunk_result)
        if bar is not None:
            bar.update(len(chunk_result))
    if bar is not None:
        bar.close()
    for row, path, result in zip(rows, paths, results, strict=True):
        if isinstance(result, str):
            raise ManifestError(
                f"image column {column!r}, row {row}: cannot read image '{path}' ({result})."
            )
    ok = [r for r in results if not isinstance(r, str)]
    return ImageHashes(
        exact=np.array([r[0] for r in ok], dtype=object),
        perceptual_orientations=np.array([r[1] for r in ok], dtype=np.uint64).reshape(-1, 8),
        detail_orientations=np.array([r[2] for r in ok], dtype=np.uint64).reshape(-1, 8, 4),
        low_information=np.array([r[3] for r in ok], dtype=bool),
        thumbnail=np.array([r[4] for r in ok], dtype=np.uint8).reshape(-1, 2 * _THUMB, 2 * _THUMB),
    )


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="hashing images", unit="img", file=sys.stderr)
