"""Tests for pitfalls.datasets.load_lctsc on generated NRRD, NIfTI and DICOM fixtures."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pitfalls.datasets import load_lctsc

sitk = pytest.importorskip("SimpleITK")
pydicom = pytest.importorskip("pydicom")

SHAPE = (4, 12, 10)  # (z, y, x)
SPACING = (2.5, 0.8, 0.7)


def _ct():
    rng = np.random.RandomState(0)
    return rng.randint(-1000, 400, SHAPE).astype(np.int16)


def _write(array, path, spacing=SPACING):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(list(reversed(spacing)))
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))


def _box(z, y, x):
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[z, y, x] = 1
    return mask


LEFT = _box(slice(1, 3), slice(2, 8), slice(1, 4))
RIGHT = _box(slice(1, 4), slice(3, 9), slice(6, 9))


def test_volume_files_per_case(tmp_path):
    ct = _ct()
    case = tmp_path / "LCTSC-Train-S3-012"
    _write(ct, case / "image.nii.gz")
    _write(LEFT, case / "structures" / "Lung_L.nii.gz")
    _write(RIGHT, case / "structures" / "Lung_R.nii.gz")
    _write(_box(0, 0, 0), case / "structures" / "Heart.nii.gz")
    (tmp_path / "notes").mkdir()  # a folder that is not a case is skipped
    manifest, volumes, masks, spacings = load_lctsc(tmp_path, return_arrays=True)
    assert manifest["case_id"].tolist() == ["LCTSC-Train-S3-012"]
    assert manifest.loc[0, "site"] == "S3" and manifest.loc[0, "format"] == "volumes"
    assert manifest.loc[0, "structures"] == ["Heart", "Lung_L", "Lung_R"]
    np.testing.assert_array_equal(volumes[0], ct)
    np.testing.assert_array_equal(masks[0], LEFT | RIGHT)
    np.testing.assert_allclose(spacings[0], SPACING)
    _, _, heart, _ = load_lctsc(tmp_path, structures="heart", return_arrays=True)
    assert heart[0].sum() == 1


def test_paired_folders(tmp_path):
    labels = LEFT + 2 * RIGHT
    for case in ("a", "b"):
        _write(_ct(), tmp_path / "images" / f"{case}_0000.nrrd")
        _write(labels, tmp_path / "labels" / f"{case}.nrrd")
    manifest, _, masks, _ = load_lctsc(tmp_path, return_arrays=True)
    assert manifest["case_id"].tolist() == ["a", "b"]
    assert manifest["site"].isna().all()
    np.testing.assert_array_equal(masks[1], (labels > 0).astype(np.uint8))


def _dicom_case(folder, ct, contours, *, orientation=(1, 0, 0, 0, 1, 0)):
    """Write ``ct`` as an axial CT series and an RTSTRUCT with the given contours (mm)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    def new(sop_class):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
        return ds

    series = folder / "1.000000-CT-1" / "series"
    series.mkdir(parents=True)
    for k in np.random.RandomState(1).permutation(ct.shape[0]):  # written out of order
        ds = new("1.2.840.10008.5.1.4.1.1.2")
        ds.Modality = "CT"
        ds.ImagePositionPatient = [-10.0, -20.0, 5.0 + k * SPACING[0]]
        ds.ImageOrientationPatient = list(orientation)
        ds.PixelSpacing = [SPACING[1], SPACING[2]]
        ds.Rows, ds.Columns = ct.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (ct[k].astype(np.int32) + 1024).astype(np.uint16).tobytes()
        ds.save_as(series / f"1-{k + 1:02d}.dcm", enforce_file_format=True)
    rt = new("1.2.840.10008.5.1.4.1.1.481.3")
    rt.Modality = "RTSTRUCT"
    rois, roi_contours = [], []
    for number, (name, polygons) in enumerate(contours.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        rois.append(roi)
        items = []
        for k, (rows, cols) in polygons:
            item = Dataset()
            xy = [
                (-10.0 + c * SPACING[2], -20.0 + r * SPACING[1])
                for r, c in zip(rows, cols, strict=True)
            ]
            item.ContourData = [v for x, y in xy for v in (x, y, 5.0 + k * SPACING[0])]
            items.append(item)
        roi_contour = Dataset()
        roi_contour.ReferencedROINumber = number
        roi_contour.ContourSequence = Sequence(items)
        roi_contours.append(roi_contour)
    rt.StructureSetROISequence = Sequence(rois)
    rt.ROIContourSequence = Sequence(roi_contours)
    (folder / "rt").mkdir()
    rt.save_as(folder / "rt" / "1-1.dcm", enforce_file_format=True)


def _square(r0, r1, c0, c1, *, clockwise=True):
    rows, cols = [r0, r0, r1, r1], [c0, c1, c1, c0]
    return (rows, cols) if clockwise else (rows[::-1], cols[::-1])


def test_dicom_ct_and_rtstruct(tmp_path):
    ct = _ct()
    contours = {
        "Lung_L": [(1, _square(2, 7, 1, 3)), (2, _square(2, 7, 1, 3, clockwise=False))],
        # a ring: outer square with a hole (inner square) on slice 3
        "Lung_R": [(3, _square(2, 9, 4, 8)), (3, _square(4, 6, 5, 7, clockwise=False))],
        "SpinalCord": [(0, _square(9, 10, 4, 5))],
    }
    _dicom_case(tmp_path / "LCTSC-Test-S1-101", ct, contours)
    manifest, volumes, masks, spacings = load_lctsc(tmp_path, return_arrays=True)
    assert manifest.loc[0, "format"] == "dicom" and manifest.loc[0, "site"] == "S1"
    assert manifest.loc[0, "structures"] == ["Lung_L", "Lung_R", "SpinalCord"]
    assert manifest.loc[0, "mask_path"].endswith("1-1.dcm")
    np.testing.assert_array_equal(volumes[0], ct)  # sorted by z, rescaled to HU
    np.testing.assert_allclose(spacings[0], SPACING)
    expected = _box(slice(1, 3), slice(2, 8), slice(1, 4))
    expected[3, 2:10, 4:9] = 1
    expected[3, 4:7, 5:8] = 0  # the hole; its boundary pixels belong to the inner contour
    np.testing.assert_array_equal(masks[0], expected)


def test_dicom_non_axial_series_is_refused(tmp_path):
    _dicom_case(
        tmp_path / "case",
        _ct(),
        {"Lung_L": [(1, _square(2, 7, 1, 3))]},
        orientation=(1, 0, 0, 0, 0, -1),
    )
    with pytest.raises(ValueError, match=r"is not axial .* convert it to NRRD/NIfTI first"):
        load_lctsc(tmp_path, return_arrays=True)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"root '.*nothing' is not an existing folder"):
        load_lctsc(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match=r"no case found under"):
        load_lctsc(tmp_path)
    _write(_ct(), tmp_path / "case1" / "ct.nrrd")
    _write(LEFT, tmp_path / "case1" / "Heart.nrrd")
    assert load_lctsc(tmp_path)["structures"].tolist() == [["Heart"]]
    with pytest.raises(
        ValueError,
        match=r"case 'case1' has none of the structures 'Lung_L', 'Lung_R'; it has 'Heart'\. Pass structures=",
    ):
        load_lctsc(tmp_path, return_arrays=True)


def test_paired_errors(tmp_path):
    _write(_ct(), tmp_path / "images" / "a.nrrd")
    with pytest.raises(FileNotFoundError, match=r"no mask folder next to it"):
        load_lctsc(tmp_path)
    (tmp_path / "masks").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no mask for image 'a.nrrd'"):
        load_lctsc(tmp_path)


@settings(max_examples=40, deadline=None)
@given(
    r0=st.integers(0, 8),
    c0=st.integers(0, 8),
    height=st.integers(0, 6),
    width=st.integers(0, 6),
    clockwise=st.booleans(),
    origin=st.floats(-50, 50),
)
def test_rasterize_rectangles_through_pixel_centres(r0, c0, height, width, clockwise, origin):
    from types import SimpleNamespace as NS

    from pitfalls.datasets import rasterize_rtstruct

    spacing = (0.7, 1.3)  # (row, column) mm
    ct = [
        NS(ImagePositionPatient=[origin, -origin, 2.0 * k], PixelSpacing=list(spacing))
        for k in range(2)
    ]
    rows, cols = _square(r0, r0 + height, c0, c0 + width, clockwise=clockwise)
    data = [
        v
        for r, c in zip(rows, cols, strict=True)
        for v in (origin + c * spacing[1], -origin + r * spacing[0], 2.0)
    ]
    rt = NS(
        StructureSetROISequence=[
            NS(ROINumber=7, ROIName="Lung_R"),
            NS(ROINumber=8, ROIName="Heart"),
        ],
        ROIContourSequence=[NS(ReferencedROINumber=7, ContourSequence=[NS(ContourData=data)])],
    )
    mask = rasterize_rtstruct(rt, ct, (2, 16, 16), ["LUNG_R"])
    expected = np.zeros((2, 16, 16), dtype=np.uint8)
    # pixel centres on the outline count as inside, so a degenerate contour (a line)
    # marks the pixels it runs through
    expected[1, r0 : r0 + height + 1, c0 : c0 + width + 1] = 1
    np.testing.assert_array_equal(mask, expected)
    assert rasterize_rtstruct(rt, ct, (2, 16, 16), ["Heart"]).sum() == 0
