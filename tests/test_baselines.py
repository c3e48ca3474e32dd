"""air_in_body_mask, segmentation_baseline_report, naive baselines, plot, CT phantom."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage
from sklearn import metrics as skm

from pitfalls.baselines import (
    SegmentationBaselineReport,
    air_in_body_mask,
    naive_baseline_summary,
    plot_segmentation,
    segmentation_baseline_report,
)
from pitfalls.datasets._ct_phantom import make_ct_phantom
from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import ClassificationSummary, dice_score


@pytest.fixture(scope="module")
def phantom():
    return make_ct_phantom(n_cases=6, shape=(32, 80, 80), random_state=0)


def _slow_reference(ct, threshold=-400):
    """Per-component loop: drop every air component that touches the in-plane border."""
    air = ct < threshold
    labels, n = ndimage.label(air)
    keep = air.copy()
    for lab in range(1, n + 1):
        comp = labels == lab
        touches = comp[..., 0, :].any() or comp[..., -1, :].any()
        touches = touches or comp[..., :, 0].any() or comp[..., :, -1].any()
        if touches:
            keep &= ~comp
    return keep


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.int16, st.sampled_from([(6, 7), (3, 5, 6)]), elements=st.sampled_from([-1000, -850, 40])
    )
)
def test_air_in_body_equals_reference_loop(ct):
    mask = air_in_body_mask(ct)
    np.testing.assert_array_equal(mask, _slow_reference(ct))
    assert mask.dtype == bool
    assert not (mask & (ct >= -400)).any()  # never tissue


def test_body_lung_trachea_and_outside_air():
    ct = np.full((5, 20, 20), -1000, np.int16)  # outside air
    ct[:, 2:18, 2:18] = 40  # body
    ct[1:4, 4:14, 4:8] = -850  # left lung, inside
    ct[:, 9, 10] = -1000  # trachea through every slice, incl. first and last
    ct[:, 10:12, 17:20] = -1000  # a fold open to the outside air
    mask = air_in_body_mask(ct)
    assert mask[1:4, 4:14, 4:8].all()
    assert mask[:, 9, 10].all()  # first/last slice are not "outside": trachea kept
    assert not mask[:, 10:12, 17:20].any()
    assert not mask[:, 0, :].any()
    assert mask.sum() == 3 * 10 * 4 + 5


def test_3d_connectivity_removes_air_open_to_outside_in_another_slice():
    ct = np.full((3, 9, 9), 40, np.int16)
    ct[:, 0, :] = -1000  # outside air along the top row
    ct[1, 4, 4] = -1000  # pocket enclosed in slice 1 ...
    ct[2, 1:5, 4] = -1000  # ... but open to the outside through slice 2
    assert air_in_body_mask(ct).sum() == 0
    # slice by slice, slice 1 alone sees an enclosed pocket
    assert air_in_body_mask(ct[1]).sum() == 1


def test_threshold_and_2d_slice():
    ct = np.full((7, 7), -1000.0)
    ct[1:6, 1:6] = 40
    ct[3, 3] = -300
    assert air_in_body_mask(ct).sum() == 0
    assert air_in_body_mask(ct, threshold=-200).sum() == 1


@pytest.mark.parametrize(
    ("ct", "match"),
    [
        (np.zeros(5), r"ct_hu must be a 2D slice .* got shape \(5,\)"),
        (np.zeros((2, 2), np.uint16), r"ct_hu has dtype uint16, .* RescaleSlope"),
        (np.array([["a"]]), r"ct_hu must be numeric"),
    ],
)
def test_air_in_body_bad_inputs(ct, match):
    with pytest.raises(ValueError, match=match):
        air_in_body_mask(ct)


def test_phantom_baseline_dice_comes_from_airway_and_gas(phantom):
    images, lungs = phantom
    assert images.dtype == np.int16 and lungs.dtype == bool
    assert images.shape == lungs.shape == (6, 32, 80, 80)
    dice = []
    for image, lung in zip(images, lungs, strict=True):
        mask = air_in_body_mask(image)
        dice.append(dice_score(lung, mask))
        extra = mask & ~lung
        # the extra "lung" is airway and gas: air at about -1000 HU outside the lungs
        assert extra.sum() > 0
        assert np.median(image[extra]) < -950
        # misses are pulmonary vessels only (soft tissue inside the reference mask)
        missed = lung & ~mask
        assert (image[missed] > -400).all()
        assert missed.sum() < 0.05 * lung.sum()
    assert min(dice) > 0.85 and max(dice) < 0.99
    assert 0.88 < np.mean(dice) < 0.97


def test_phantom_without_gas_and_airway_scores_near_perfect():
    images, lungs = make_ct_phantom(
        n_cases=2, shape=(24, 64, 64), bowel_gas=False, airway_connected=False, random_state=1
    )
    # trachea is still counted; without gas the Dice rises: gas is the main reason
    with_gas = make_ct_phantom(
        n_cases=2, shape=(24, 64, 64), airway_connected=False, random_state=1
    )
    no_gas = [dice_score(m, air_in_body_mask(i)) for i, m in zip(images, lungs, strict=True)]
    gas = [dice_score(m, air_in_body_mask(i)) for i, m in zip(*with_gas, strict=True)]
    assert min(no_gas) > 0.95
    assert np.mean(gas) < np.mean(no_gas)


def test_phantom_is_seeded_and_validates():
    a = make_ct_phantom(n_cases=2, shape=(16, 32, 32), random_state=5)
    b = make_ct_phantom(n_cases=2, shape=(16, 32, 32), random_state=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0][0], a[0][1])  # cases differ
    with pytest.raises(ValueError, match=r"shape=\(4, 32, 32\) is invalid"):
        make_ct_phantom(shape=(4, 32, 32))
    with pytest.raises(ValueError, match=r"n_cases=0 is invalid"):
        make_ct_phantom(n_cases=0)
    with pytest.raises(ValueError, match=r"airway_connected=2 must be a bool or a probability"):
        make_ct_phantom(airway_connected=2)


def test_segmentation_report_table3_summary(phantom):
    images, lungs = phantom
    report = segmentation_baseline_report(lungs, images=images, ids=[f"p{i}" for i in range(6)])
    assert isinstance(report, SegmentationBaselineReport)
    expected = [dice_score(m, air_in_body_mask(i)) for i, m in zip(images, lungs, strict=True)]
    np.testing.assert_allclose(report.per_case["baseline_dice"], expected)
    assert report.per_case.index.tolist() == [f"p{i}" for i in range(6)]
    assert report.summary.index.tolist() == ["mean", "min", "max", "sd"]
    assert report.summary.loc["mean", "baseline_dice"] == pytest.approx(np.mean(expected))
    assert report.summary.loc["sd", "baseline_dice"] == pytest.approx(np.std(expected, ddof=1))
    assert report.summary.loc["min", "baseline_iou"] <= report.summary.loc["min", "baseline_dice"]
    assert report.model_beats_baseline is None
    assert report.baseline_name == "air_in_body_mask"
    assert repr(report).splitlines()[0] == "Segmentation baseline (air_in_body_mask), 6 cases"
    assert report.to_markdown().splitlines()[0] == (
        "|  | baseline_dice | baseline_iou | baseline_hd95 | baseline_surface_dice |"
    )


def test_segmentation_report_warns_when_model_does_not_beat_baseline(phantom):
    images, lungs = phantom
    # a "model" that erodes the truth a little: Dice below the baseline's
    weak = [ndimage.binary_erosion(m, iterations=2) for m in lungs]
    with pytest.warns(MetricWarning, match=r"does not beat the air_in_body_mask baseline"):
        report = segmentation_baseline_report(lungs, weak, images=images)
    assert report.model_beats_baseline is False
    assert len(report.warnings) == 1
    # the truth itself beats it and gives no warning
    report = segmentation_baseline_report(lungs, lungs, images=images)
    assert report.model_beats_baseline is True
    assert report.warnings == ()


def test_segmentation_report_bad_inputs(phantom):
    images, lungs = phantom
    with pytest.raises(ValueError, match=r"images is None, but baseline='air_in_body_mask'"):
        segmentation_baseline_report(lungs)
    with pytest.raises(ValueError, match=r"predictions has 2 cases but truths has 6"):
        segmentation_baseline_report(lungs, lungs[:2], images=images)
    with pytest.raises(ValueError, match=r"images has 5 cases but truths has 6"):
        segmentation_baseline_report(lungs, images=images[:5])


def test_naive_baseline_summary_matches_dummy_classifier():
    y_train = np.array([0] * 70 + [1] * 30)
    y_test = np.array([0] * 40 + [1] * 20)
    s = naive_baseline_summary(y_test, y_train=y_train, strategy="prior", n_bootstraps=0)
    assert isinstance(s, ClassificationSummary)
    assert s["accuracy"] == pytest.approx(40 / 60)
    assert s["roc_auc"] == 0.5
    assert s["average_precision"] == pytest.approx(
        skm.average_precision_score(y_test, np.full(60, 0.3))
    )
    assert any("not above the majority" in w for w in s.warnings)
    strat = naive_baseline_summary(y_test, strategy="stratified", n_bootstraps=0, random_state=0)
    again = naive_baseline_summary(y_test, strategy="stratified", n_bootstraps=0, random_state=0)
    assert strat.metrics == again.metrics
    with pytest.raises(ValueError, match=r"strategy='constant' is not supported"):
        naive_baseline_summary(y_test, strategy="constant")


def test_plot_segmentation_writes_png(phantom):
    images, lungs = phantom
    mask = air_in_body_mask(images[0])
    ax = plot_segmentation(images[0], lungs[0], mask)
    best = int(np.argmax(lungs[0].sum(axis=(1, 2))))
    assert (
        ax.get_title()
        == f"Dice {dice_score(lungs[0][best], mask[best]):.3f} (reference vs prediction)"
    )
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"must have the same shape"):
        plot_segmentation(images[0], lungs[0][0], mask)
