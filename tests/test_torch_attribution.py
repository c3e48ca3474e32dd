"""Integrated Gradients and the outside-ROI shortcut score (the paper's Figure 4)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
# Tiny tensors on 2 shared cores: one intra-op thread avoids spin-wait contention (10x).
torch.set_num_threads(1)
captum = pytest.importorskip("captum")

from pitfalls.exceptions import MetricWarning  # noqa: E402
from pitfalls.torch import (  # noqa: E402
    attribution_outside_roi,
    integrated_gradients,
    plot_attribution,
    small_cnn,
)


class RegionModel(torch.nn.Module):
    """Logit of class 1 is a nonlinear function of the pixels in one region only."""

    def __init__(self, region):
        super().__init__()
        self.register_buffer("weight", region.float())

    def forward(self, x):
        evidence = torch.tanh((x * self.weight).sum(dim=(1, 2, 3)) / 4)
        return torch.stack([-evidence, evidence], dim=1)


def _masks(size=16):
    corner = torch.zeros(size, size, dtype=torch.bool)
    corner[:4, :4] = True
    lungs = torch.zeros(size, size, dtype=torch.bool)
    lungs[5:13, 4:12] = True
    return corner, lungs


def test_a_model_looking_at_a_corner_scores_near_one_and_one_looking_at_the_roi_near_zero():
    corner, lungs = _masks()
    images = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0)) + 0.1
    shortcut = attribution_outside_roi(RegionModel(corner), images, lungs, target=1, n_steps=16)
    honest = attribution_outside_roi(RegionModel(lungs), images, lungs, target=1, n_steps=16)
    assert shortcut.shape == (3,) and honest.shape == (3,)
    np.testing.assert_allclose(shortcut, 1.0, atol=1e-6)
    np.testing.assert_allclose(honest, 0.0, atol=1e-6)
    # a model that splits its attention lands in between
    half = attribution_outside_roi(RegionModel(corner | lungs), images, lungs, target=1, n_steps=16)
    assert ((half > 0.05) & (half < 0.95)).all()


def test_one_mask_per_image_and_channel_dimension():
    corner, lungs = _masks()
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)) + 0.1
    masks = np.stack([lungs.numpy(), corner.numpy()])[:, None]  # N x 1 x H x W
    scores = attribution_outside_roi(
        RegionModel(corner.expand(3, -1, -1)), images, masks, target=[1, 1], n_steps=8
    )
    np.testing.assert_allclose(scores, [1.0, 0.0], atol=1e-6)


def test_integrated_gradients_is_complete():
    """Attributions sum to f(x) - f(baseline), IG's defining property, on a real CNN."""
    torch.manual_seed(0)
    model = small_cnn(2, in_channels=1, width=4).eval()
    images = torch.rand(2, 1, 8, 8)
    baseline = torch.full_like(images, 0.2)
    attributions = integrated_gradients(model, images, target=1, baselines=baseline, n_steps=200)
    with torch.no_grad():
        gap = model(images)[:, 1] - model(baseline)[:, 1]
    torch.testing.assert_close(attributions.sum(dim=(1, 2, 3)), gap, atol=2e-3, rtol=2e-2)
    assert not images.requires_grad  # the caller's tensor is left alone
    numpy_input = integrated_gradients(
        model, images.numpy(), target=1, baselines=baseline, n_steps=200
    )
    torch.testing.assert_close(numpy_input, attributions)
    # baselines as arrays too: one per image, or one C x H x W image for all
    for numpy_baseline in (baseline.numpy(), baseline[0].numpy(), baseline[:1].numpy()):
        same = integrated_gradients(model, images, target=1, baselines=numpy_baseline, n_steps=200)
        torch.testing.assert_close(same, attributions)


def test_zero_attribution_gives_nan_with_a_warning():
    corner, lungs = _masks()
    with pytest.warns(
        MetricWarning, match=r"1 image\(s\) have zero attribution everywhere"
    ) as caught:
        scores = attribution_outside_roi(
            RegionModel(corner), torch.zeros(1, 1, 16, 16), lungs, target=1, n_steps=4
        )
    assert np.isnan(scores).all()
    assert caught[0].filename == __file__


def test_shape_errors():
    corner, _ = _masks()
    with pytest.raises(
        ValueError,
        match=r"roi_masks must be H x W or N x H x W matching the images \(1 x 16 x 16\); got shape \(8, 8\)",
    ):
        attribution_outside_roi(
            RegionModel(corner), torch.ones(1, 1, 16, 16), np.ones((8, 8)), target=1
        )
    with pytest.raises(ValueError, match=r"images must be N x C x H x W .* got shape \(16, 16\)"):
        integrated_gradients(RegionModel(corner), torch.ones(16, 16), target=1)
    with pytest.raises(
        ValueError,
        match=r"baselines must be a number, one C x H x W image or one per image, shaped like "
        r"images \(2, 1, 16, 16\); got shape \(1, 1, 8, 8\)",
    ):
        integrated_gradients(
            RegionModel(corner), torch.ones(2, 1, 16, 16), target=1, baselines=np.ones((1, 8, 8))
        )
    with pytest.raises(ValueError, match=r"n_steps=0 must be a positive integer"):
        integrated_gradients(RegionModel(corner), torch.ones(1, 1, 16, 16), target=1, n_steps=0)


def test_plot_attribution_overlays_the_map_and_the_roi():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, lungs = _masks()
    attribution = torch.zeros(1, 16, 16)
    attribution[0, 2, 3] = -5.0
    ax = plot_attribution(torch.rand(1, 16, 16), attribution, roi=lungs)
    overlay = ax.images[1].get_array()
    assert overlay.shape == (16, 16, 4)
    assert (
        overlay[2, 3, 3] == pytest.approx(0.6) and overlay[0, 0, 3] == 0
    )  # opacity follows |attribution|
    assert len(ax.collections) >= 1 or len(ax.get_children()) > 2  # the ROI contour
    with pytest.raises(ValueError, match=r"image is 16 x 16 but attribution is 8 x 8"):
        plot_attribution(np.zeros((16, 16)), np.zeros((8, 8)))
    plt.close("all")
