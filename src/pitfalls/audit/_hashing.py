"""Image hashing: exact (decoded pixels) and perceptual (DCT pHash), in parallel.

Reading
    Each image is opened once, through :func:`pitfalls.audit._io.read_image`: inside
    ``root`` (checked on the opened descriptor), regular files only, its pixel count
    checked against ``max_pixels`` from the header before anything is decoded.
    Everything below, and the thumbnail the HTML report shows, comes from that one
    read: no file is opened again.

Exact hash
    The decoded pixels at full resolution (not the file bytes) are hashed with
    SHA-256 (truncated to 128 bits) together with their shape and dtype, so a PNG
    re-saved with another compression level, a JPEG whose metadata changed, or a
    JPEG converted to PNG (identical pixels, another encoding) still match;
    identical bytes always mean identical pixels. This is why images are never
    decoded at reduced size (JPEG draft mode would give other pixels): the exact
    check stays exact. Pillow images are hashed in strips of rows, so no second
    full-size copy of the pixels is made.

Perceptual hash (64 bits) and detail hash (256 bits)
    1. grey levels (ITU-R 601 luma for colour images, Pillow's conversion for
       8-bit images);
    2. an image longer than 256 pixels is first area-averaged to 256 pixels on its
       longer side (the hashes need 64 x 64; this keeps the float work small and
       the memory to a fraction of the decoded image);
    3. a uniform surround (pixels within 8% of the intensity range of the frame's
       median value) that covers over a quarter of the image is trimmed, so that
       the same content on a larger or shifted black canvas hashes alike and a
       mostly black image is hashed on its content;
    4. area-averaged downsample to 32x32, 2-D DCT-II, the 8x8 lowest frequencies;
    5. bit = coefficient above the median of the 63 non-DC coefficients.

    The detail hash repeats steps 4-5 on a 64x64 thumbnail with its 16x16 lowest
    frequencies. Images of one kind (chest X-rays) share their coarse layout, so
    unrelated images can come within a few of the 64 coarse bits; the detail hash
    removes most of them. The near-duplicate search uses the coarse hash to find
    candidates quickly, the detail hash to filter them and the verification
    thumbnail (below) to confirm them.

    Adding a constant (brightness) changes only the DC term and scaling (contrast)
    scales every coefficient, so neither moves the bits; light noise and shifts of a
    few pixels barely touch the lowest frequencies. Every step is mirror-symmetric,
    so the hashes of the 8 flips and quarter turns come from one transform.

Verification thumbnail (64x64, uint8)
    The same trimmed 64x64 thumbnail, min-max scaled to 0-255, is kept (4 KiB per
    image) so that hash candidates can be verified on content
    (:func:`pitfalls.audit._search.thumbnail_correlation`): images of one kind (chest
    X-rays) can agree on both hashes without being copies of each other. Reports
    show it (:func:`thumbnail_png`) instead of reading the file again.

Low-information images
    A blank image (under 0.1% of pixels differing from the frame, a thumbnail whose
    standard deviation is under 2% of the intensity range, more than a quarter of
    the AC coefficients tied at zero, or under 15% of the thumbnail's variance in
    the 63 hashed frequencies, as for pure noise) has a meaningless perceptual
    hash: every blank image would match every other. Those are flagged and kept out of the
    near-duplicate search.

Parallelism
    Images are hashed in chunks of 32 through joblib. In a chunk, the images are
    first read and hashed exactly one by one (the decoded pixels are dropped once
    reduced to the grey work image of at most 256 pixels a side), then trimmed and
    described together: the many small array operations run back to back, in
    stacks, instead of between JPEG decodes that evict their code and data.

    The first chunk is hashed in the calling thread and timed, and its pace plans
    the rest (``n_jobs=None``, or at most ``n_jobs`` workers, never more than the
    CPUs): a process pool (joblib's loky, which stays warm for later calls in the
    session) when the work left, spread over the workers, saves more than twice a
    pool's start-up (taken as 2 s: from about 13,000 224-pixel JPEGs on 2 CPUs,
    7,000 on 16); threads when they could save more than 0.5 s (half the ideal
    saving, as header parsing and the small array operations hold the GIL), but
    only after a trial: one warm-up chunk per worker on threads, then two timed
    chunks each against the pace of a chunk here, and the rest on threads only if
    they were 10% faster, else here
    (what threads gain depends on the images and on what else the machine runs);
    otherwise the calling thread alone. The default is so never slower than one
    worker but for the trial's chunks or a mistaken start-up estimate. Inside
    ``joblib.parallel_config(backend="dask")`` (or any backend other than loky)
    the chunks after the first run there, as planned, untried. A worker process
    that dies (killed for memory) becomes a one-line error; on threads an
    out-of-memory kill stops the whole process, which is what ``max_pixels``
    guards against.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.fft import dct

from .._deprecation import renamed_kwargs
from .._images import load_image
from .._manifest import ManifestError
from ._io import DEFAULT_MAX_PIXELS, ImageTooLargeError, check_max_pixels, read_image

__all__ = [
    "ImageHashes",
    "detail_hash",
    "hash_images",
    "load_image",
    "perceptual_hash",
    "pixel_hash",
    "resolve_image_paths",
    "thumbnail_png",
]

_THUMB = 32
_WORK = 256  # longest side of the grey image that is trimmed and hashed
_BORDER_TOLERANCE = 0.08
_MIN_RELATIVE_STD = 0.02
_MAX_TIED_FRACTION = 0.25
_MIN_LOW_FREQUENCY_SHARE = 0.15
_MIN_CONTENT_FRACTION = 0.001
_CONTENT_QUANTILE = 0.005
_MAX_KEPT_AREA = 0.75
_LUMA = np.array([0.299, 0.587, 0.114])
_CHUNK = 32  # images per parallel task
# A process pool's start-up (its workers import pitfalls); the saving from which
# threads are tried (a thread pool's start-up, and the trial's cost where they do
# not pay); the speed-up they must show to go on: see _plan and _hash_on_threads.
_PROCESS_START_SECONDS = 2.0
_THREADS_MIN_SAVING_SECONDS = 0.5
_THREADS_MIN_GAIN = 0.9
# The threads' trial: one warm-up chunk per worker (each thread's first chunk pays for
# its buffers and was measured up to 1.5x slower), then this many timed chunks each.
_TIMED_CHUNKS_PER_WORKER = 2
_STRIP_BYTES = 1 << 20  # bytes of rows hashed (or cast to float) at a time
# Pillow modes hashed without numpy, with the channel axis np.asarray gives them.
_PILLOW_8BIT = {"L": (), "LA": (2,), "RGB": (3,), "RGBA": (4,)}


@dataclass
class ImageHashes:
    """Hashes of a sequence of images (one entry per manifest row).

    Attributes
    ----------
    exact : ndarray of str, shape (n,)
        Hex digest (SHA-256, 128 bits) of the decoded pixels, shape and dtype.
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
        zero for a blank image), used to verify near-duplicate candidates and shown
        by reports (:func:`thumbnail_png`). None skips that verification.
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
        out) is refused before anything is read, and :func:`hash_images` checks
        again on each opened file (a path changed after this check cannot escape
        either). When None, paths are taken as they are (relative to the working
        directory).
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
        Naming the column, row and path that escapes ``root`` or is a loop of
        symbolic links.

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
        try:
            path = (base / str(value)).resolve()
        except (RuntimeError, OSError) as exc:  # Python < 3.13 raises on a link loop
            raise ManifestError(
                f"image column {column!r}, row {row}: {str(value)!r} cannot be resolved "
                f"({_first_line(exc)}: a symbolic-link loop?); fix or remove that path."
            ) from None
        if not path.is_relative_to(base):
            raise ManifestError(
                f"image column {column!r}, row {row}: {str(value)!r} resolves outside root "
                f"'{base}'; refusing to read it."
            )
        resolved.append(path)
    return resolved


def pixel_hash(pixels: np.ndarray) -> str:
    """Digest of decoded pixels, their shape and dtype (SHA-256, 128 bits).

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

    Boolean masks hash by value (Pillow stores True as the byte 255, numpy as 1):

    >>> mask = np.array([True, False]).view(np.uint8)
    >>> pixel_hash(np.array([255, 0], np.uint8).view(bool)) == pixel_hash(mask.view(bool))
    True
    """
    pixels = np.ascontiguousarray(pixels)
    digest = _pixel_digest(pixels.shape, pixels.dtype)
    if pixels.dtype == bool:  # True may be stored as any non-zero byte (Pillow uses 255)
        pixels = pixels.astype(np.uint8)
    digest.update(pixels.reshape(-1).view(np.uint8) if pixels.size else b"")
    return digest.hexdigest()[:32]


def _pixel_digest(shape: tuple[int, ...], dtype: np.dtype) -> Any:
    digest = hashlib.sha256()
    digest.update(f"{shape}|{dtype.str}|".encode())
    return digest


def _pillow_pixel_hash(image: Any) -> str:
    # pixel_hash(np.asarray(image)) of an 8-bit image without the full-size array:
    # rows in strips.
    channels = _PILLOW_8BIT[image.mode]
    width, height = image.size
    digest = _pixel_digest((height, width, *channels), np.dtype(np.uint8))
    row_bytes = max(1, width * (channels[0] if channels else 1))
    step = max(1, _STRIP_BYTES // row_bytes)
    if step >= height:
        digest.update(image.tobytes())
    else:
        for top in range(0, height, step):
            digest.update(image.crop((0, top, width, min(top + step, height))).tobytes())
    return digest.hexdigest()[:32]


def thumbnail_png(thumbnail: np.ndarray) -> bytes:
    """PNG bytes of a verification thumbnail (:attr:`ImageHashes.thumbnail`).

    Reports show this instead of opening the image file again, so what they show
    is what was read and compared.

    Parameters
    ----------
    thumbnail : ndarray of uint8, shape (64, 64)

    Returns
    -------
    bytes

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit import thumbnail_png
    >>> thumbnail_png(np.zeros((64, 64), np.uint8))[:4]
    b'\\x89PNG'
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(thumbnail, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


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
    coarse, fine, low, _ = _describe_many([_work_of(pixels)])
    return coarse[0], fine[0], bool(low[0])


_Work = tuple[np.ndarray, float]
_Reduced = tuple[np.ndarray | None, float]


def _work_of(pixels: np.ndarray) -> _Work:
    # The per-image part that needs the full image: the grey work image (at most
    # _WORK pixels a side) and the image's intensity range. An 8-bit image up to
    # that size is its own work image, kept as bytes (trimmed as its float32 copy
    # would be, and cast once trimmed).
    gray = _grayscale(pixels)
    intensity_range = float(gray.max()) - float(gray.min())
    if gray.dtype != np.uint8 or max(gray.shape) > _WORK:
        return _work_image(gray), intensity_range
    # A view into a larger decoded array (a volume's middle slice) would keep that
    # array alive while the rest of the chunk is read.
    owner = gray.base
    if owner is not None and not isinstance(owner, bytes):
        gray = gray.copy()
    return gray, intensity_range


def _content_thumbnails(works: Sequence[_Work]) -> list[_Reduced]:
    # The 64x64 area-averaged thumbnail of each work image's trimmed content
    # (float32; None for a blank image) and its intensity range. Work images of one
    # shape and dtype (most often all of a chunk) are trimmed together; every
    # operation is the one each image gets alone. They are averaged one by one:
    # stacked, the float copies outgrow the caches and cost more than the calls they
    # save.
    reduced: list[_Reduced] = [(None, work[1]) for work in works]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, (work, _) in enumerate(works):
        groups.setdefault((work.shape, work.dtype.str), []).append(i)
    for rows in groups.values():
        stack = np.stack([works[i][0] for i in rows])
        for i, content in zip(rows, _trim_borders(stack, [works[i][1] for i in rows]), strict=True):
            if content is not None:
                reduced[i] = (_downsample(content, 2 * _THUMB), works[i][1])
    return reduced


def _describe_many(works: Sequence[_Work]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hashes of many work images (see :func:`_work_of`) at once.

    Returns the coarse hashes (n, 8), the detail hashes (n, 8, 4) of the 8
    orientations, the low-information flags (n,) and the 64x64 uint8 verification
    thumbnails (n, 64, 64). Run after a chunk's images are all decoded, so that
    the many small array operations of each image run back to back (a JPEG decode
    between them evicts their code and data: they cost half as much again). The
    thumbnails of one dtype are then stacked and described in one pass; the
    results are those of each image alone.
    """
    reduced = _content_thumbnails(works)
    n, side = len(reduced), 2 * _THUMB
    coarse, fine = np.zeros((n, 8), np.uint64), np.zeros((n, 8, 4), np.uint64)
    low, thumbnails = np.ones(n, bool), np.zeros((n, side, side), np.uint8)
    by_dtype: dict[str, list[tuple[int, np.ndarray, float]]] = {}
    for i, (thumb, intensity_range) in enumerate(reduced):
        if thumb is not None:
            by_dtype.setdefault(thumb.dtype.str, []).append((i, thumb, intensity_range))
    for group in by_dtype.values():
        rows = [i for i, _, _ in group]
        stack = np.stack([thumb for _, thumb, _ in group])
        ranges = np.array([intensity_range for _, _, intensity_range in group], np.float64)
        coarse[rows], fine[rows], low[rows], thumbnails[rows] = _describe_stack(stack, ranges)
    return coarse, fine, low, thumbnails


def _describe_stack(
    fine_thumbs: np.ndarray, intensity_ranges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # _describe_many on a stack (n, 64, 64) of one dtype. Every operation is the one
    # a single image gets, row by row (scalars cast to the array's dtype as numpy
    # casts Python floats), so the hashes do not depend on the company an image keeps.
    # Cells of the 64-grid nest in those of the 32-grid with equal areas.
    halve = _area_matrix(2 * _THUMB, _THUMB, fine_thumbs.dtype.str)
    thumbs = halve @ fine_thumbs @ halve.T
    low_rows = _dct_rows(_THUMB, 8)
    blocks = low_rows @ thumbs @ low_rows.T
    coeffs = blocks.reshape(len(blocks), -1)
    ac = coeffs[:, 1:]
    scale = np.maximum(np.maximum(np.abs(coeffs[:, 0]), intensity_ranges), 1e-12)
    tied = np.count_nonzero(np.abs(ac) <= (1e-6 * scale)[:, None], axis=1) / ac.shape[1]
    # Share of the thumbnail's variance in the 63 hashed frequencies: about 6% for
    # pure noise (63 of 1023 AC terms), most of it for anything with structure. The
    # orthonormal DCT keeps the energy (Parseval), so the AC energy needs no full
    # transform.
    flat = thumbs.reshape(len(thumbs), -1)
    ac_energy = np.square(flat).sum(axis=1) - coeffs[:, 0] ** 2
    low = (
        (_std_rows(flat) < _MIN_RELATIVE_STD * np.maximum(intensity_ranges, 1e-12))
        | (tied > _MAX_TIED_FRACTION)
        | ((ac**2).sum(axis=1) < _MIN_LOW_FREQUENCY_SHARE * ac_energy)
        | (ac_energy <= 1e-12 * scale**2 * flat.shape[1])
    )
    fine_rows = _dct_rows(2 * _THUMB, 16)
    fine = fine_rows @ fine_thumbs @ fine_rows.T
    lo = fine_thumbs.min(axis=(1, 2))
    spread = fine_thumbs.max(axis=(1, 2)).astype(np.float64) - lo
    gain = (255.0 / np.maximum(spread, 1e-12)).astype(fine_thumbs.dtype)
    scaled = (fine_thumbs - lo[:, None, None]) * gain[:, None, None]
    return (
        _orientation_bits(blocks)[:, :, 0],
        _orientation_bits(fine),
        low,
        np.round(scaled).astype(np.uint8),
    )


def _std_rows(values: np.ndarray) -> np.ndarray:
    # values.std(axis=1), computed as numpy does (mean, deviations, pairwise sums in
    # the array's dtype) without its per-call overhead.
    deviations = values - (values.sum(axis=1) / values.shape[1])[:, None]
    return np.sqrt(np.square(deviations).sum(axis=1) / values.shape[1])


@functools.lru_cache(maxsize=8)
def _dct_rows(n: int, k: int) -> np.ndarray:
    # The k lowest-frequency rows of the orthonormal DCT-II matrix of size n:
    # rows @ x @ rows.T is the top-left k x k block of dctn(x, norm="ortho").
    rows = dct(np.eye(n), type=2, norm="ortho", axis=0)[:k]
    rows.setflags(write=False)
    return rows


def _orientation_bits(blocks: np.ndarray) -> np.ndarray:
    # DCT-II coefficients of a flipped image are those of the image with odd
    # frequencies negated, and transposing the image transposes them: the hashes of
    # the 8 flips and quarter turns come from one transform. Order: identity,
    # left-right flip, up-down flip, half turn, then the transposes of those four
    # (transpose, two quarter turns, anti-transpose). blocks: (n, k, k); returns
    # (n, 8, k * k // 64) uint64: bit = coefficient above the median of the non-DC
    # coefficients. A transpose holds the same coefficients, so the four flips'
    # medians serve all eight.
    n, k = blocks.shape[:2]
    flips = blocks[:, None] * _flip_signs(k)
    values = flips.reshape(n, 4, k * k)
    middle = (k * k - 2) // 2  # 63 and 255 non-DC values: an exact median
    median = np.partition(values[:, :, 1:], middle, axis=2)[:, :, middle, None, None]
    above = flips > median
    bits = np.concatenate([above, above.transpose(0, 1, 3, 2)], axis=1).reshape(n, 8, k * k)
    return np.packbits(bits, axis=2).view(">u8").astype(np.uint64)


@functools.lru_cache(maxsize=8)
def _flip_signs(n: int) -> np.ndarray:
    # (4, n, n): +-1 for the identity, left-right, up-down flips and the half turn.
    sign = (-1.0) ** np.arange(n)
    signs = np.stack([np.ones((n, n)), np.tile(sign, (n, 1)), np.tile(sign[:, None], (1, n))])
    signs = np.concatenate([signs, np.outer(sign, sign)[None]])
    signs.setflags(write=False)
    return signs


def _grayscale(pixels: np.ndarray) -> np.ndarray:
    # 2-D grey levels: luma (float32) for colour, the array itself (any dtype) for
    # grey, the middle slice of a volume.
    arr = np.asarray(pixels)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[..., :3].astype(np.float32) @ _LUMA.astype(np.float32)
    elif arr.ndim == 3 and arr.shape[2] in (1, 2):
        arr = arr[..., 0]
    elif arr.ndim == 3:  # a volume: hash its middle slice
        arr = arr[arr.shape[0] // 2]
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D image (or 2-D with channels); got shape {arr.shape}.")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.size == 0:
        raise ValueError(f"expected a non-empty image; got shape {arr.shape}.")
    return arr


def _work_image(gray: np.ndarray) -> np.ndarray:
    # At most _WORK pixels on the longer side, float32: an exact area average, so
    # the result is mirror-symmetric and no full-size float copy of a large image is
    # made. float32 whatever the size, so that an image and its copy at another size
    # are described with the same arithmetic from here on.
    height, width = gray.shape
    longest = max(height, width)
    if longest <= _WORK:
        return gray.astype(np.float32)
    size = (max(1, round(height * _WORK / longest)), max(1, round(width * _WORK / longest)))
    return _area_average_height(_area_average_width(gray, size[1]), size[0])


def _trim_borders(grays: np.ndarray, intensity_ranges: Sequence[float]) -> list[np.ndarray | None]:
    # The content of each work image of a stack (n, h, w): a view, None when blank.
    # Content = pixels differing from the frame's median value by over 8% of the
    # range. The content box keeps all but 0.5% of the content on each side (a
    # quantile, so a stray pixel does not move it). It is used only when it drops a
    # real surround (over a quarter of the image): trimming a few edge columns
    # in and out from copy to copy would make the hash unstable.
    n, height, width = grays.shape
    frames = np.concatenate([grays[:, 0], grays[:, -1], grays[:, :, 0], grays[:, :, -1]], axis=1)
    tolerances = _tolerances(grays, intensity_ranges)
    differs = _differs(grays, _medians(frames), tolerances)
    # Counted as bytes into uint16 (the work image has at most 256 pixels a side):
    # 3x faster than int64 sums or count_nonzero.
    counter = np.uint16 if max(height, width) < 2**16 else np.int64
    per_row = differs.sum(axis=2, dtype=counter)
    totals = per_row.sum(axis=1, dtype=np.int64)
    top, bottom = _quantile_bounds(per_row, totals)
    left, right = _quantile_bounds(differs.sum(axis=1, dtype=counter), totals)
    contents: list[np.ndarray | None] = []
    for i in range(n):
        if tolerances[i] <= 0 or totals[i] < _MIN_CONTENT_FRACTION * height * width:
            contents.append(None)
        elif (bottom[i] - top[i]) * (right[i] - left[i]) > _MAX_KEPT_AREA * height * width:
            contents.append(grays[i])
        else:
            contents.append(grays[i, top[i] : bottom[i], left[i] : right[i]])
    return contents


def _tolerances(grays: np.ndarray, intensity_ranges: Sequence[float]) -> list[Any]:
    # 8% of the spread between the 0.5% and 99.5% order statistics of a strided
    # sample (about 2k pixels: cheap, and they barely move), or of half the range
    # when that is larger. The scalars are combined per image, so that their types
    # (numpy's float32, a Python float) are those the comparison in _differs meets.
    step = max(1, int(np.sqrt(grays[0].size / 2048)))
    sample = grays[:, ::step, ::step].reshape(len(grays), -1)
    ranks = [round(0.005 * (sample.shape[1] - 1)), round(0.995 * (sample.shape[1] - 1))]
    spreads = _order_statistics(sample, ranks).astype(_work_dtype(grays))
    return [
        _BORDER_TOLERANCE * max(high - low, intensity_range * 0.5)
        for (low, high), intensity_range in zip(spreads, intensity_ranges, strict=True)
    ]


def _order_statistics(values: np.ndarray, ranks: list[int]) -> np.ndarray:
    # np.partition(values, ranks, axis=1)[:, ranks]; bytes by counting (one bincount
    # for all rows: a value's count up to it passes the rank).
    if values.dtype != np.uint8:
        return np.partition(values, ranks, axis=1)[:, ranks]
    n = len(values)
    offsets = (np.arange(n) * 256)[:, None]
    counts = np.bincount((values + offsets).ravel(), minlength=256 * n).reshape(n, 256)
    below = np.cumsum(counts, axis=1)
    return np.stack([(below <= rank).sum(axis=1) for rank in ranks], axis=1).astype(np.uint8)


def _work_dtype(gray: np.ndarray) -> Any:
    # The float type of the work image: bytes stand for their float32 copy.
    return np.float32 if gray.dtype == np.uint8 else gray.dtype


def _differs(grays: np.ndarray, backgrounds: np.ndarray, tolerances: list[Any]) -> np.ndarray:
    # uint8 mask of the pixels over the tolerance from the background value: the
    # test abs(gray - float32(background)) > tolerance of each image, with the
    # tolerance cast to the image's float type as the comparison of an array with a
    # scalar casts it.
    work = np.dtype(_work_dtype(grays))
    limits = np.array([float(t) for t in tolerances]).astype(work)[:, None]
    centres = backgrounds.astype(np.float32)[:, None]
    if grays.dtype != np.uint8:
        distances = grays - centres[:, :, None]  # one temporary, reused: a chunk's
        np.abs(distances, out=distances)  # stack is megabytes
        return np.greater(distances, limits[:, :, None]).view(np.uint8)
    # Bytes: the same float32 test on the 256 values a byte takes. |value -
    # background| grows away from the background, so the values within tolerance
    # form one run [first, first + span], tested at once with wrap-around bytes.
    near = ~(np.abs(np.arange(256, dtype=np.float32) - centres) > limits)
    first = near.argmax(axis=1).astype(np.uint8)[:, None, None]
    span = (near.sum(axis=1) - 1).clip(0, 255).astype(np.uint8)[:, None, None]
    differs = (grays - first) > span
    differs[~near.any(axis=1)] = True  # no byte value within tolerance
    return differs.view(np.uint8)


def _medians(values: np.ndarray) -> np.ndarray:
    # np.median(values, axis=1) without its overhead, in float64.
    half = values.shape[1] // 2
    if values.shape[1] % 2:
        return _order_statistics(values, [half])[:, 0].astype(np.float64)
    pair = _order_statistics(values, [half - 1, half]).astype(np.float64)
    return (pair[:, 0] + pair[:, 1]) / 2


def _quantile_bounds(counts: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Per row of counts (n, m): the first index past 0.5% of the total, and one past
    # the index reaching 99.5% of it (searchsorted right and left, as counts).
    cumulative = np.cumsum(counts, axis=1, dtype=np.int64)
    start = (cumulative <= (_CONTENT_QUANTILE * totals)[:, None]).sum(axis=1)
    stop = (cumulative < ((1 - _CONTENT_QUANTILE) * totals)[:, None]).sum(axis=1) + 1
    return start, np.maximum(stop, start + 1)


def _downsample(gray: np.ndarray, size: int) -> np.ndarray:
    # Exact area average onto a size x size grid (cells may cut pixels), as products
    # with cell-overlap matrices (cached: few distinct sizes occur). The grid is
    # mirror-symmetric, so a flipped image gives the flipped thumbnail and the
    # flip-aware hashes agree.
    # A float32 work image (or the bytes standing for it) is averaged in float32: 3x
    # faster, and rounding at 1e-7 of the grey levels moves a hash bit only for a
    # coefficient that ties with the median to that precision.
    dtype = np.float32 if _work_dtype(gray) == np.float32 else np.float64
    rows = _area_product(np.asarray(gray, dtype=dtype)[None], size)
    # Columns as rows of the transpose: the sums run in the dense product's order.
    return np.ascontiguousarray(_area_product(rows.transpose(0, 2, 1), size)[0].T)


def _area_product(values: np.ndarray, size: int) -> np.ndarray:
    # area_matrix(n, size) @ each image of a stack (k, n, m), by blocks: when
    # g = gcd(n, size) > 1, the cells over each run of n / g pixels are one block of
    # size / g cells, so the matrix is block-diagonal with g equal blocks (a
    # 224-pixel side: 32 blocks of 2 x 7 instead of a dense 64 x 224). The blocks
    # hold the dense matrix's weights (n / size is a dyadic fraction for the 64 and
    # 32 grids, so every cell edge is exact) and the products skip only zero terms:
    # the dense product's result, at a fraction of its arithmetic.
    k, n, m = values.shape
    blocks = math.gcd(n, size)
    weights = _area_matrix(n // blocks, size // blocks, values.dtype.str)
    stacked = values.reshape(k * blocks, n // blocks, m)
    return np.matmul(weights, stacked).reshape(k, size, m)


@functools.lru_cache(maxsize=1024)
def _area_matrix(n: int, size: int, dtype: str = "<f8") -> np.ndarray:
    # The dense form of _area_weights, for the small products of the thumbnails.
    weights = _area_weights(n, size, dtype).toarray()
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=64)
def _area_weights(n: int, size: int, dtype: str = "<f8") -> Any:
    # weights[c, p]: the share of cell c (n / size pixels wide) that pixel p covers,
    # as a sparse matrix (CSR): a cell covers at most ceil(n / size) + 1 pixels, so a
    # large image needs no dense size x n matrix and a product costs a few
    # multiply-adds per pixel.
    from scipy import sparse

    edges = np.arange(size + 1) * (n / size)
    first = np.floor(edges[:-1]).astype(np.int64)
    taps = int((np.minimum(np.ceil(edges[1:]).astype(np.int64), n) - first).max())
    pixels = first[:, None] + np.arange(taps)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    weights = (np.clip(overlap, 0.0, None) / (n / size)).astype(dtype)
    kept = (weights > 0) & (pixels < n)
    cells = np.broadcast_to(np.arange(size)[:, None], kept.shape)[kept]
    return sparse.csr_array((weights[kept], (cells, pixels[kept])), shape=(size, n))


def _area_average_width(gray: np.ndarray, size: int) -> np.ndarray:
    # The image's width averaged down to size columns (float32), a band of rows at a
    # time: the band's columns become rows of a float64 copy (1 MiB at most), so
    # that the sparse product runs over whole rows.
    height, width = gray.shape
    weights = _area_weights(width, size)
    narrow = np.empty((height, size), np.float32)
    step = max(1, _STRIP_BYTES // (8 * width))
    for top in range(0, height, step):
        band = np.ascontiguousarray(gray[top : top + step].T, dtype=np.float64)
        narrow[top : top + step] = np.asarray(weights @ band).T
    return narrow


def _area_average_height(narrow: np.ndarray, size: int) -> np.ndarray:
    # The height of _area_average_width's result averaged down to size rows, in
    # float32 (no float64 copy of it): a few terms per cell, rounding at 1e-7.
    return np.asarray(_area_weights(narrow.shape[0], size, "<f4") @ narrow)


_Hashes = tuple[str, np.ndarray, np.ndarray, bool, np.ndarray]


def _hash_decoded(decoded: Any) -> tuple[str, _Work]:
    if isinstance(decoded, np.ndarray):
        exact = pixel_hash(decoded)
        gray = decoded
    elif decoded.mode in _PILLOW_8BIT:  # Pillow converts and hashes without numpy copies
        exact = _pillow_pixel_hash(decoded)
        gray_image = decoded if decoded.mode == "L" else decoded.convert("L")
        # A view of the bytes (np.asarray would copy them once more).
        gray = np.frombuffer(gray_image.tobytes(), np.uint8).reshape(decoded.height, -1)
    else:  # 16-bit, float, 1-bit, CMYK...: through numpy, as load_image returns them
        gray = np.asarray(decoded)
        exact = pixel_hash(gray)
    return exact, _work_of(gray)


def _hash_one(path: Path, root: Path | None, max_pixels: int) -> tuple[str, _Work] | str:
    # Returns the error text instead of raising, so the caller can name the row.
    try:
        return _hash_decoded(read_image(path, root=root, max_pixels=max_pixels))
    except ImageTooLargeError as exc:
        return f"{exc}; raise max_pixels (--max-pixels) to audit it"
    except MemoryError:
        return (
            "ran out of memory decoding it; use fewer workers (n_jobs, --n-jobs) or a "
            "lower max_pixels (--max-pixels)"
        )
    except Exception as exc:  # any decoder error means "unreadable image"
        return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _hash_chunk(paths: Sequence[Path], root: Path | None, max_pixels: int) -> list[_Hashes | str]:
    # Each image is read, hashed exactly and reduced to its work image (the decoded
    # pixels are dropped there); the chunk's work images are then described together.
    read = [_hash_one(p, root, max_pixels) for p in paths]
    done = [r for r in read if not isinstance(r, str)]
    coarse, fine, low, thumbnails = _describe_many([r[1] for r in done])
    described = iter(range(len(done)))
    results: list[_Hashes | str] = []
    for r in read:
        if isinstance(r, str):
            results.append(r)
        else:
            i = next(described)
            results.append((r[0], coarse[i], fine[i], bool(low[i]), thumbnails[i]))
    return results


def _chunks(items: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _n_workers(n_jobs: Any, n_images: int) -> int:
    """Workers for ``n_images``: ``None`` = as many as pay off, capped at the CPU count."""
    from joblib import cpu_count

    cores = cpu_count()
    n_chunks = max(1, math.ceil(n_images / _CHUNK))
    if n_jobs is None:
        return min(cores, n_chunks)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ValueError(
            f"n_jobs={n_jobs!r} must be a non-zero integer (-1 for all cores) or None; "
            "use None to let the number of images decide."
        )
    wanted = int(n_jobs) if n_jobs > 0 else max(1, cores + 1 + int(n_jobs))
    return max(1, min(wanted, cores, n_chunks))


@contextlib.contextmanager
def _hashing_context() -> Iterator[None]:
    """One BLAS thread, and Pillow's decompression-bomb warning silenced, while hashing.

    The small matrix products of each image are faster on one BLAS thread; the
    images themselves are spread over the workers. Pillow's warning (over 89
    million pixels) is redundant: max_pixels is checked on every image before
    decoding. Entered once, in the calling thread: the warning filters are
    process-wide, and entering and leaving them in several threads at once could
    leave them changed.
    """
    from PIL import Image
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _worker_failure(exc: BaseException) -> ManifestError:
    return ManifestError(
        f"image hashing stopped: a worker failed ({type(exc).__name__}: "
        f"{_first_line(exc)}). A worker that is killed has most often run out of "
        "memory: use fewer workers (n_jobs, --n-jobs) or a lower max_pixels "
        "(--max-pixels)."
    )


def _run_chunks(
    func: Any,
    chunks: Sequence[Any],
    args: tuple[Any, ...],
    n_workers: int,
    bar: Any,
    prefer: str = "threads",
    parallel: Any = None,
) -> list[Any]:
    """``func(chunk, *args)`` for every chunk, in order, through joblib.

    ``prefer`` is joblib's hint (threads or processes) when no backend is
    configured; ``parallel``, a joblib ``Parallel`` already entered, reuses its
    workers. A worker that dies (a process killed for memory, a lost cluster
    worker) or any other failure of the parallel machinery becomes a one-line
    ManifestError.
    """
    from joblib import Parallel, delayed

    if parallel is None:
        parallel = Parallel(n_jobs=n_workers, prefer=prefer, return_as="generator")
    results: list[Any] = []
    tasks = (delayed(func)(chunk, *args) for chunk in chunks)
    try:
        for chunk_result in parallel(tasks):
            results.extend(chunk_result)
            if bar is not None:
                bar.update(len(chunk_result))
    except Exception as exc:
        raise _worker_failure(exc) from exc
    return results


def _plan(seconds_per_image: float, n_left: int, max_workers: int) -> tuple[int, str]:
    """Workers and joblib's backend hint for ``n_left`` images, from the first chunk's pace.

    Processes when the work left, spread over the workers, saves more than twice a
    pool's start-up; threads (tried, see _hash_on_threads) when they could save
    more than a thread pool costs (half the ideal saving: header parsing and the
    small array operations of each image hold the GIL); otherwise one worker.
    """
    if max_workers <= 1:
        return 1, "threads"
    saved = seconds_per_image * n_left * (1 - 1 / max_workers)
    if saved > 2 * _PROCESS_START_SECONDS:
        return max_workers, "processes"
    if saved / 2 > _THREADS_MIN_SAVING_SECONDS:
        return max_workers, "threads"
    return 1, "threads"


def _threads_pay(pace_here: float, pace_threads: float) -> bool:
    # Threads go on when they hash an image in under 90% of the time it takes here.
    return pace_threads < _THREADS_MIN_GAIN * pace_here


def _timed(run: Any) -> tuple[list[Any], float]:
    # run()'s results and the wall-clock seconds per result.
    start = time.perf_counter()
    results = run()
    return results, (time.perf_counter() - start) / max(len(results), 1)


def _hash_here(chunks: Sequence[Sequence[Path]], args: tuple[Any, ...], bar: Any) -> list[Any]:
    # Chunks hashed in the calling thread.
    results: list[Any] = []
    try:
        for chunk in chunks:
            results += _hash_chunk(chunk, *args)
            if bar is not None:
                bar.update(len(chunk))
    except Exception as exc:
        raise _worker_failure(exc) from exc
    return results


def _hash_on_threads(
    chunks: list[Sequence[Path]], args: tuple[Any, ...], workers: int, bar: Any, pace: float
) -> list[Any]:
    """Threads where they pay, measured here: never much slower than one worker.

    Whether threads beat one worker depends on the images (the share of the work
    that releases the GIL: decoding, hashing, the larger array operations) and on
    what else the machine runs. So the threads first hash one chunk each to warm up,
    then a few chunks each, timed, and their pace is compared with ``pace`` here
    (taken again on one more chunk when there are many: the first chunk's includes
    warming up); the rest go on threads only if they were faster, else here.
    """
    from joblib import Parallel

    results: list[Any] = []
    if len(chunks) > (2 + _TIMED_CHUNKS_PER_WORKER) * workers:
        results, pace = _timed(lambda: _hash_here(chunks[:1], args, bar))
        chunks = chunks[1:]
    warm_up = chunks[:workers]
    timed = chunks[workers : (1 + _TIMED_CHUNKS_PER_WORKER) * workers]
    rest = chunks[(1 + _TIMED_CHUNKS_PER_WORKER) * workers :]
    with Parallel(n_jobs=workers, prefer="threads", return_as="generator") as parallel:
        results += _run_chunks(_hash_chunk, warm_up, args, workers, bar, parallel=parallel)
        if not timed:  # the warm-up took every chunk: nothing left to decide
            return results
        tried, pace_threads = _timed(
            lambda: _run_chunks(_hash_chunk, timed, args, workers, bar, parallel=parallel)
        )
        results += tried
        if _threads_pay(pace, pace_threads):
            return results + _run_chunks(_hash_chunk, rest, args, workers, bar, parallel=parallel)
    return results + _hash_here(rest, args, bar)


def _backend_configured() -> bool:
    # An enclosing joblib.parallel_config names a backend other than joblib's
    # default (loky): the chunks go there, as planned, untried.
    from joblib.parallel import LokyBackend, get_active_backend

    return not isinstance(get_active_backend()[0], LokyBackend)


def _hash_all(
    chunks: list[Sequence[Path]], args: tuple[Any, ...], max_workers: int, bar: Any
) -> list[Any]:
    # The first chunk is hashed here, timed; its pace plans the rest (see _plan).
    with _hashing_context():
        results, pace = _timed(lambda: _hash_here(chunks[:1], args, bar))
        rest = chunks[1:]
        if not rest:
            return results
        workers, prefer = _plan(pace, sum(len(chunk) for chunk in rest), max_workers)
        if workers > 1 and prefer == "threads" and not _backend_configured():
            return results + _hash_on_threads(rest, args, workers, bar, pace)
        return results + _run_chunks(_hash_chunk, rest, args, workers, bar, prefer)


@renamed_kwargs(progress="verbose")
def hash_images(
    paths: Sequence[Path],
    *,
    column: str = "image",
    rows: Sequence[Any] | None = None,
    root: str | os.PathLike | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    n_jobs: int | None = None,
    verbose: bool = False,
) -> ImageHashes:
    """Exact and perceptual hashes of image files, in parallel with joblib.

    Each file is opened once (see :mod:`pitfalls.audit._io`): regular files only
    (a FIFO is refused, not waited on), inside ``root`` when given, and never
    decoded when its header declares more than ``max_pixels`` pixels.

    Parameters
    ----------
    paths : sequence of Path
        Image files (already resolved, see :func:`resolve_image_paths`).
    column : str, default="image"
        Manifest column name, for error messages.
    rows : sequence, optional
        Manifest row label of each path, for error messages (default: positions).
    root : path-like, optional
        Directory every opened file must lie in, checked on the opened file: a
        path that became a symbolic link (or whose directory did) after
        :func:`resolve_image_paths` checked it is refused, not read.
    max_pixels : int, default=80_000_000
        Largest image decoded, in pixels (voxels for a volume): about 240 MB for
        an RGB image. Larger ones are refused with their size.
    n_jobs : int, optional
        Most workers. ``None`` (default): up to the number of CPUs, as many as pay
        off: the pace of the first 32 images decides between one worker, threads
        (kept only where a trial on a few chunks shows them faster) and processes
        (see the module notes), or the backend of an enclosing
        ``joblib.parallel_config`` runs them (e.g. ``backend="dask"`` to hash on a
        cluster). An integer caps the workers (``-1``: all CPUs; never more than
        the CPUs).
    verbose : bool, default=False
        Show a progress bar on stderr (formerly ``progress``, deprecated; removed
        in 0.3).

    Returns
    -------
    ImageHashes

    Raises
    ------
    ManifestError
        For the first image that cannot be read or is refused, naming the row, the
        path and the reason; or when a worker dies.

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
    ...     h = hash_images([Path(d, "a.png"), Path(d, "b.png")], root=d)
    >>> bool(h.exact[0] == h.exact[1])
    True
    """
    max_pixels = check_max_pixels(max_pixels)
    paths = list(paths)
    rows = list(range(len(paths))) if rows is None else list(rows)
    workers = _n_workers(n_jobs, len(paths))
    base = None if root is None else Path(root).resolve()
    bar = _progress_bar(len(paths), bool(verbose))
    try:
        results = _hash_all(list(_chunks(paths, _CHUNK)), (base, max_pixels), workers, bar)
    finally:
        if bar is not None:
            bar.close()
    for row, path, result in zip(rows, paths, results, strict=True):
        if isinstance(result, str):
            raise ManifestError(
                f"image column {column!r}, row {row}: cannot read image '{path}' ({result})."
            )
    return _collect(results)


def _collect(results: list[Any]) -> ImageHashes:
    side = 2 * _THUMB
    return ImageHashes(
        exact=np.array([r[0] for r in results], dtype=object),
        perceptual_orientations=np.array([r[1] for r in results], dtype=np.uint64).reshape(-1, 8),
        detail_orientations=np.array([r[2] for r in results], dtype=np.uint64).reshape(-1, 8, 4),
        low_information=np.array([r[3] for r in results], dtype=bool),
        thumbnail=np.array([r[4] for r in results], dtype=np.uint8).reshape(-1, side, side),
    )


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="hashing images", unit="img", file=sys.stderr)
