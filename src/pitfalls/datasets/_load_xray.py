"""Loaders for the chest X-ray datasets of the paper's batch-effect experiment.

Both read the published layout from a folder the user downloaded; nothing is
downloaded here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._optional import import_optional
from .._validation import describe_values
from ..exceptions import ManifestError

__all__ = ["kermany_patient_id", "load_chest_xray_kermany", "load_rsna_pneumonia"]

_KERMANY_SPLITS = ("train", "val", "test")
_KERMANY_CLASSES = ("NORMAL", "PNEUMONIA")
_IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
# person1_bacteria_1 / person1000_virus_1681 -> patient "person1" / "person1000"
_PERSON = re.compile(r"^(person\d+)_(bacteria|virus)_\d+$", re.IGNORECASE)
# IM-0115-0001 / NORMAL2-IM-1427-0001 -> patient "IM-0115" / "NORMAL2-IM-1427"
_IM = re.compile(r"^((?:[A-Z0-9]+-)?IM-\d+)-\d+$", re.IGNORECASE)


def kermany_patient_id(stem: str) -> str:
    """Patient id from a Kermany chest X-ray file name (without extension).

    Parameters
    ----------
    stem : str
        File name without extension.

    Returns
    -------
    str
        ``personN`` for ``personN_bacteria_K`` / ``personN_virus_K``; the name
        without its trailing image number for ``IM-XXXX-YYYY`` and
        ``NORMAL2-IM-XXXX-YYYY``; the stem itself otherwise (the image is then
        treated as its own patient).

    Examples
    --------
    >>> from pitfalls.datasets import kermany_patient_id
    >>> kermany_patient_id("person1_bacteria_1"), kermany_patient_id("NORMAL2-IM-1427-0001")
    ('person1', 'NORMAL2-IM-1427')
    """
    for pattern in (_PERSON, _IM):
        match = pattern.match(stem)
        if match:
            return match.group(1)
    return stem


def _kermany_base(root: Path) -> Path:
    """The folder holding train/val/test; Kaggle's archive nests it in chest_xray/."""
    for candidate in (root, root / "chest_xray", root / "chest_xray" / "chest_xray"):
        if any(
            (candidate / split / cls).is_dir()
            for split in _KERMANY_SPLITS
            for cls in _KERMANY_CLASSES
        ):
            return candidate
    raise FileNotFoundError(
        f"root '{root}' has no train/, val/ or test/ folder with NORMAL/ and PNEUMONIA/ inside; "
        "point root at the Kermany 'chest_xray' folder (train/NORMAL/*.jpeg, ...)."
    )


def _read_gray(path: Any, image_size: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(
            image.convert("L").resize((image_size, image_size), Image.Resampling.BILINEAR)
        )


def load_chest_xray_kermany(
    root: str | Path,
    *,
    return_images: bool = False,
    image_size: int = 224,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Read the Kermany et al. chest X-ray folder tree into a manifest.

    Layout (as published on Mendeley Data and Kaggle)::

        chest_xray/
            train/NORMAL/IM-0115-0001.jpeg
            train/PNEUMONIA/person1_bacteria_1.jpeg
            val/...
            test/...

    ``root`` may be that folder or a folder above it (Kaggle's archive nests
    ``chest_xray/chest_xray``). Macintosh metadata (``__MACOSX``, ``._*``) is
    skipped.

    Patient ids are read from the file names (the dataset documents no other
    source): ``person1_bacteria_1`` and ``person1_virus_6`` belong to patient
    ``person1``; ``IM-0115-0001`` to ``IM-0115`` and ``NORMAL2-IM-1427-0001``
    to ``NORMAL2-IM-1427``. Other names count as their own patient. The
    published train/test folders are *not* guaranteed patient-disjoint: audit
    them, or re-split with :mod:`pitfalls.model_selection` on ``patient_id``.

    Parameters
    ----------
    root : str or Path
        Folder of the dataset.
    return_images : bool, default=False
        Also load every image as 8-bit grayscale resized to
        ``image_size x image_size`` (bilinear).
    image_size : int, default=224
        Side of the loaded images.

    Returns
    -------
    manifest : DataFrame
        One row per image, sorted by split and path: ``path`` (absolute),
        ``image_id`` (file stem), ``patient_id``, ``label`` (1 = pneumonia),
        ``diagnosis`` (``NORMAL``/``PNEUMONIA``), ``subtype`` (``bacteria``,
        ``virus`` or missing), ``split`` (``train``/``val``/``test``) and
        ``site`` (``"kermany"``).
    images : ndarray of uint8, shape (n_images, image_size, image_size)
        Only with ``return_images=True``, row ``i`` is ``manifest.iloc[i]``.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or does not hold the layout above.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> from pitfalls.datasets import load_chest_xray_kermany
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["train/PNEUMONIA/person1_virus_6.jpeg", "test/NORMAL/IM-0001-0001.jpeg"]:
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True)
    ...     Image.new("L", (8, 8)).save(root / name)
    >>> load_chest_xray_kermany(root)[["patient_id", "label", "subtype", "split"]]
      patient_id  label   subtype  split
    0    IM-0001      0       NaN   test
    1    person1      1     virus  train
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"root '{root}' is not an existing folder.")
    base = _kermany_base(root)
    rows = []
    for split in _KERMANY_SPLITS:
        for diagnosis in _KERMANY_CLASSES:
            folder = base / split / diagnosis
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in _IMAGE_SUFFIXES or path.name.startswith("._"):
                    continue
                person = _PERSON.match(path.stem)
                rows.append(
                    {
                        "path": str(path.resolve()),
                        "image_id": path.stem,
                        "patient_id": kermany_patient_id(path.stem),
                        "label": int(diagnosis == "PNEUMONIA"),
                        "diagnosis": diagnosis,
                        "subtype": person.group(2).lower() if person else np.nan,
                        "split": split,
                        "site": "kermany",
                    }
                )
    if not rows:
        raise FileNotFoundError(
            f"no .jpeg/.jpg/.png images under '{base}' in */NORMAL or */PNEUMONIA."
        )
    manifest = pd.DataFrame(rows)
    manifest = manifest.sort_values(["split", "path"], kind="stable", ignore_index=True)
    if return_images:
        images = np.stack([_read_gray(p, image_size) for p in manifest["path"]])
        return manifest, images
    return manifest


def _read_dicom_gray(path: str, image_size: int) -> np.ndarray:
    from PIL import Image

    pydicom = import_optional("pydicom", feature="load_rsna_pneumonia(return_images=True)")
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.astype(np.float64)
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        pixels = pixels.max() - pixels  # MONOCHROME1 stores bright as low values
    low, high = pixels.min(), pixels.max()
    scaled = (pixels - low) / (high - low) * 255.0 if high > low else np.zeros_like(pixels)
    image = Image.fromarray(np.rint(scaled).astype(np.uint8))
    return np.asarray(image.resize((image_size, image_size), Image.Resampling.BILINEAR))


def _dicom_headers(paths: pd.Series) -> pd.DataFrame:
    pydicom = import_optional("pydicom", feature="load_rsna_pneumonia(read_headers=True)")
    rows = []
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        age = str(getattr(ds, "PatientAge", "") or "")
        rows.append(
            {
                "age": pd.to_numeric(age.rstrip("Yy"), errors="coerce") if age else np.nan,
                "sex": getattr(ds, "PatientSex", None) or None,
                "view_position": getattr(ds, "ViewPosition", None) or None,
            }
        )
    return pd.DataFrame(rows, index=paths.index)


def load_rsna_pneumonia(
    root: str | Path | None = None,
    *,
    labels_csv: str | Path | None = None,
    images_dir: str | Path | None = None,
    class_info_csv: str | Path | None = None,
    read_headers: bool = False,
    return_images: bool = False,
    image_size: int = 224,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Read the RSNA Pneumonia Detection Challenge (Kaggle) layout into a manifest.

    Layout::

        root/
            stage_2_train_labels.csv          patientId,x,y,width,height,Target
            stage_2_detailed_class_info.csv   patientId,class   (optional)
            stage_2_train_images/<patientId>.dcm

    The labels file has one row per box (several for some patients, one row
    with empty box for negatives); the manifest has one row per image. The
    detailed class file separates ``"Normal"`` from ``"No Lung Opacity / Not
    Normal"``: the paper's 8851 normal images are the ``"Normal"`` class, so
    use ``manifest["class"] == "Normal"`` rather than ``label == 0`` for them.

    Parameters
    ----------
    root : str or Path, optional
        Folder with the files above. Give either ``root`` or ``labels_csv``
        and ``images_dir``.
    labels_csv : str or Path, optional
        The labels file (overrides ``root``'s).
    images_dir : str or Path, optional
        Folder of ``<patientId>.dcm`` files (overrides ``root``'s).
    class_info_csv : str or Path, optional
        The detailed class file; default: ``root``'s if it exists.
    read_headers : bool, default=False
        Read ``age``, ``sex`` and ``view_position`` (PA/AP, a known source of
        batch effect) from the DICOM headers (needs pydicom; reads every file).
    return_images : bool, default=False
        Also load every image, min-max scaled to 8-bit and resized to
        ``image_size x image_size``.
    image_size : int, default=224
        Side of the loaded images.

    Returns
    -------
    manifest : DataFrame
        One row per image: ``patient_id``, ``path``, ``label`` (``Target``:
        1 = lung opacity), ``n_boxes``, ``boxes`` (list of ``(x, y, width,
        height)``), ``class`` (when the class file is there), ``site``
        (``"rsna"``), and with ``read_headers`` ``age``, ``sex``,
        ``view_position``.
    images : ndarray of uint8, shape (n_images, image_size, image_size)
        Only with ``return_images=True``.

    Raises
    ------
    FileNotFoundError
        Naming the missing file or folder, or the first missing DICOM files.
    ManifestError
        If the labels file lacks a column or a patient has conflicting labels.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pitfalls.datasets import load_rsna_pneumonia
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "stage_2_train_images").mkdir()
    >>> _ = (root / "stage_2_train_labels.csv").write_text(
    ...     "patientId,x,y,width,height,Target\\n"
    ...     "a,,,,,0\\nb,10,20,30,40,1\\nb,50,20,30,40,1\\n")
    >>> for pid in "ab":
    ...     _ = (root / "stage_2_train_images" / f"{pid}.dcm").write_bytes(b"")
    >>> load_rsna_pneumonia(root)[["patient_id", "label", "n_boxes"]]
      patient_id  label  n_boxes
    0          a      0        0
    1          b      1        2
    """
    labels_path, images_path, class_path = _rsna_paths(root, labels_csv, images_dir, class_info_csv)
    labels = pd.read_csv(labels_path)
    required = ["patientId", "x", "y", "width", "height", "Target"]
    missing_columns = [c for c in required if c not in labels.columns]
    if missing_columns:
        raise ManifestError(
            f"labels_csv '{labels_path}' lacks column(s) {describe_values(missing_columns)}; "
            f"expected {', '.join(required)} (the Kaggle stage_2_train_labels.csv)."
        )
    manifest = _rsna_rows(labels, labels_path)
    manifest["path"] = [
        str((images_path / f"{pid}.dcm").resolve()) for pid in manifest["patient_id"]
    ]
    exists = np.array([Path(p).is_file() for p in manifest["path"]])
    if not exists.all():
        raise FileNotFoundError(
            f"{(~exists).sum()} DICOM file(s) listed in '{labels_path}' are missing from "
            f"'{images_path}': {describe_values(manifest.loc[~exists, 'patient_id'], limit=5)}."
        )
    if class_path is not None:
        classes = (
            pd.read_csv(class_path).drop_duplicates("patientId").set_index("patientId")["class"]
        )
        manifest["class"] = manifest["patient_id"].map(classes)
    manifest["site"] = "rsna"
    if read_headers:
        manifest = manifest.join(_dicom_headers(manifest["path"]))
    manifest = manifest[[c for c in _RSNA_ORDER if c in manifest.columns]]
    if return_images:
        images = np.stack([_read_dicom_gray(p, image_size) for p in manifest["path"]])
        return manifest, images
    return manifest


_RSNA_ORDER = [
    "patient_id",
    "path",
    "label",
    "n_boxes",
    "boxes",
    "class",
    "site",
    "age",
    "sex",
    "view_position",
]


def _rsna_paths(
    root: Any, labels_csv: Any, images_dir: Any, class_info_csv: Any
) -> tuple[Path, Path, Path | None]:
    if root is None and (labels_csv is None or images_dir is None):
        raise ValueError("give root, or both labels_csv and images_dir.")
    base = Path(root) if root is not None else Path()
    if root is not None and not base.is_dir():
        raise FileNotFoundError(f"root '{base}' is not an existing folder.")
    labels_path = Path(labels_csv) if labels_csv is not None else base / "stage_2_train_labels.csv"
    images_path = Path(images_dir) if images_dir is not None else base / "stage_2_train_images"
    if not labels_path.is_file():
        raise FileNotFoundError(
            f"labels file '{labels_path}' does not exist; pass labels_csv= or a root holding "
            "stage_2_train_labels.csv."
        )
    if not images_path.is_dir():
        raise FileNotFoundError(
            f"images folder '{images_path}' does not exist; pass images_dir= or a root holding "
            "stage_2_train_images/."
        )
    if class_info_csv is not None:
        if not Path(class_info_csv).is_file():
            raise FileNotFoundError(f"class_info_csv '{class_info_csv}' does not exist.")
        return labels_path, images_path, Path(class_info_csv)
    default = base / "stage_2_detailed_class_info.csv"
    return labels_path, images_path, default if root is not None and default.is_file() else None


def _rsna_rows(labels: pd.DataFrame, labels_path: Path) -> pd.DataFrame:
    """One row per patient: label and the list of boxes."""
    target = labels.groupby("patientId", sort=False)["Target"]
    conflicting = target.min() != target.max()
    if conflicting.any():
        raise ManifestError(
            f"labels_csv '{labels_path}' gives patient(s) "
            f"{describe_values(conflicting.index[conflicting], limit=5)} both Target 0 and 1."
        )
    has_box = labels[["x", "y", "width", "height"]].notna().all(axis=1)
    boxes = (
        labels[has_box]
        .groupby("patientId", sort=False)[["x", "y", "width", "height"]]
        .apply(lambda g: [tuple(map(float, row)) for row in g.to_numpy()])
    )
    first = labels.drop_duplicates("patientId").reset_index(drop=True)
    box_lists = [boxes.get(pid, []) for pid in first["patientId"]]
    return pd.DataFrame(
        {
            "patient_id": first["patientId"].astype(str),
            "label": first["Target"].astype(int),
            "n_boxes": [len(b) for b in box_lists],
            "boxes": box_lists,
        }
    )
