"""Tests for pitfalls.datasets.make_batch_xray."""

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from pitfalls.datasets import make_batch_xray


def _pooled_pixels(images, cells=16):
    n, size, _ = images.shape
    return images.reshape(n, cells, size // cells, cells, size // cells).mean((2, 4)).reshape(n, -1)


def test_design_label_confounded_with_source():
    images, manifest, masks = make_batch_xray(30, 20, 10, 32, return_masks=True, random_state=0)
    assert images.shape == masks.shape == (60, 32, 32)
    assert images.dtype == np.uint8 and masks.dtype == bool
    table = pd.crosstab([manifest["cohort"], manifest["site"]], manifest["label"])
    assert table.to_dict() == {
        0: {("external", "A"): 10, ("internal", "B"): 20, ("internal", "A"): 0},
        1: {("external", "A"): 0, ("internal", "B"): 0, ("internal", "A"): 30},
    }
    assert (manifest["index"] == np.arange(60)).all()
    assert manifest["image_id"].is_unique and manifest["patient_id"].is_unique
    assert (manifest["cohort"].iloc[50:] == "external").all()  # external rows come last
    assert set(manifest["diagnosis"][manifest["label"] == 1]) == {"PNEUMONIA"}
    # internal rows are shuffled, not grouped by label
    assert manifest["label"].iloc[:50].diff().abs().sum() > 2


def test_lungs_are_dark_inside_a_brighter_body():
    images, manifest, masks = make_batch_xray(10, 10, 0, 64, return_masks=True, random_state=1)
    normal = (manifest["label"] == 0).to_numpy()
    lungs = images[normal][masks[normal]].mean()
    body_band = images[normal][:, 40:, 28:36].mean()  # spine and mediastinum below the lungs
    assert lungs + 40 < body_band
    assert masks.mean(axis=(1, 2)).min() > 0.05


def test_same_seed_same_images():
    a, ma = make_batch_xray(5, 5, 2, 32, random_state=3)
    b, mb = make_batch_xray(5, 5, 2, 32, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert ma.equals(mb)


def test_pneumonia_only_changes_pixels_in_and_near_the_lungs():
    clear, manifest, masks = make_batch_xray(
        20, 5, 0, 64, disease_signal=0.0, return_masks=True, random_state=2
    )
    sick, _ = make_batch_xray(20, 5, 0, 64, disease_signal=1.0, random_state=2)
    diff = sick.astype(int) - clear.astype(int)
    near_lungs = ndimage.binary_dilation(masks, iterations=4, structure=np.ones((1, 3, 3)))
    assert np.all(diff[~near_lungs] == 0)
    assert np.all(diff[manifest["label"].to_numpy() == 0] == 0)
    assert diff.min() >= 0 and diff.max() > 10


def test_internal_scores_inflate_and_external_normals_fail_because_of_the_source():
    images, manifest = make_batch_xray(100, 100, 60, 32, random_state=0)
    X = _pooled_pixels(images) / 255
    internal = (manifest["cohort"] == "internal").to_numpy()
    y = manifest["label"].to_numpy()
    model = LogisticRegression(max_iter=2000)
    assert cross_val_score(model, X[internal], y[internal], cv=3).mean() > 0.95
    external_correct = (model.fit(X[internal], y[internal]).predict(X[~internal]) == 0).mean()
    assert external_correct < 0.2


def test_without_source_effect_external_normals_are_recognised():
    images, manifest = make_batch_xray(100, 100, 60, 32, source_effect=0.0, random_state=0)
    X = _pooled_pixels(images) / 255
    internal = (manifest["cohort"] == "internal").to_numpy()
    y = manifest["label"].to_numpy()
    model = LogisticRegression(max_iter=2000).fit(X[internal], y[internal])
    assert (model.predict(X[~internal]) == 0).mean() > 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_pneumonia": 0}, r"n_pneumonia=0 is too small; use n_pneumonia >= 1\."),
        ({"n_external": -1}, r"n_external=-1 is negative; use n_external >= 0\."),
        ({"image_size": 8}, r"image_size=8 is too small; use image_size >= 16\."),
        ({"source_effect": 2}, r"source_effect=2 is out of range; use 0 <= source_effect <= 1\."),
        ({"disease_signal": -0.5}, r"disease_signal=-0.5 is negative"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_batch_xray(**kwargs)
