"""pitfalls.datasets.load_image: the one image reader (audit and torch re-export it)."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from PIL import Image

import pitfalls.audit
import pitfalls.datasets
from pitfalls.datasets import load_image


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(12, 10), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    deep = rng.integers(0, 2**16, size=(12, 10), dtype=np.uint16)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(deep).save(tmp_path / "deep.png")
    Image.fromarray(gray).save(tmp_path / "gray.tif")
    Image.fromarray(rgb).save(tmp_path / "rgb.jpg", quality=95)
    np.save(tmp_path / "arr.npy", rgb.astype(np.float32) / 255)
    np.savez(tmp_path / "arr.npz", first=gray, second=rgb)
    return tmp_path, gray, rgb, deep


def test_every_format_decodes_to_its_pixels(images):
    root, gray, rgb, deep = images
    np.testing.assert_array_equal(load_image(root / "gray.png"), gray)
    np.testing.assert_array_equal(load_image(root / "rgb.png"), rgb)
    np.testing.assert_array_equal(load_image(root / "deep.png"), deep)  # 16 bits kept
    np.testing.assert_array_equal(load_image(root / "gray.tif"), gray)
    np.testing.assert_allclose(load_image(root / "arr.npy"), rgb / 255, rtol=1e-6)
    np.testing.assert_array_equal(load_image(str(root / "arr.npz")), gray)  # the first array
    with Image.open(root / "rgb.jpg") as reference:  # lossy: compare with Pillow's decode
        np.testing.assert_array_equal(load_image(root / "rgb.jpg"), np.asarray(reference))
    assert load_image(root / "rgb.png").flags.writeable


def test_palette_images_give_their_colours_not_their_indices(tmp_path):
    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[:3] = (200, 10, 10)
    rgb[3:] = (10, 10, 200)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=2).save(
        tmp_path / "p.png"
    )
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), rgb)
    with_alpha = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=2)
    with_alpha.info["transparency"] = 0
    with_alpha.save(tmp_path / "pa.png", transparency=0)
    assert load_image(tmp_path / "pa.png").shape == (6, 6, 4)
    assert load_image(tmp_path / "pa.png", mode="RGB").shape == (6, 6, 3)


def test_modes_match_pillow(images):
    root, gray, _, _ = images
    reference = np.asarray(Image.open(root / "rgb.png").convert("L")).astype(int)
    assert np.abs(load_image(root / "rgb.png", mode="L").astype(int) - reference).max() <= 1
    np.testing.assert_array_equal(load_image(root / "gray.png", mode="RGB")[..., 2], gray)
    np.testing.assert_array_equal(load_image(root / "gray.png", mode="L"), gray)
    with pytest.raises(
        ValueError, match=re.escape("mode='CMYK' is not supported; use None, 'L' or 'RGB'.")
    ):
        load_image(root / "gray.png", mode="CMYK")


def test_dicom_pixels(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    pixels = np.arange(20, dtype=np.uint16).reshape(4, 5) * 100
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
    )
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = pixels.tobytes()
    try:
        ds.save_as(tmp_path / "ct.dcm", enforce_file_format=True)
    except TypeError:  # pydicom < 3
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(tmp_path / "ct.dcm", write_like_original=False)
    np.testing.assert_array_equal(load_image(tmp_path / "ct.dcm"), pixels)


def test_one_reader_under_every_public_name():
    # one implementation: the audit's and the torch side's names are the same object
    assert pitfalls.audit.load_image is pitfalls.datasets.load_image
    assert "load_image" in pitfalls.datasets.__all__
    if importlib.util.find_spec("torch") is not None:
        from pitfalls.torch import load_image as torch_load_image

        assert torch_load_image is load_image
