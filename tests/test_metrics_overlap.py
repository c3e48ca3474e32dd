"""dice_score / iou_score against scikit-learn on flattened masks, invariants, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import f1_score, jaccard_score

from pitfalls.metrics import dice_score, iou_score

mask_pairs = st.integers(1, 4).flatmap(
    lambda n: st.tuples(
        hnp.arrays(bool, (n, 5, 6)),
        hnp.arrays(bool, (n, 5, 6)),
    )
)


@pytest.mark.parametrize("shape", [(16, 16), (4, 8, 8)])
def test_equal_sklearn_on_flattened_masks(shape):
    rng = np.random.default_rng(0)
    truth = rng.random(shape) < 0.3
    pred = rng.random(shape) < 0.4
    assert dice_score(truth, pred) == pytest.approx(f1_score(truth.ravel(), pred.ravel()))
    assert iou_score(truth, pred) == pytest.approx(jaccard_score(truth.ravel(), pred.ravel()))
    # 0/1 integers and floats are accepted like booleans
    assert dice_score(truth.astype(np.uint8), pred.astype(float)) == dice_score(truth, pred)


def test_per_case_equals_loop_over_sklearn():
    rng = np.random.default_rng(1)
    truth = rng.random((5, 3, 10, 10)) < 0.3  # 5 volumes
    pred = rng.random((5, 3, 10, 10)) < 0.3
    dice = dice_score(truth, pred, per_case=True)
    iou = iou_score(truth, pred, per_case=True)
    assert dice.shape == iou.shape == (5,)
    for i in range(5):
        assert dice[i] == pytest.approx(f1_score(truth[i].ravel(), pred[i].ravel()))
        assert iou[i] == pytest.approx(jaccard_score(truth[i].ravel(), pred[i].ravel()))
    # pooled score weights cases by size, it is not the mean of per-case scores
    assert dice_score(truth, pred) == pytest.approx(f1_score(truth.ravel(), pred.ravel()))


@settings(max_examples=60, deadline=None)
@given(mask_pairs)
def test_dice_at_least_iou_and_iou_is_d_over_2_minus_d(pair):
    truth, pred = pair
    dice = dice_score(truth, pred, per_case=True)
    iou = iou_score(truth, pred, per_case=True)
    assert np.all(dice >= iou - 1e-12)
    np.testing.assert_allclose(iou, dice / (2 - dice), atol=1e-12)
    assert np.all((dice >= 0) & (dice <= 1))
    # symmetric in its arguments
    np.testing.assert_allclose(dice, dice_score(pred, truth, per_case=True))


def test_empty_mask_rule():
    empty = np.zeros((4, 4), bool)
    full = np.ones((4, 4), bool)
    assert dice_score(empty, empty) == 1.0
    assert iou_score(empty, empty) == 1.0
    assert math.isnan(dice_score(empty, empty, empty_score=float("nan")))
    assert dice_score(empty, full) == 0.0
    assert iou_score(full, empty, empty_score=float("nan")) == 0.0
    batch = dice_score(
        np.stack([empty, full]), np.stack([empty, full]), per_case=True, empty_score=0.5
    )
    assert batch.tolist() == [0.5, 1.0]


@pytest.mark.parametrize("score", [dice_score, iou_score])
@pytest.mark.parametrize(
    ("truth", "pred", "kwargs", "match"),
    [
        (
            np.zeros((3, 3)),
            np.zeros((3, 4)),
            {},
            r"y_true has shape \(3, 3\) but y_pred has shape \(3, 4\)",
        ),
        (
            np.zeros((3, 3)),
            np.full((3, 3), 0.7),
            {},
            r"y_pred must be a boolean or 0/1 mask; found other values: 0.7",
        ),
        (
            np.arange(9).reshape(3, 3),
            np.zeros((3, 3)),
            {},
            r"y_true .* found other values: 2, 3, 4, 5, 6 \(and 2 more\)",
        ),
        (
            np.array([["a"]]),
            np.zeros((1, 1)),
            {},
            r"y_true must be a boolean or 0/1 mask; got dtype <U1",
        ),
        (
            np.zeros(4),
            np.zeros(4),
            {"per_case": True},
            r"per_case=True needs masks of shape \(n_cases, ...\)",
        ),
    ],
)
def test_bad_masks(score, truth, pred, kwargs, match):
    with pytest.raises(ValueError, match=match):
        score(truth, pred, **kwargs)
