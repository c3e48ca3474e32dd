"""pyradiomics feature extraction, one row per case, parallel over cases.

pyradiomics is an optional dependency: it is imported only when a function of
this module runs (``pip install "pitfalls[radiomics]"``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._compat import add_note
from .._optional import import_optional
from .._validation import describe_values

__all__ = ["extract_features"]

# Keys of a pyradiomics parameter file (as opposed to plain settings keyword arguments).
_PARAMS_FILE_KEYS = {"setting", "imageType", "featureClass", "voxelSetting"}

Spacing = Sequence[float]


@contextmanager
def _quiet_radiomics(level: int = logging.ERROR) -> Iterator[None]:
    """Raise the 'radiomics' logger's level while extracting, then restore it.

    pyradiomics logs expected situations at WARNING to stderr (e.g. "GLCM is
    symmetrical ..."), once per case, which floods notebooks and logs.
    """
    logger = logging.getLogger("radiomics")
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _build_extractor(settings: Mapping[str, Any] | str | os.PathLike | None) -> Any:
    featureextractor = _import_featureextractor()
    if settings is None:
        return featureextractor.RadiomicsFeatureExtractor()
    if isinstance(settings, str | os.PathLike):
        path = Path(settings)
        if not path.is_file():
            raise FileNotFoundError(
                f"settings={str(settings)!r} is not an existing pyradiomics parameter file; "
                "pass a YAML/JSON parameter file, a dict, or None for pyradiomics' defaults."
            )
        return featureextractor.RadiomicsFeatureExtractor(str(path))
    if not isinstance(settings, Mapping):
        raise TypeError(
            f"settings must be None, a dict or a path to a pyradiomics parameter file; "
            f"got {type(settings).__name__}."
        )
    if _PARAMS_FILE_KEYS & set(settings):
        return featureextractor.RadiomicsFeatureExtractor(dict(settings))
    return featureextractor.RadiomicsFeatureExtractor(**settings)


def _import_featureextractor() -> Any:
    import_optional("radiomics", feature="pitfalls.radiomics")
    import_optional("SimpleITK", feature="pitfalls.radiomics")
    from radiomics import featureextractor

    return featureextractor


def _to_sitk(item: Any, spacing: Spacing | None, *, is_mask: bool, name: str) -> Any:
    """A SimpleITK image from a path, a SimpleITK image or a numpy array (+ spacing)."""
    sitk = import_optional("SimpleITK", feature="pitfalls.radiomics")
    if isinstance(item, sitk.Image):
        return item
    if isinstance(item, str | os.PathLike):
        if not Path(item).exists():
            raise FileNotFoundError(f"{name} file '{item}' does not exist.")
        return sitk.ReadImage(str(item))
    array = np.asarray(item)
    if array.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be a 2-D or 3-D array (or a path / SimpleITK image); "
            f"got an array of shape {array.shape}."
        )
    if is_mask:
        array = array.astype(np.uint8) if array.dtype == bool else array
    image = sitk.GetImageFromArray(array)
    if spacing is not None:
        if len(spacing) != array.ndim:
            raise ValueError(
                f"spacing={tuple(spacing)} has {len(spacing)} values but {name} has "
                f"{array.ndim} axes; give one spacing per array axis, in array order."
            )
        # numpy axes are (z, y, x); SimpleITK wants (x, y, z).
        image.SetSpacing([float(s) for s in reversed(spacing)])
    return image


def _extract_one(
    image: Any,
    mask: Any,
    spacing: Spacing | None,
    settings: Mapping[str, Any] | str | os.PathLike | None,
    case: Any,
    errors: str,
) -> tuple[dict[str, float], str | None]:
    """Features of one case, and the error message when it failed and errors='warn'."""
    # Import before quieting: importing radiomics (first time in a worker process)
    # resets the 'radiomics' logger's level.
    _import_featureextractor()
    with _quiet_radiomics(), warnings.catch_warnings():
        # pyradiomics validates parameter files with pykwalify, whose extension loader
        # uses the deprecated importlib load_module(): not the user's to fix.
        warnings.filterwarnings(
            "ignore",
            message=r"the load_module\(\) method is deprecated",
            category=DeprecationWarning,
        )
        extractor = _build_extractor(settings)
        try:
            result = extractor.execute(
                _to_sitk(image, spacing, is_mask=False, name=f"image of case {case!r}"),
                _to_sitk(mask, spacing, is_mask=True, name=f"mask of case {case!r}"),
            )
        except Exception as exc:
            if errors == "raise":
                add_note(exc, f"while extracting radiomics features of case {case!r}")
                raise
            return {}, f"{type(exc).__name__}: {exc}"
    features = {
        key: float(value) for key, value in result.items() if not key.startswith("diagnostics_")
    }
    return features, None


def _default_ids(images: Sequence[Any]) -> list[Any]:
    """File stems when every image is a path (``case01.nrrd`` -> ``case01``), else 0..n-1."""
    if all(isinstance(item, str | os.PathLike) for item in images):
        return [Path(item).name.split(".")[0] for item in images]
    return list(range(len(images)))


def _per_case_spacing(spacing: Any, n_cases: int) -> list[Spacing | None]:
    if spacing is None:
        return [None] * n_cases
    first = np.asarray(spacing[0]) if len(spacing) else np.asarray([])
    if first.ndim == 0:  # one spacing for all cases
        return [tuple(float(s) for s in spacing)] * n_cases
    if len(spacing) != n_cases:
        raise ValueError(
            f"spacing has {len(spacing)} entries for {n_cases} cases; give one spacing "
            "for all cases or one per case."
        )
    return [tuple(float(s) for s in sp) for sp in spacing]


def extract_features(
    images: Sequence[Any],
    masks: Sequence[Any],
    *,
    ids: Sequence[Any] | None = None,
    spacing: Any = None,
    settings: Mapping[str, Any] | str | os.PathLike | None = None,
    n_jobs: int | None = None,
    verbose: int = 0,
    errors: str = "raise",
) -> pd.DataFrame:
    """Extract pyradiomics features, one row per case.

    Parameters
    ----------
    images, masks : sequence
        One image and one mask per case, each a file path (anything SimpleITK
        reads: NRRD, NIfTI, MHA, ...), a ``SimpleITK.Image`` or a numpy array
        (2-D or 3-D, axes in numpy order, e.g. ``(z, y, x)``). A 4-D array is a
        stack of 3-D volumes. Boolean masks are converted to 0/1.
    ids : sequence, optional
        Case ids, used as the index. Defaults to the file names without
        extension when ``images`` are paths, else ``0 .. n_cases - 1``.
    spacing : sequence of float or sequence of sequences, optional
        Voxel spacing (mm) of array inputs, in numpy axis order (``(z, y, x)``),
        either one for all cases or one per case. Ignored for paths and
        SimpleITK images, which carry their own. Default: 1 mm.
    settings : dict, path or None, default=None
        ``None`` uses pyradiomics' defaults, so the result equals a plain
        ``RadiomicsFeatureExtractor().execute(image, mask)``. A dict of settings
        (``{"binWidth": 25, "resampledPixelSpacing": [1, 1, 1]}``), a dict in
        the form of a parameter file (keys ``setting``, ``imageType``,
        ``featureClass``), or the path of a YAML/JSON parameter file.
    n_jobs : int, optional
        Cases extracted in parallel with joblib (``None``: 1, ``-1``: all
        cores); works with ``joblib.parallel_config(backend="dask")``.
    verbose : int, default=0
        Quiet by default, as in scikit-learn; ``verbose=1`` (or True) shows a progress
        bar over cases (tqdm, on stderr).
    errors : {"raise", "warn"}, default="raise"
        What a case that pyradiomics cannot process (an empty mask, a mask
        that does not fit its image, an unreadable file) does: stop the run
        (the exception names the case), or leave that row NaN and emit one
        ``UserWarning`` listing the failed cases, so one bad case does not
        cost a long extraction.

    Returns
    -------
    DataFrame of shape (n_cases, n_features)
        Columns named exactly as pyradiomics names them
        (``original_firstorder_Mean``, ``wavelet-LLH_glcm_Contrast``, ...);
        the ``diagnostics_*`` entries are dropped. Index: ``ids``, named
        ``"case"``.

    Raises
    ------
    ValueError
        If ``images``, ``masks`` and ``ids`` differ in length or ``ids``
        repeat.
    FileNotFoundError
        If an image, mask or parameter file does not exist.
    ImportError
        If pyradiomics is not installed, with the command that installs it.

    Notes
    -----
    pyradiomics logs expected situations ("GLCM is symmetrical ...") at
    WARNING level; the ``radiomics`` logger is raised to ERROR during
    extraction and restored afterwards, so real errors still show.

    Examples
    --------
    >>> from pitfalls.datasets import make_ct_tumours
    >>> from pitfalls.radiomics import extract_features
    >>> volumes, masks, manifest = make_ct_tumours(2, shape=(12, 24, 24), random_state=0)
    >>> features = extract_features(
    ...     volumes, masks, ids=manifest["case_id"], spacing=(2.0, 1.0, 1.0), verbose=False)
    >>> features.shape
    (2, 107)
    >>> bool(features.loc["CT-001", "original_shape_VoxelVolume"] == masks[0].sum() * 2.0)
    True
    """
    # Positional access below: Series would index by label, generators cannot be indexed.
    images = images if isinstance(images, np.ndarray) else list(images)
    masks = masks if isinstance(masks, np.ndarray) else list(masks)
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors={errors!r} is not supported; use 'raise' or 'warn'.")
    n_cases = len(images)
    if len(masks) != n_cases:
        raise ValueError(
            f"images has {n_cases} cases but masks has {len(masks)}; give one mask per image."
        )
    case_ids = list(ids) if ids is not None else _default_ids(images)
    if len(case_ids) != n_cases:
        raise ValueError(f"ids has {len(case_ids)} entries for {n_cases} cases; give one per case.")
    if len(set(case_ids)) != n_cases:
        repeated = pd.Index(case_ids)[pd.Index(case_ids).duplicated()].unique()
        raise ValueError(f"ids must be unique; repeated: {list(repeated)[:10]}.")
    _import_featureextractor()  # fail fast, with the install hint, before starting workers
    if isinstance(settings, str | os.PathLike) and not Path(settings).is_file():
        _build_extractor(settings)  # raises the FileNotFoundError naming the file
    spacings = _per_case_spacing(spacing, n_cases)

    jobs = (
        delayed(_extract_one)(images[i], masks[i], spacings[i], settings, case_ids[i], errors)
        for i in range(n_cases)
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    if verbose:
        from tqdm.auto import tqdm

        results = tqdm(results, total=n_cases, desc="radiomics", unit="case")
    outcomes = list(results)
    frame = pd.DataFrame([row for row, _ in outcomes], index=pd.Index(case_ids, name="case"))
    failed = [(case, error) for case, (_, error) in zip(case_ids, outcomes, strict=True) if error]
    if failed and len(failed) == n_cases:
        raise ValueError(f"pyradiomics failed on every case; first error: {failed[0][1]}")
    if failed:
        warnings.warn(
            f"pyradiomics failed on {len(failed)} of {n_cases} case(s) "
            f"({describe_values([case for case, _ in failed], limit=5)}); their rows are NaN. "
            f"First error: {failed[0][1]}",
            UserWarning,
            stacklevel=2,
        )
    return frame.astype(float)
