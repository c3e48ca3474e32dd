"""Loader for LCTSC-style lung CT: NRRD/NIfTI image + mask files, or DICOM CT + RTSTRUCT."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._optional import import_optional
from .._validation import describe_values

__all__ = ["load_lctsc", "rasterize_rtstruct"]

_VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
_IMAGE_STEMS = {"image", "img", "ct", "volume"}
_MASK_FOLDERS = ("masks", "labels", "labelsTr", "segmentations")
_SITE = re.compile(r"-(S\d+)-", re.IGNORECASE)  # LCTSC-Train-S1-001 -> S1 (institution)


def _volume_stem(path: Path) -> str | None:
    name = path.name
    for suffix in _VOLUME_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def _volume_files(folder: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(folder.iterdir()):
        stem = _volume_stem(path)
        if path.is_file() and stem is not None:
            files[stem] = path
    return files


def _site(case_id: str) -> str | None:
    match = _SITE.search(case_id)
    return match.group(1).upper() if match else None


def _paired_rows(root: Path, images_dir: Path) -> list[dict[str, Any]]:
    masks_dir = next((root / m for m in _MASK_FOLDERS if (root / m).is_dir()), None)
    if masks_dir is None:
        raise FileNotFoundError(
            f"'{images_dir}' exists but no mask folder next to it; expected one of "
            f"{', '.join(m + '/' for m in _MASK_FOLDERS)} in '{root}'."
        )
    masks = _volume_files(masks_dir)
    rows = []
    for stem, image_path in _volume_files(images_dir).items():
        case = stem[:-5] if stem.endswith("_0000") else stem  # nnU-Net channel suffix
        if case not in masks:
            raise FileNotFoundError(f"no mask for image '{image_path.name}' in '{masks_dir}'.")
        rows.append(
            {
                "case_id": case,
                "format": "paired",
                "image_path": str(image_path.resolve()),
                "mask_path": str(masks[case].resolve()),
                "structures": [],
            }
        )
    return rows


def _case_folder_row(case_dir: Path) -> dict[str, Any] | None:
    files = _volume_files(case_dir)
    for sub in ("structures", *_MASK_FOLDERS):
        if (case_dir / sub).is_dir():
            files.update({k: v for k, v in _volume_files(case_dir / sub).items() if k not in files})
    image = next((stem for stem in files if stem.lower() in _IMAGE_STEMS), None)
    if image is not None:
        structures = {stem: path for stem, path in files.items() if stem != image}
        return {
            "case_id": case_dir.name,
            "format": "volumes",
            "image_path": str(files[image].resolve()),
            "mask_path": str(case_dir.resolve()),
            "structures": sorted(structures),
        }
    dicoms = sorted(p for p in case_dir.rglob("*.dcm") if p.is_file())
    if dicoms:
        return _dicom_row(case_dir, dicoms)
    return None


def _dicom_row(case_dir: Path, files: list[Path]) -> dict[str, Any]:
    pydicom = import_optional("pydicom", feature="load_lctsc (DICOM layout)")
    ct_dirs, rtstructs = set(), []
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        modality = getattr(ds, "Modality", "")
        if modality == "CT":
            ct_dirs.add(path.parent)
        elif modality == "RTSTRUCT":
            rtstructs.append((path, [roi.ROIName for roi in ds.StructureSetROISequence]))
    if len(ct_dirs) != 1 or len(rtstructs) != 1:
        raise ValueError(
            f"case folder '{case_dir}' holds {len(ct_dirs)} CT series folder(s) and "
            f"{len(rtstructs)} RTSTRUCT file(s); expected one of each."
        )
    rtstruct, names = rtstructs[0]
    return {
        "case_id": case_dir.name,
        "format": "dicom",
        "image_path": str(next(iter(ct_dirs)).resolve()),
        "mask_path": str(rtstruct.resolve()),
        "structures": sorted(names),
    }


def _read_volume(path: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    sitk = import_optional("SimpleITK", feature="load_lctsc(return_arrays=True)")
    image = sitk.ReadImage(path)
    return sitk.GetArrayFromImage(image), tuple(float(s) for s in reversed(image.GetSpacing()))  # type: ignore[return-value]


def _read_ct_series(folder: str) -> tuple[np.ndarray, tuple[float, float, float], list[Any]]:
    """HU volume (z, y, x), spacing and the sorted slice headers of a DICOM CT series."""
    pydicom = import_optional("pydicom", feature="load_lctsc (DICOM layout)")
    slices = [pydicom.dcmread(p) for p in sorted(Path(folder).glob("*.dcm"))]
    slices = [s for s in slices if getattr(s, "Modality", "") == "CT"]
    orientation = np.asarray(slices[0].ImageOrientationPatient, dtype=float)
    if not np.allclose(orientation, [1, 0, 0, 0, 1, 0], atol=1e-3):
        raise ValueError(
            f"CT series '{folder}' is not axial (ImageOrientationPatient={list(orientation)}); "
            "only axial series are supported; convert it to NRRD/NIfTI first."
        )
    slices.sort(key=lambda s: float(s.ImagePositionPatient[2]))
    volume = np.stack(
        [s.pixel_array * float(s.RescaleSlope) + float(s.RescaleIntercept) for s in slices]
    ).astype(np.float32)
    z = np.array([float(s.ImagePositionPatient[2]) for s in slices])
    dz = (
        float(np.median(np.diff(z)))
        if len(z) > 1
        else float(getattr(slices[0], "SliceThickness", 1.0))
    )
    row, col = (float(v) for v in slices[0].PixelSpacing)
    return volume, (dz, row, col), slices


def rasterize_rtstruct(
    rtstruct: Any, slices: list[Any], shape: tuple[int, int, int], structures: Any
) -> np.ndarray:
    """Fill the closed planar contours of ``structures`` onto the CT grid.

    Contours on one slice are combined with exclusive or, so a contour inside
    another one (a hole) is left out, as the DICOM standard intends.

    Parameters
    ----------
    rtstruct : pydicom Dataset
        The RTSTRUCT.
    slices : list of pydicom Dataset
        The CT slice headers, sorted by z (``ImagePositionPatient``); axial.
    shape : tuple of 3 int
        ``(n_slices, rows, columns)`` of the CT volume.
    structures : iterable of str
        ROI names to fill (compared case-insensitively).

    Returns
    -------
    ndarray of uint8, shape ``shape``
        1 inside any of the structures.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> from pitfalls.datasets import rasterize_rtstruct
    >>> ct = [NS(ImagePositionPatient=[0.0, 0.0, 0.0], PixelSpacing=[1.0, 1.0])]
    >>> square = [1, 1, 0, 4, 1, 0, 4, 4, 0, 1, 4, 0]  # x, y, z of each corner, in mm
    >>> rt = NS(StructureSetROISequence=[NS(ROINumber=1, ROIName="Lung_L")],
    ...         ROIContourSequence=[NS(ReferencedROINumber=1,
    ...                                ContourSequence=[NS(ContourData=square)])])
    >>> rasterize_rtstruct(rt, ct, (1, 6, 6), ["lung_l"])[0]
    array([[0, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 1, 1, 1, 1, 0],
           [0, 0, 0, 0, 0, 0]], dtype=uint8)
    """
    from matplotlib.path import Path as PolygonPath

    wanted = {s.lower() for s in structures}
    numbers = {
        roi.ROINumber for roi in rtstruct.StructureSetROISequence if roi.ROIName.lower() in wanted
    }
    x0, y0 = (float(v) for v in slices[0].ImagePositionPatient[:2])
    row_mm, col_mm = (float(v) for v in slices[0].PixelSpacing)
    slice_z = np.array([float(s.ImagePositionPatient[2]) for s in slices])
    mask = np.zeros(shape, dtype=bool)
    for roi in rtstruct.ROIContourSequence:
        if roi.ReferencedROINumber not in numbers:
            continue
        for contour in getattr(roi, "ContourSequence", []):
            points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            k = int(np.argmin(np.abs(slice_z - points[0, 2])))
            cols, rows = (points[:, 0] - x0) / col_mm, (points[:, 1] - y0) / row_mm
            if np.ptp(cols) == 0 and np.ptp(rows) == 0:  # a POINT contour: its nearest pixel
                r, c = int(np.rint(rows[0])), int(np.rint(cols[0]))
                if 0 <= r < shape[1] and 0 <= c < shape[2]:
                    mask[k, r, c] ^= True
                continue
            r0, r1 = max(int(np.floor(rows.min())), 0), min(int(np.ceil(rows.max())) + 1, shape[1])
            c0, c1 = max(int(np.floor(cols.min())), 0), min(int(np.ceil(cols.max())) + 1, shape[2])
            if r0 >= r1 or c0 >= c1:
                continue
            rr, cc = np.mgrid[r0:r1, c0:c1]
            polygon, centres = PolygonPath(np.c_[cols, rows]), np.c_[cc.ravel(), rr.ravel()]
            # Pixel centres on the outline count as inside. The sign of matplotlib's
            # radius depends on the contour's winding, so try both signs.
            inside = polygon.contains_points(centres, radius=1e-6) | polygon.contains_points(
                centres, radius=-1e-6
            )
            mask[k, r0:r1, c0:c1] ^= inside.reshape(rr.shape)
    return mask.astype(np.uint8)


def _load_case(row: pd.Series, structures: Any) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    if row["format"] == "dicom":
        pydicom = import_optional("pydicom", feature="load_lctsc (DICOM layout)")
        volume, spacing, slices = _read_ct_series(row["image_path"])
        _check_structures(row, structures)
        rt = pydicom.dcmread(row["mask_path"])
        return volume, rasterize_rtstruct(rt, slices, volume.shape, structures), spacing
    volume, spacing = _read_volume(row["image_path"])
    if row["format"] == "paired":
        labels, _ = _read_volume(row["mask_path"])
        return volume, (labels > 0).astype(np.uint8), spacing
    found = _check_structures(row, structures)
    mask = np.zeros(volume.shape, dtype=np.uint8)
    for name in found:
        path = next(Path(row["mask_path"]).rglob(f"{name}.*"))
        part, _ = _read_volume(str(path))
        mask |= (part > 0).astype(np.uint8)
    return volume, mask, spacing


def _check_structures(row: pd.Series, structures: Any) -> list[str]:
    wanted = {s.lower() for s in structures}
    found = [s for s in row["structures"] if s.lower() in wanted]
    if not found:
        raise ValueError(
            f"case {row['case_id']!r} has none of the structures {describe_values(structures)}; "
            f"it has {describe_values(row['structures']) or 'none'}. Pass structures=[...]."
        )
    return found


def load_lctsc(
    root: str | Path,
    *,
    structures: Any = ("Lung_L", "Lung_R"),
    return_arrays: bool = False,
) -> (
    pd.DataFrame | tuple[pd.DataFrame, list[np.ndarray], list[np.ndarray], list[tuple[float, ...]]]
):
    """Read lung CT cases with segmentations (Lung CT Segmentation Challenge 2017 style).

    Three layouts are recognised:

    - **DICOM as downloaded from TCIA**: one folder per case
      (``LCTSC-Train-S1-001/``) holding, at any depth, one CT series and one
      RTSTRUCT file. Contours are rasterised onto the CT grid (axial series
      only).
    - **Volume files per case**: ``<case>/image.nrrd`` (or ``ct``/``img``/
      ``volume``, any of ``.nrrd .nii .nii.gz .mha .mhd``) with one binary mask
      file per structure (``<case>/Lung_L.nrrd``, or in ``<case>/structures/``).
    - **Paired folders**: ``images/<case>.nii.gz`` with ``masks/<case>.nii.gz``
      (or ``labels/``, ``labelsTr/``); every non-zero label counts as foreground.

    Parameters
    ----------
    root : str or Path
        Folder holding the cases.
    structures : sequence of str, default=("Lung_L", "Lung_R")
        Structures merged into the returned mask (LCTSC names: ``Lung_L``,
        ``Lung_R``, ``Heart``, ``SpinalCord``, ``Esophagus``); case-insensitive.
    return_arrays : bool, default=False
        Also read the volumes, masks and spacings.

    Returns
    -------
    manifest : DataFrame
        One row per case: ``case_id``, ``patient_id`` (the case id: LCTSC has
        one scan per patient), ``site`` (institution ``S1``/``S2``/``S3`` from
        LCTSC ids, else missing), ``format`` (``dicom``/``volumes``/``paired``),
        ``image_path``, ``mask_path`` (RTSTRUCT file, case folder or label
        map), ``structures`` (names available).
    volumes : list of ndarray (z, y, x), float
        CT in Hounsfield units; only with ``return_arrays=True``.
    masks : list of ndarray (z, y, x), uint8
        1 inside any of ``structures``.
    spacings : list of tuple (z, y, x)
        Voxel size in mm.

    Raises
    ------
    FileNotFoundError
        If ``root`` is missing or holds no case in a known layout.
    ValueError
        If a case lacks every requested structure (the message lists those it has).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, SimpleITK as sitk
    >>> from pitfalls.datasets import load_lctsc
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "LCTSC-Train-S2-004").mkdir()
    >>> ct = np.full((2, 4, 4), -1000, dtype=np.int16)
    >>> sitk.WriteImage(sitk.GetImageFromArray(ct), str(root / "LCTSC-Train-S2-004" / "image.nrrd"))
    >>> lung = np.zeros((2, 4, 4), dtype=np.uint8); lung[:, 1:3, 1:3] = 1
    >>> sitk.WriteImage(sitk.GetImageFromArray(lung), str(root / "LCTSC-Train-S2-004" / "Lung_L.nrrd"))
    >>> manifest, volumes, masks, spacings = load_lctsc(root, return_arrays=True)
    >>> manifest[["case_id", "site", "format", "structures"]]
                  case_id site   format structures
    0  LCTSC-Train-S2-004   S2  volumes   [Lung_L]
    >>> int(masks[0].sum()), spacings[0]
    (8, (1.0, 1.0, 1.0))
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"root '{root}' is not an existing folder.")
    if isinstance(structures, str):
        structures = [structures]
    images_dir = next((root / d for d in ("images", "imagesTr") if (root / d).is_dir()), None)
    if images_dir is not None:
        rows = _paired_rows(root, images_dir)
    else:
        found = (_case_folder_row(d) for d in sorted(root.iterdir()) if d.is_dir())
        rows = [row for row in found if row is not None]
    if not rows:
        raise FileNotFoundError(
            f"no case found under '{root}': expected case folders with image.nrrd/.nii.gz and "
            "mask files, case folders of DICOM CT + RTSTRUCT, or images/ with masks/."
        )
    manifest = pd.DataFrame(rows)
    manifest.insert(1, "patient_id", manifest["case_id"])
    manifest.insert(2, "site", [_site(c) for c in manifest["case_id"]])
    if not return_arrays:
        return manifest
    volumes, masks, spacings = [], [], []
    for _, row in manifest.iterrows():
        volume, mask, spacing = _load_case(row, structures)
        volumes.append(volume)
        masks.append(mask)
        spacings.append(spacing)
    return manifest, volumes, masks, spacings
