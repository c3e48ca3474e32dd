"""Tests for pitfalls.datasets.make_patch_cohort."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, KFold, cross_val_score

from pitfalls.datasets import make_patch_cohort


def _colour_features(images):
    x = images.astype(float)
    pixels = x.reshape(len(x), -1, 3)
    return np.c_[
        x.mean((1, 2)),
        x.std((1, 2)),
        np.abs(np.diff(x, axis=1)).mean((1, 2, 3)),
        np.percentile(pixels, [5, 50, 95], axis=1).transpose(1, 0, 2).reshape(len(x), -1),
    ]


def _lumen_fraction(images):
    return (images.min(axis=-1) > 200).mean(axis=(1, 2))


def test_shapes_labels_and_manifest():
    images, manifest = make_patch_cohort(random_state=0)
    assert images.shape == (2200, 32, 32, 3) and images.dtype == np.uint8
    assert len(manifest) == 2200
    assert (manifest["index"] == np.arange(2200)).all()
    assert manifest["patch_id"].is_unique
    per_patient = manifest.groupby("patient_id")
    assert per_patient.ngroups == 110
    assert (per_patient.size() == 20).all()
    assert (per_patient["label"].nunique() == 1).all()
    assert per_patient["label"].first().sum() == 59  # 59 acinar, 51 solid as in the paper
    assert set(manifest.loc[manifest["label"] == 1, "pattern"]) == {"acinar"}
    assert set(manifest.loc[manifest["label"] == 0, "pattern"]) == {"solid"}


def test_same_seed_same_images():
    a, ma = make_patch_cohort(6, 4, 16, random_state=5)
    b, mb = make_patch_cohort(6, 4, 16, random_state=5)
    c, _ = make_patch_cohort(6, 4, 16, random_state=6)
    np.testing.assert_array_equal(a, b)
    assert ma.equals(mb)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("image_size", [16, 48, 100])
def test_other_image_sizes(image_size):
    images, _ = make_patch_cohort(4, 2, image_size, random_state=0)
    assert images.shape == (8, image_size, image_size, 3)
    assert images.std() > 5  # not a blank image


def test_patch_level_split_inflates_and_patient_level_split_does_not():
    images, manifest = make_patch_cohort(40, 10, 24, random_state=0)
    X, y, groups = _colour_features(images), manifest["label"], manifest["patient_id"]
    forest = RandomForestClassifier(60, random_state=0)
    by_patch = cross_val_score(forest, X, y, cv=KFold(4, shuffle=True, random_state=0)).mean()
    by_patient = cross_val_score(forest, X, y, cv=GroupKFold(4), groups=groups).mean()
    assert by_patch > 0.85
    assert by_patient < 0.7
    assert by_patch - by_patient > 0.2


def test_without_patient_signature_the_patch_split_does_not_inflate():
    images, manifest = make_patch_cohort(40, 10, 24, patient_signal=0.0, random_state=0)
    X, y, groups = _colour_features(images), manifest["label"], manifest["patient_id"]
    forest = RandomForestClassifier(60, random_state=0)
    by_patch = cross_val_score(forest, X, y, cv=KFold(4, shuffle=True, random_state=0)).mean()
    by_patient = cross_val_score(forest, X, y, cv=GroupKFold(4), groups=groups).mean()
    assert abs(by_patch - by_patient) < 0.1


def test_class_signal_is_weak_but_real_and_grows_with_class_signal():
    aucs = []
    for class_signal in (0.0, 1.0, 3.0):
        images, manifest = make_patch_cohort(60, 10, class_signal=class_signal, random_state=0)
        aucs.append(roc_auc_score(manifest["label"], _lumen_fraction(images)))
    assert abs(aucs[0] - 0.5) < 0.1
    assert 0.55 < aucs[1] < 0.8
    assert aucs[2] > aucs[1] + 0.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_patients": 1}, r"n_patients=1 is too small; use n_patients >= 2\."),
        ({"patches_per_patient": 0}, r"patches_per_patient=0 is too small"),
        ({"image_size": 4}, r"image_size=4 is too small; use image_size >= 8\."),
        ({"class_signal": -1}, r"class_signal=-1 and patient_signal=1.0 must both be >= 0\."),
        ({"acinar_fraction": 1.0}, r"acinar_fraction=1.0 is out of range"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_patch_cohort(**kwargs)


def test_large_patches_are_an_enlarged_rendering_of_the_same_tissue():
    small, _ = make_patch_cohort(3, 2, 64, random_state=0)
    large, _ = make_patch_cohort(3, 2, 128, random_state=0)
    # The first patient's tissue is drawn at 64 px in both (the random streams part
    # after its full-size noise): 2x2 block means of the large patches match the
    # small ones up to that noise.
    pooled = large[:2].astype(float).reshape(2, 64, 2, 64, 2, 3).mean(axis=(2, 4))
    assert np.corrcoef(pooled.ravel(), small[:2].astype(float).ravel())[0, 1] > 0.9
