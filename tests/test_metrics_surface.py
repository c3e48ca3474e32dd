"""Surface metrics: hand-derived values, a plain scipy distance-transform reference, empty masks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from pitfalls.baselines import segmentation_baseline_report
from pitfalls.metrics import (
    dice_score,
    hausdorff_distance,
    mean_surface_distance,
    surface_dice,
    surface_distances,
)


def _reference(a, b, spacing):
    """Surfaces, then the Euclidean distance transform of the whole array (no cropping)."""
    structure = ndimage.generate_binary_structure(a.ndim, 1)
    surface_a = a & ~ndimage.binary_erosion(a, structure=structure, border_value=0)
    surface_b = b & ~ndimage.binary_erosion(b, structure=structure, border_value=0)
    to_b = ndimage.distance_transform_edt(~surface_b, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~surface_a, sampling=spacing)
    return to_b[surface_a], to_a[surface_b]


def _ball(shape, centre, radius, spacing=(1.0, 1.0, 1.0)):
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    distance2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing, strict=True))
    return distance2 <= radius**2


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 3).flatmap(
        lambda ndim: st.tuples(
            arrays(bool, (6,) * ndim),
            arrays(bool, (6,) * ndim),
            st.lists(st.floats(0.3, 3.0), min_size=ndim, max_size=ndim),
        )
    )
)
def test_distances_equal_the_scipy_distance_transform_reference(case):
    a, b, spacing = case
    if not a.any() or not b.any():
        return
    d_ab, d_ba = surface_distances(a, b, spacing=spacing)
    ref_ab, ref_ba = _reference(a, b, spacing)
    np.testing.assert_allclose(np.sort(d_ab), np.sort(ref_ab), atol=1e-9)
    np.testing.assert_allclose(np.sort(d_ba), np.sort(ref_ba), atol=1e-9)
    hd95 = max(np.percentile(ref_ab, 95), np.percentile(ref_ba, 95))
    assert hausdorff_distance(a, b, spacing=spacing, percentile=95) == pytest.approx(hd95)
    assert hausdorff_distance(a, b, spacing=spacing) == pytest.approx(
        max(ref_ab.max(), ref_ba.max())
    )
    assert mean_surface_distance(a, b, spacing=spacing) == pytest.approx(
        np.concatenate([ref_ab, ref_ba]).mean()
    )
    assert mean_surface_distance(a, b, spacing=spacing, symmetric=False) == pytest.approx(
        ref_ab.mean()
    )
    # a tolerance halfway between two distinct distances (no tie to round either way)
    distinct = np.unique(np.round(np.concatenate([ref_ab, ref_ba]), 9))
    middle = len(distinct) // 2
    tolerance = float(distinct[middle]) + (
        (distinct[middle + 1] - distinct[middle]) / 2 if middle + 1 < len(distinct) else 1.0
    )
    within = np.sum(ref_ab <= tolerance) + np.sum(ref_ba <= tolerance)
    assert surface_dice(a, b, tolerance=tolerance, spacing=spacing) == pytest.approx(
        within / (len(ref_ab) + len(ref_ba))
    )
    # symmetric in a and b
    assert hausdorff_distance(b, a, spacing=spacing) == hausdorff_distance(a, b, spacing=spacing)


def test_a_tolerance_of_exactly_one_voxel_counts_neighbours_despite_rounding():
    # 3 * 0.1 - 2 * 0.1 is 0.10000000000000003 in floating point, not 0.1
    a = np.zeros((1, 8, 8), bool)
    a[0, 2, 2:] = True
    b = np.roll(a, 1, axis=1)
    a[0, 0, 0] = b[0, 0, 0] = True  # shared voxel: the crop starts at row 0
    assert surface_dice(a, b, tolerance=0.1, spacing=(2.5, 0.1, 0.1)) == 1.0


def test_single_voxels_with_anisotropic_spacing():
    a = np.zeros((5, 6, 7), bool)
    b = np.zeros_like(a)
    a[1, 2, 3], b[4, 0, 6] = True, True
    spacing = (2.5, 0.7, 0.8)
    expected = np.sqrt((3 * 2.5) ** 2 + (2 * 0.7) ** 2 + (3 * 0.8) ** 2)
    assert hausdorff_distance(a, b, spacing=spacing) == pytest.approx(expected)
    assert hausdorff_distance(a, b, spacing=spacing, percentile=95) == pytest.approx(expected)
    assert mean_surface_distance(a, b, spacing=spacing) == pytest.approx(expected)
    assert surface_dice(a, b, tolerance=expected, spacing=spacing) == 1.0
    assert surface_dice(a, b, tolerance=0.99 * expected, spacing=spacing) == 0.0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_parallel_plates_k_slices_apart(k):
    # every voxel of a one-voxel-thick plate is surface, and its nearest voxel of the
    # other plate is straight across: every distance is k slices, k * 2.5 mm
    a = np.zeros((8, 9, 10), bool)
    a[2] = True
    b = np.roll(a, k, axis=0)
    spacing = (2.5, 0.7, 0.7)
    for value in (
        hausdorff_distance(a, b, spacing=spacing),
        hausdorff_distance(a, b, spacing=spacing, percentile=95),
        mean_surface_distance(a, b, spacing=spacing),
    ):
        assert value == pytest.approx(2.5 * k)
    assert surface_dice(a, b, tolerance=2.5 * k, spacing=spacing) == 1.0
    assert surface_dice(a, b, tolerance=2.5 * k - 0.01, spacing=spacing) == 0.0


@pytest.mark.parametrize(("axis", "k"), [(0, 1), (0, 2), (2, 1), (2, 3)])
def test_box_shifted_by_k_voxels(axis, k):
    # A box of 10 x 20 x 20 voxels and the same box shifted k voxels along `axis`.
    # Every surface voxel of one box has a surface voxel of the other at most k voxels
    # away along `axis` (the shifted face, or the same wall); the bottom face of A has
    # none closer (B has no voxel below it, and its walls are >= 10 voxels * 0.7 mm away
    # laterally, more than k * spacing). So HD = k * spacing[axis].
    spacing = (2.5, 0.7, 0.7)
    a = np.zeros((16, 30, 30), bool)
    a[3:13, 5:25, 5:25] = True
    b = np.roll(a, k, axis=axis)
    hd = hausdorff_distance(a, b, spacing=spacing)
    assert hd == pytest.approx(k * spacing[axis])
    # walls that coincide give distance 0: the mean is well under the maximum
    assert 0 < mean_surface_distance(a, b, spacing=spacing) < hd
    assert surface_dice(a, b, tolerance=hd, spacing=spacing) == 1.0
    ref_ab, ref_ba = _reference(a, b, spacing)
    assert mean_surface_distance(a, b, spacing=spacing) == pytest.approx(
        np.concatenate([ref_ab, ref_ba]).mean()
    )


@pytest.mark.parametrize(("inner", "outer"), [(8, 12), (10, 13)])
def test_concentric_spheres_are_the_radius_difference_apart(inner, outer):
    shape, centre = (34, 34, 34), (17, 17, 17)
    a, b = _ball(shape, centre, inner), _ball(shape, centre, outer)
    gap = outer - inner
    # digital spheres: every distance is the radius gap up to a voxel's half-diagonal
    d_ab, d_ba = surface_distances(a, b)
    assert np.all(np.abs(np.concatenate([d_ab, d_ba]) - gap) <= np.sqrt(3) / 2 + 1)
    assert hausdorff_distance(a, b) == pytest.approx(gap, abs=1.0)
    assert mean_surface_distance(a, b) == pytest.approx(gap, abs=0.5)
    # isotropic spacing s scales every distance by s
    assert hausdorff_distance(a, b, spacing=0.5) == pytest.approx(0.5 * hausdorff_distance(a, b))
    assert mean_surface_distance(a, b, spacing=0.5) == pytest.approx(
        0.5 * mean_surface_distance(a, b)
    )


def test_concentric_spheres_in_millimetres_on_anisotropic_voxels():
    # spheres in physical space (mm) sampled on 2 x 1 x 1 mm voxels
    spacing, shape, centre = (2.0, 1.0, 1.0), (20, 40, 40), (10, 20, 20)
    a = _ball(shape, centre, 9.0, spacing)
    b = _ball(shape, centre, 14.0, spacing)
    assert hausdorff_distance(a, b, spacing=spacing) == pytest.approx(5.0, abs=2.0)
    assert mean_surface_distance(a, b, spacing=spacing) == pytest.approx(5.0, abs=1.0)


def test_concentric_circles_2d():
    a, b = _ball((40, 40), (20, 20), 6, (1, 1)), _ball((40, 40), (20, 20), 11, (1, 1))
    assert hausdorff_distance(a, b) == pytest.approx(5.0, abs=1.0)
    assert surface_dice(a, b, tolerance=2.0) == 0.0
    assert surface_dice(a, b, tolerance=7.0) == 1.0


def test_masks_on_the_array_edge_match_the_reference():
    a = np.zeros((6, 7), bool)
    b = np.zeros_like(a)
    a[:, :3] = True  # touches three edges: those voxels are surface too
    b[2:, 1:5] = True
    d_ab, d_ba = surface_distances(a, b, spacing=(1.0, 2.0))
    ref_ab, ref_ba = _reference(a, b, (1.0, 2.0))
    np.testing.assert_allclose(np.sort(d_ab), np.sort(ref_ab))
    np.testing.assert_allclose(np.sort(d_ba), np.sort(ref_ba))


def test_identical_and_empty_masks():
    a = _ball((20, 20, 20), (10, 10, 10), 5)
    empty = np.zeros_like(a)
    assert (hausdorff_distance(a, a), mean_surface_distance(a, a), surface_dice(a, a, tolerance=0)) == (
        0.0, 0.0, 1.0)  # fmt: skip
    # both empty: nothing to find, nothing found (as dice_score scores 1)
    assert hausdorff_distance(empty, empty) == 0.0
    assert mean_surface_distance(empty, empty) == 0.0
    assert surface_dice(empty, empty, tolerance=1.0) == 1.0 == dice_score(empty, empty)
    assert np.isnan(surface_dice(empty, empty, tolerance=1.0, empty_score=float("nan")))
    # one empty: no boundary to measure against
    for first, second in ((a, empty), (empty, a)):
        assert hausdorff_distance(first, second) == np.inf
        assert mean_surface_distance(first, second) == np.inf
        assert surface_dice(first, second, tolerance=100.0) == 0.0
    d_ab, d_ba = surface_distances(a, empty)
    assert d_ab.size == d_ba.size == 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a, b: hausdorff_distance(a, b[:, :5]), r"a has shape \(6, 6\) but b has shape \(6, 5\)"),
        (lambda a, b: hausdorff_distance(a, b, spacing=(1, 1, 1)), r"spacing=\(1, 1, 1\) must be one positive voxel size per axis \(2 values"),
        (lambda a, b: hausdorff_distance(a, b, spacing=(1, -2)), r"spacing=\(1, -2\) must be one positive"),
        (lambda a, b: hausdorff_distance(a, b, percentile=120), r"percentile=120 must be in \[0, 100\]; use 95 for HD95"),
        (lambda a, b: surface_dice(a, b, tolerance=-1), r"tolerance=-1 must be a non-negative distance"),
        (lambda a, b: mean_surface_distance(a * 2.0, b), r"a must be a boolean or 0/1 mask; found other values: 2.0"),
        (lambda a, b: hausdorff_distance(a[0], b[0]), r"a has shape \(6,\); pass a 2D slice or a 3D volume"),
    ],
)  # fmt: skip
def test_bad_inputs(call, match):
    a = np.zeros((6, 6))
    a[2:4, 2:4] = 1
    with pytest.raises(ValueError, match=match):
        call(a, a.copy())


def test_segmentation_report_reads_boundaries_too():
    a = np.zeros((3, 16, 16), bool)
    a[:, 4:12, 4:12] = True
    truths = [a, a]
    baseline = [np.roll(a, 2, axis=2), a]
    spacing = [(2.5, 0.7, 0.7), (1.0, 1.0, 1.0)]
    report = segmentation_baseline_report(truths, baseline=baseline, spacing=spacing, tolerance=1.0)
    assert report.per_case.columns.tolist() == [
        "baseline_dice", "baseline_iou", "baseline_hd95", "baseline_surface_dice"]  # fmt: skip
    assert report.per_case["baseline_hd95"].tolist() == pytest.approx(
        [hausdorff_distance(a, baseline[0], spacing=spacing[0], percentile=95), 0.0]
    )
    assert report.per_case.loc[0, "baseline_hd95"] == pytest.approx(1.4)
    assert report.per_case["baseline_surface_dice"].tolist() == pytest.approx(
        [surface_dice(a, baseline[0], tolerance=1.0, spacing=spacing[0]), 1.0]
    )
    with_model = segmentation_baseline_report(truths, truths, baseline=baseline)
    assert with_model.per_case["model_hd95"].tolist() == [0.0, 0.0]
    assert "model_surface_dice" in with_model.summary.columns
    fast = segmentation_baseline_report(truths, baseline=baseline, boundary=False)
    assert fast.per_case.columns.tolist() == ["baseline_dice", "baseline_iou"]
    with pytest.raises(ValueError, match=r"spacing lists 3 voxel sizes but truths has 2 cases"):
        segmentation_baseline_report(truths, baseline=baseline, spacing=[(1, 1, 1)] * 3)
