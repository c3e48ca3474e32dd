"""Tests for the chest X-ray loaders, on tiny fixtures in the published layouts."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pitfalls._manifest import ManifestError
from pitfalls.datasets import kermany_patient_id, load_chest_xray_kermany, load_rsna_pneumonia

pydicom = pytest.importorskip("pydicom")

KERMANY_FILES = [
    "train/NORMAL/IM-0115-0001.jpeg",
    "train/NORMAL/IM-0115-0002.jpeg",
    "train/NORMAL/NORMAL2-IM-1427-0001.jpeg",
    "train/PNEUMONIA/person1_bacteria_1.jpeg",
    "train/PNEUMONIA/person1_virus_6.jpeg",
    "val/PNEUMONIA/person1946_bacteria_4874.jpeg",
    "test/NORMAL/IM-0001-0001.jpeg",
    "test/PNEUMONIA/person100_bacteria_475.jpeg",
]


def _write_kermany(base, files=KERMANY_FILES):
    for i, name in enumerate(files):
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((20, 30), 10 * i, dtype=np.uint8)).save(path)


@pytest.mark.parametrize(
    ("stem", "patient"),
    [
        ("person1_bacteria_1", "person1"),
        ("person1000_virus_1681", "person1000"),
        ("IM-0115-0001", "IM-0115"),
        ("NORMAL2-IM-1427-0001", "NORMAL2-IM-1427"),
        ("scan", "scan"),
    ],
)
def test_kermany_patient_id(stem, patient):
    assert kermany_patient_id(stem) == patient


@pytest.mark.parametrize("nesting", ["", "chest_xray", "chest_xray/chest_xray"])
def test_kermany_manifest(tmp_path, nesting):
    _write_kermany(tmp_path / nesting if nesting else tmp_path)
    (tmp_path / nesting / "train" / "NORMAL" / "._IM-0115-0001.jpeg").write_bytes(b"mac junk")
    manifest = load_chest_xray_kermany(tmp_path)
    assert len(manifest) == len(KERMANY_FILES)
    assert manifest["split"].value_counts().to_dict() == {"train": 5, "test": 2, "val": 1}
    by_id = manifest.set_index("image_id")
    assert by_id.loc["person1_virus_6", "patient_id"] == "person1"
    assert by_id.loc["person1_virus_6", "subtype"] == "virus"
    assert by_id.loc["IM-0115-0002", "patient_id"] == "IM-0115"
    assert pd.isna(by_id.loc["IM-0115-0002", "subtype"])
    assert (manifest["label"] == (manifest["diagnosis"] == "PNEUMONIA")).all()
    assert manifest.groupby("patient_id").size()["person1"] == 2
    assert set(manifest["site"]) == {"kermany"}
    assert all(pd.io.common.file_exists(p) for p in manifest["path"])


def test_kermany_images(tmp_path):
    _write_kermany(tmp_path)
    manifest, images = load_chest_xray_kermany(tmp_path, return_images=True, image_size=16)
    assert images.shape == (8, 16, 16) and images.dtype == np.uint8
    for row, image in zip(manifest.itertuples(), images, strict=True):
        expected = np.asarray(Image.open(row.path).convert("L").resize((16, 16)))
        np.testing.assert_array_equal(image, expected)


def test_kermany_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"root '.*nowhere' is not an existing folder\."):
        load_chest_xray_kermany(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"has no train/, val/ or test/ folder"):
        load_chest_xray_kermany(tmp_path)
    (tmp_path / "train" / "NORMAL").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no .jpeg/.jpg/.png images under"):
        load_chest_xray_kermany(tmp_path)


LABELS = """patientId,x,y,width,height,Target
p-neg,,,,,0
p-two,264.0,152.0,213.0,379.0,1
p-two,562.0,152.0,256.0,453.0,1
p-one,100,100,50,60,1
p-odd,,,,,0
"""
CLASSES = """patientId,class
p-neg,Normal
p-two,Lung Opacity
p-two,Lung Opacity
p-one,Lung Opacity
p-odd,No Lung Opacity / Not Normal
"""


@pytest.fixture
def rsna_root(tmp_path, write_dicom):
    (tmp_path / "stage_2_train_labels.csv").write_text(LABELS)
    (tmp_path / "stage_2_detailed_class_info.csv").write_text(CLASSES)
    images = tmp_path / "stage_2_train_images"
    images.mkdir()
    ramp = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    for i, pid in enumerate(["p-neg", "p-two", "p-one", "p-odd"]):
        write_dicom(
            images / f"{pid}.dcm",
            ramp,
            view="AP" if i % 2 else "PA",
            photometric="MONOCHROME1" if pid == "p-odd" else "MONOCHROME2",
        )
    return tmp_path


def test_rsna_manifest(rsna_root):
    manifest = load_rsna_pneumonia(rsna_root)
    assert manifest["patient_id"].tolist() == ["p-neg", "p-two", "p-one", "p-odd"]
    assert manifest["label"].tolist() == [0, 1, 1, 0]
    assert manifest["n_boxes"].tolist() == [0, 2, 1, 0]
    assert manifest.loc[1, "boxes"] == [(264.0, 152.0, 213.0, 379.0), (562.0, 152.0, 256.0, 453.0)]
    assert manifest["class"].tolist() == [
        "Normal",
        "Lung Opacity",
        "Lung Opacity",
        "No Lung Opacity / Not Normal",
    ]
    assert "age" not in manifest.columns
    assert set(manifest["site"]) == {"rsna"}


def test_rsna_headers_and_images(rsna_root):
    manifest, images = load_rsna_pneumonia(
        labels_csv=rsna_root / "stage_2_train_labels.csv",
        images_dir=rsna_root / "stage_2_train_images",
        read_headers=True,
        return_images=True,
        image_size=8,
    )
    assert "class" not in manifest.columns  # no root, no class file given
    assert manifest["age"].tolist() == [45, 45, 45, 45]
    assert manifest["view_position"].tolist() == ["PA", "AP", "PA", "AP"]
    assert images.shape == (4, 8, 8) and images.dtype == np.uint8
    assert images[0, 0, 0] == 0 and images[0, -1, -1] == 255
    np.testing.assert_array_equal(images[3], 255 - images[0])  # MONOCHROME1 is inverted


def test_rsna_errors(rsna_root, tmp_path_factory):
    with pytest.raises(ValueError, match=r"give root, or both labels_csv and images_dir\."):
        load_rsna_pneumonia(labels_csv="x.csv")
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(
        FileNotFoundError, match=r"labels file '.*stage_2_train_labels.csv' does not exist"
    ):
        load_rsna_pneumonia(empty)
    (rsna_root / "stage_2_train_images" / "p-one.dcm").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"1 DICOM file\(s\) listed in .* are missing from .*: 'p-one'\."
    ):
        load_rsna_pneumonia(rsna_root)
    (rsna_root / "stage_2_train_labels.csv").write_text("patientId,Target\na,0\n")
    with pytest.raises(ManifestError, match=r"lacks column\(s\) 'x', 'y', 'width', 'height'"):
        load_rsna_pneumonia(rsna_root)
    (rsna_root / "stage_2_train_labels.csv").write_text(
        "patientId,x,y,width,height,Target\na,,,,,0\na,1,1,1,1,1\n"
    )
    with pytest.raises(ManifestError, match=r"gives patient\(s\) 'a' both Target 0 and 1\."):
        load_rsna_pneumonia(rsna_root)
