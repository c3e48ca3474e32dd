"""Tests for pitfalls.datasets.make_ct_tumours."""

import numpy as np
import pytest

from pitfalls.datasets import make_ct_tumours


def test_volumes_masks_and_truths():
    volumes, masks, manifest = make_ct_tumours(
        5, shape=(16, 32, 32), spacing=(2.0, 1.0, 1.0), random_state=0
    )
    assert volumes.shape == masks.shape == (5, 16, 32, 32)
    assert volumes.dtype == np.int16 and masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1}
    assert manifest["case_id"].tolist() == [f"CT-00{i}" for i in range(1, 6)]
    np.testing.assert_allclose(manifest["volume_ml"], masks.sum(axis=(1, 2, 3)) * 2.0 / 1000)
    assert manifest["volume_ml"].nunique() == 5  # sizes vary from case to case
    for volume, mask in zip(volumes, masks, strict=True):
        tumour = volume[mask == 1]
        assert -200 < np.median(tumour) < 200  # soft-tissue range, HU
    bone = volumes[:, :, :, 0]
    assert np.median(bone) > 400


def test_necrotic_cores_are_darker_than_the_rim():
    volumes, masks, manifest = make_ct_tumours(12, random_state=1)
    necrotic = manifest["necrosis"] > 0
    assert 0 < necrotic.sum() < 12
    for i in np.flatnonzero(necrotic):
        tumour = volumes[i][masks[i] == 1]
        assert np.percentile(tumour, 2) < manifest["enhancement_hu"][i] - 30


def test_reproducible():
    a = make_ct_tumours(2, shape=(8, 16, 16), random_state=3)
    b = make_ct_tumours(2, shape=(8, 16, 16), random_state=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2].equals(b[2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_cases": 0}, r"n_cases=0 is too small; use n_cases >= 1\."),
        ({"shape": (4, 16, 16)}, r"shape=\(4, 16, 16\) must be 3 sizes of at least 8 voxels"),
        ({"spacing": (1.0, 0.0, 1.0)}, r"spacing=\(1.0, 0.0, 1.0\) must be 3 positive"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_ct_tumours(**kwargs)


def test_labels_make_positive_tumours_more_aggressive():
    from sklearn.metrics import roc_auc_score

    labels = np.tile([0, 1], 20)
    shape = (8, 24, 24)
    _, _, strong = make_ct_tumours(40, shape=shape, labels=labels, effect_size=3.0, random_state=0)
    assert strong["label"].tolist() == labels.tolist()
    for column in ("radius_mm", "lobulation", "heterogeneity_hu"):
        assert roc_auc_score(labels, strong[column]) > 0.85
    assert strong.loc[strong["label"] == 1, "necrosis"].gt(0).mean() > 0.6
    # effect_size=0 draws exactly the tumours of an unlabelled cohort
    plain = make_ct_tumours(40, shape=shape, random_state=0)
    null = make_ct_tumours(40, shape=shape, labels=labels, effect_size=0.0, random_state=0)
    np.testing.assert_array_equal(plain[0], null[0])


def test_labels_must_be_binary_and_one_per_case():
    with pytest.raises(
        ValueError, match=r"labels must hold one 0/1 value per case \(3\); got shape \(2,\)"
    ):
        make_ct_tumours(3, labels=[0, 1])
    with pytest.raises(ValueError, match=r"with values \[0, 2\]"):
        make_ct_tumours(2, labels=[0, 2])
