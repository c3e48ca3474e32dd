"""Reading image files for an audit: once, inside ``root``, regular files only, within a budget.

Every image is opened exactly once, through :func:`open_image_file`, and
everything the audit needs later (hashes, the verification thumbnail that the
HTML report shows) is computed from what was read then. The checks, in order:

1. ``os.open`` with ``O_NOFOLLOW`` when a ``root`` is given: the paths were
   resolved (every symbolic link followed) and checked against ``root`` before
   hashing, so a final component that is a symbolic link *now* was swapped in
   since, and is refused. ``O_NONBLOCK`` makes opening a FIFO return at once
   instead of waiting for a writer forever.
2. ``os.fstat`` on the opened descriptor: anything but a regular file (a FIFO, a
   device, a directory, a socket) is refused.
3. With a ``root``, the real path of the *opened descriptor* (``/proc/self/fd``
   on Linux, ``F_GETPATH`` on macOS) must lie inside ``root``: this also catches a
   directory of the path swapped for a link after the check. Where neither
   exists, the descriptor's device and inode must match those of the path
   resolved again (best effort).

Then the file is decoded from that descriptor, after its header has been read
and its pixel count checked against ``max_pixels`` (so a small PNG that
declares 13000 x 13000 pixels is refused before 2 GB are allocated).
"""

from __future__ import annotations

import errno
import functools
import math
import os
import re
import stat
import sys
from typing import IO, Any

import numpy as np

__all__ = ["DEFAULT_MAX_PIXELS", "ImageReadError", "open_image_file", "read_image"]

#: Largest image decoded by default, in pixels (voxels for a volume): a
#: 512 x 512 x 300 CT volume or an 8000 x 10000 radiograph, below Pillow's own
#: decompression-bomb warning (89 million pixels).
DEFAULT_MAX_PIXELS = 80_000_000

_DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})


class ImageReadError(OSError):
    """An image file that is refused or cannot be decoded; the message is one clause.

    Examples
    --------
    >>> from pitfalls.audit._io import ImageReadError
    >>> str(ImageReadError("is not a regular file (a FIFO)"))
    'is not a regular file (a FIFO)'
    """


class ImageTooLargeError(ImageReadError):
    """An image over ``max_pixels``."""


def check_max_pixels(max_pixels: Any) -> int:
    """Validate ``max_pixels`` (a positive integer) and return it as an int.

    Examples
    --------
    >>> from pitfalls.audit._io import check_max_pixels
    >>> check_max_pixels(1_000)
    1000
    >>> check_max_pixels(0)
    Traceback (most recent call last):
    ...
    ValueError: max_pixels=0 must be a positive number of pixels; use e.g. 80000000 (the default).
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int | np.integer):
        raise ValueError(
            f"max_pixels={max_pixels!r} must be a positive number of pixels; use e.g. "
            f"{DEFAULT_MAX_PIXELS} (the default)."
        )
    if max_pixels < 1:
        raise ValueError(
            f"max_pixels={max_pixels} must be a positive number of pixels; use e.g. "
            f"{DEFAULT_MAX_PIXELS} (the default)."
        )
    return int(max_pixels)


def open_image_file(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> IO[bytes]:
    """Open a file for reading, refusing links swapped in, non-regular files and escapes.

    Parameters
    ----------
    path : path-like
        The file. With ``root``, it should already be resolved (see
        :func:`~pitfalls.audit.resolve_image_paths`): a symbolic link as its last
        component is refused.
    root : path-like, optional
        The opened file must lie inside this directory (checked on the opened
        descriptor, so a path changed after an earlier check cannot escape).

    Returns
    -------
    binary file object
        Positioned at the start; the caller closes it.

    Raises
    ------
    ImageReadError
        A one-clause reason: missing, a symbolic link, a symbolic-link loop, not a
        regular file (FIFO, directory, device), outside ``root``.

    Examples
    --------
    >>> import os, tempfile
    >>> from pitfalls.audit._io import open_image_file
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with open(os.path.join(d, "a.bin"), "wb") as f:
    ...         _ = f.write(b"abc")
    ...     os.mkfifo(os.path.join(d, "pipe"))
    ...     with open_image_file(os.path.join(d, "a.bin"), root=d) as f:
    ...         data = f.read()
    ...     try:
    ...         open_image_file(os.path.join(d, "pipe"))
    ...     except OSError as exc:
    ...         print(exc)
    is not a regular file (a FIFO); refusing to read it
    >>> data
    b'abc'
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    if root is not None:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_error(exc, root) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageReadError(
                f"is not a regular file ({_file_kind(info.st_mode)}); refusing to read it"
            )
        if root is not None:
            _check_descriptor_inside(fd, path, info, os.path.realpath(root))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_error(exc: OSError, root: Any) -> ImageReadError:
    if exc.errno == errno.ELOOP:
        # With O_NOFOLLOW, ELOOP means the last component is a symbolic link.
        if root is not None:
            return ImageReadError(
                "is a symbolic link now (it was not when paths were checked against root); "
                "refusing to read it"
            )
        return ImageReadError("is a symbolic-link loop")
    return ImageReadError(exc.strerror or type(exc).__name__)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _check_descriptor_inside(fd: int, path: Any, info: os.stat_result, root: str) -> None:
    # root: a real path (os.path.realpath); plain string tests, as this runs per image.
    real = _descriptor_path(fd)
    if real is None:  # no way to ask the descriptor: compare it with the path now
        try:
            now = os.stat(os.path.realpath(path))
        except (OSError, RuntimeError):
            now = None
        same = now is not None and (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)
        if not same or not _inside(os.path.realpath(path), root):
            raise ImageReadError(
                f"changed while it was opened (not the file inside root '{root}'); "
                "refusing to read it"
            )
        return
    if not _inside(real, root):
        raise ImageReadError(
            f"opened as '{real}', outside root '{root}' (a path component was replaced "
            "by a symbolic link after the check); refusing to read it"
        )


def _inside(real: str, root: str) -> bool:
    # Path(real).is_relative_to(root) for normalised absolute paths, on strings.
    return real == root or real.startswith(root if root.endswith(os.sep) else root + os.sep)


def _descriptor_path(fd: int) -> str | None:
    # The path the kernel holds for an open descriptor, or None where it cannot say.
    if _has_proc_fd():
        return os.readlink(f"/proc/self/fd/{fd}")
    if sys.platform == "darwin":  # pragma: no cover - exercised on macOS only
        import fcntl

        raw = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024))  # type: ignore[attr-defined]
        return os.fsdecode(raw.rstrip(b"\0"))
    return None  # pragma: no cover


@functools.cache
def _has_proc_fd() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


def read_image(
    path: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Any:
    """Open an image once (see :func:`open_image_file`) and decode it, within ``max_pixels``.

    Parameters
    ----------
    path : path-like
        PNG, JPEG, TIFF, BMP... (anything Pillow reads), ``.npy``, or DICOM
        (``.dcm``, needs pydicom).
    root : path-like, optional
        Directory the file must lie in.
    max_pixels : int
        Largest number of pixels (voxels for a volume) decoded; read from the
        header before any pixel is decoded.

    Returns
    -------
    PIL.Image.Image or ndarray
        A loaded Pillow image (palette images converted to RGB or RGBA) for the
        formats Pillow reads, an array for ``.npy`` and DICOM.

    Raises
    ------
    ImageReadError
        Refused (see :func:`open_image_file`), over ``max_pixels``
        (:class:`ImageTooLargeError`), or not decodable.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from PIL import Image
    >>> from pitfalls.audit._io import read_image
    >>> tmp = tempfile.TemporaryDirectory()
    >>> d = tmp.name
    >>> Image.fromarray(np.zeros((40, 50), np.uint8)).save(os.path.join(d, "x.png"))
    >>> read_image(os.path.join(d, "x.png")).size
    (50, 40)
    >>> read_image(os.path.join(d, "x.png"), max_pixels=1000)
    Traceback (most recent call last):
    ...
    pitfalls.audit._io.ImageTooLargeError: has 50 x 40 = 2,000 pixels, over max_pixels=1,000
    >>> tmp.cleanup()
    """
    suffix = os.path.splitext(path)[1].lower()
    with open_image_file(path, root=root) as file:
        if suffix == ".npy":
            return _read_npy(file, max_pixels)
        if suffix in _DICOM_SUFFIXES:
            return _read_dicom(file, max_pixels)
        return _read_pillow(file, max_pixels)


def _too_large(dims: tuple[int, ...], max_pixels: int) -> None:
    total = math.prod(int(d) for d in dims)  # Python ints: no overflow
    if total > max_pixels:
        shown = " x ".join(str(d) for d in dims)
        raise ImageTooLargeError(f"has {shown} = {total:,} pixels, over max_pixels={max_pixels:,}")


def _read_pillow(file: IO[bytes], max_pixels: int) -> Any:
    from PIL import Image

    try:
        image = Image.open(file)
    except Image.DecompressionBombError as exc:  # over twice Pillow's own limit
        found = re.search(r"\((\d+) pixels\)", str(exc))
        total = int(found.group(1)) if found else max_pixels + 1
        raise ImageTooLargeError(
            f"has {total:,} pixels, over max_pixels={min(max_pixels, total - 1):,} "
            "(Pillow refuses it too)"
        ) from None
    _too_large((image.width, image.height), max_pixels)
    image.load()
    if image.mode == "P":  # palette indices mean nothing without the palette
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image


def _read_npy(file: IO[bytes], max_pixels: int) -> np.ndarray:
    from numpy.lib import format as npy_format

    version = npy_format.read_magic(file)
    if version == (1, 0):
        shape, _, _ = npy_format.read_array_header_1_0(file)
        _too_large(tuple(shape), max_pixels)
    elif version == (2, 0):
        shape, _, _ = npy_format.read_array_header_2_0(file)
        _too_large(tuple(shape), max_pixels)
    file.seek(0)
    array = np.load(file, allow_pickle=False)
    _too_large(array.shape, max_pixels)  # format versions whose header was not read above
    return array


def _read_dicom(file: IO[bytes], max_pixels: int) -> np.ndarray:
    from .._optional import import_optional

    pydicom = import_optional("pydicom", feature="auditing DICOM images")
    dataset = pydicom.dcmread(file)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    dims = (int(dataset.Rows), int(dataset.Columns)) + ((frames,) if frames > 1 else ())
    _too_large(dims, max_pixels)
    return np.asarray(dataset.pixel_array)
