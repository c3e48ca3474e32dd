"""pitfalls.reproduction with data=PATH: the real datasets' public layouts, built tiny here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pitfalls.reproduction import resolve_settings, run

TINY = dataclasses.replace(
    resolve_settings(quick=True, device="cpu", n_repeats=2),
    n_estimators=10,
    n_features=200,
    k_best=30,
    rfe_step=5,
    n_ct_cases=2,
    ct_shape=(16, 48, 48),
)


@pytest.fixture(autouse=True)
def _close_figures():
    # experiments draw with pyplot; close them so the suite never holds 20+ figures
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_accuracy_on_radiomics_csvs(tmp_path):
    from pitfalls.datasets import make_radiomics_cohort

    X, y = make_radiomics_cohort(
        n_features=TINY.n_features, endpoint="distant_metastasis", random_state=1
    )
    ids = [f"HN-{i:03d}" for i in range(len(y))]
    X.assign(id=ids).to_csv(tmp_path / "features.csv", index=False)
    pd.DataFrame({"id": ids, "distant_metastasis": np.asarray(y)}).to_csv(
        tmp_path / "clinical.csv", index=False
    )
    result = run("accuracy", data=tmp_path, settings=TINY)
    assert result.scores.loc["naive", "accuracy"] == pytest.approx(1 - np.mean(y))
    assert result.leaky_beats_correct


def test_segmentation_baseline_on_paired_nifti_folders(tmp_path):
    nib = pytest.importorskip("nibabel")
    from pitfalls.datasets import make_ct_phantom

    images, masks = make_ct_phantom(
        n_cases=TINY.n_ct_cases, shape=TINY.ct_shape, random_state=TINY.random_state
    )
    for folder in ("images", "masks"):
        (tmp_path / folder).mkdir()
    for case, (image, mask) in enumerate(zip(images, masks, strict=True)):
        # NIfTI stores (x, y, z); the loader returns (z, y, x) as the phantoms are
        nib.save(nib.Nifti1Image(image.T.astype(np.int16), np.eye(4)),
                 tmp_path / "images" / f"case{case}.nii.gz")  # fmt: skip
        nib.save(nib.Nifti1Image(mask.T.astype(np.uint8), np.eye(4)),
                 tmp_path / "masks" / f"case{case}.nii.gz")  # fmt: skip
    from_files = run("segmentation-baseline", data=tmp_path, settings=TINY)
    synthetic = run("segmentation-baseline", settings=TINY)
    np.testing.assert_allclose(
        np.sort(from_files.raw["baseline_dice"]), np.sort(synthetic.raw["baseline_dice"])
    )
    assert f"cases from {tmp_path}" in from_files.notes[0]


@pytest.mark.torch
@pytest.mark.slow
def test_batch_effect_on_kermany_and_rsna_layouts(tmp_path, write_dicom):
    pytest.importorskip("torch")
    pytest.importorskip("pydicom")
    from PIL import Image

    from pitfalls.datasets import make_batch_xray

    images, manifest = make_batch_xray(120, 120, 40, image_size=32, random_state=0)
    kermany = tmp_path / "kermany" / "train"
    rsna = tmp_path / "rsna"
    (rsna / "stage_2_train_images").mkdir(parents=True)
    labels, classes = ["patientId,x,y,width,height,Target"], ["patientId,class"]
    for row in manifest.itertuples():
        if row.site == "A":  # paediatric-like: Kermany pneumonia and (external) normals
            folder = kermany / row.diagnosis
            folder.mkdir(parents=True, exist_ok=True)
            name = f"person{row.Index}_bacteria_1" if row.label else f"IM-{row.Index:04d}-0001"
            Image.fromarray(images[row.index]).save(folder / f"{name}.jpeg", quality=95)
        else:  # adult-like normals: RSNA
            pid = f"rsna-{row.Index}"
            write_dicom(rsna / "stage_2_train_images" / f"{pid}.dcm", images[row.index])
            labels.append(f"{pid},,,,,0")
            classes.append(f"{pid},Normal")
    (rsna / "stage_2_train_labels.csv").write_text("\n".join(labels) + "\n")
    (rsna / "stage_2_detailed_class_info.csv").write_text("\n".join(classes) + "\n")
    settings = dataclasses.replace(TINY, xray_size=32, xray_epochs=12)
    result = run("batch-effect", data=tmp_path, settings=settings)
    assert result.scores.loc["internal", "accuracy"] > 0.9
    assert result.leaky_beats_correct, result.to_text()
    assert "40 normals from source A (Kermany normals)" in " ".join(result.notes)


def test_batch_effect_data_needs_both_folders(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "kermany").mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no rsna/ folder"):
        run("batch-effect", data=tmp_path, settings=TINY)


@pytest.mark.torch
def test_patient_split_on_a_patch_directory(tmp_path):
    pytest.importorskip("torch")
    from PIL import Image

    from pitfalls.datasets import make_patch_cohort

    images, manifest = make_patch_cohort(n_patients=40, patches_per_patient=4, random_state=0)
    for row in manifest.itertuples():
        folder = tmp_path / str(row.patient_id) / str(row.pattern)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[row.index]).save(folder / f"{row.patch_id}.png")
    settings = dataclasses.replace(TINY, image_size=16, epochs=2)
    result = run("patient-split", data=tmp_path, settings=settings)
    assert set(result.scores.index) == {"E", "F"}
    assert not any("synthetic" in note for note in result.notes)


def test_patch_directory_without_patches(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "p1" / "lepidic").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"holds no <patient>/solid\|acinar/"):
        run("patient-split", data=tmp_path, settings=TINY)
