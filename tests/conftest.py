"""Fixtures shared by several test modules: writers of the public datasets' file formats."""

from __future__ import annotations

import numpy as np
import pytest


def _write_dicom(path, pixels, *, age="045Y", sex="F", view="PA", photometric="MONOCHROME2"):
    """An 8-bit secondary-capture DICOM file like RSNA's, with the headers loaders read."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientAge, ds.PatientSex, ds.ViewPosition = age, sex, view
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def write_dicom():
    """``write_dicom(path, pixels, *, age, sex, view, photometric)``; needs pydicom."""
    pytest.importorskip("pydicom")
    return _write_dicom
