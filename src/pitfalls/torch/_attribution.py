"""Integrated Gradients and the shortcut score behind the paper's Figure 4.

A model trained on confounded data (children's X-rays from one site, adults' from
another) can classify by body size or position instead of the lungs. The fraction of
absolute attribution that falls outside the region of interest measures that: near 1, the
model looks elsewhere.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from .._optional import import_optional
from ..exceptions import MetricWarning

__all__ = ["attribution_outside_roi", "integrated_gradients", "plot_attribution"]


def _as_batch(images: Any) -> torch.Tensor:
    tensor = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 4:
        raise ValueError(
            f"images must be N x C x H x W (or one C x H x W image); got shape {tuple(tensor.shape)}."
        )
    return tensor.float()


def _as_baselines(baselines: Any, inputs: torch.Tensor) -> Any:
    """None or a number as captum takes them; arrays and tensors as a batch on the device."""
    if baselines is None or isinstance(baselines, int | float):
        return baselines
    batch = _as_batch(baselines)
    if batch.shape[1:] != inputs.shape[1:] or batch.shape[0] not in (1, inputs.shape[0]):
        raise ValueError(
            f"baselines must be a number, one C x H x W image or one per image, shaped like "
            f"images {tuple(inputs.shape)}; got shape {tuple(batch.shape)}."
        )
    return batch.to(inputs.device)


def integrated_gradients(
    model: nn.Module,
    images: Any,
    *,
    target: int | Any,
    baselines: Any = None,
    n_steps: int = 50,
    internal_batch_size: int | None = None,
) -> torch.Tensor:
    """Integrated Gradients attribution of every input pixel (captum), as in Figure 4.

    Parameters
    ----------
    model : torch.nn.Module
        Put in evaluation mode; inputs go to the device of its parameters.
    images : Tensor or ndarray of shape (N, C, H, W) or (C, H, W)
    target : int or sequence of int
        Class (per image) whose logit is explained.
    baselines : float, or Tensor or ndarray of shape (C, H, W) or like ``images``, optional
        Reference input; default all zeros (a black image). Dark structures such as the
        lungs on a radiograph are close to a black baseline, so they get little
        attribution from it even from a model that looks at them; a blurred copy of each
        image is a reference that keeps brightness and removes detail.
    n_steps : int, default=50
        Points on the path from baseline to image.
    internal_batch_size : int, optional
        Bound on how many path points are evaluated at once (memory).

    Returns
    -------
    Tensor of shape (N, C, H, W)
        Attributions on the CPU; per image they sum to about
        ``logit(image) - logit(baseline)`` for the target class (completeness).

    Examples
    --------
    >>> import torch
    >>> from pitfalls.torch import integrated_gradients
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> attr = integrated_gradients(model, torch.ones(1, 1, 2, 2), target=1, n_steps=10)
    >>> attr.shape
    torch.Size([1, 1, 2, 2])
    >>> bool(torch.allclose(attr.flatten(), model[1].weight[1].detach(), atol=1e-5))
    True
    """
    import_optional("captum", feature="integrated_gradients")
    import captum.attr

    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps={n_steps!r} must be a positive integer.")
    model.eval()
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    # a copy: never switch on requires_grad on the caller's tensor
    inputs = _as_batch(images).to(device).detach().clone().requires_grad_(True)
    if isinstance(target, list | tuple | np.ndarray):
        target = torch.as_tensor(np.asarray(target), device=device)
    baselines = _as_baselines(baselines, inputs)
    explainer = captum.attr.IntegratedGradients(model)
    attributions = explainer.attribute(
        inputs,
        baselines=baselines,
        target=target,
        n_steps=n_steps,
        internal_batch_size=internal_batch_size,
    )
    return attributions.detach().cpu()


def _roi_batch(roi_masks: Any, n_images: int, height: int, width: int) -> np.ndarray:
    masks = np.asarray(roi_masks).astype(bool)
    if masks.ndim == 2:
        masks = np.broadcast_to(masks, (n_images, *masks.shape))
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.shape != (n_images, height, width):
        raise ValueError(
            f"roi_masks must be H x W or N x H x W matching the images ({n_images} x "
            f"{height} x {width}); got shape {np.asarray(roi_masks).shape}."
        )
    return masks


def attribution_outside_roi(
    model: nn.Module,
    images: Any,
    roi_masks: Any,
    *,
    target: int | Any,
    baselines: Any = None,
    n_steps: int = 50,
) -> np.ndarray:
    """Per image, the fraction of absolute Integrated-Gradients attribution outside the ROI.

    The shortcut score behind the paper's Figure 4: a model that classifies chest X-rays
    by anatomy or position rather than by the lungs puts most of its attribution outside
    the lung mask (score near 1); a model that looks at the lungs scores low. Absolute
    attributions are summed over channels before the ratio is taken.

    Parameters
    ----------
    model : torch.nn.Module
    images : Tensor or ndarray of shape (N, C, H, W)
    roi_masks : array-like of bool, shape (N, H, W) or (H, W)
        Region of interest (e.g. lung mask) of each image; one mask is used for all.
    target : int or sequence of int
        Class whose logit is explained.
    baselines, n_steps
        As for :func:`integrated_gradients`.

    Returns
    -------
    ndarray of float, shape (N,)
        In ``[0, 1]``; NaN (with a :class:`~pitfalls.exceptions.MetricWarning`) for an
        image whose attribution is zero everywhere.

    Examples
    --------
    >>> import torch
    >>> from pitfalls.torch import attribution_outside_roi
    >>> class TopLeft(torch.nn.Module):  # looks only at the top-left pixel
    ...     def forward(self, x):
    ...         return torch.stack([-x[:, 0, 0, 0], x[:, 0, 0, 0]], dim=1)
    >>> roi = torch.zeros(4, 4, dtype=torch.bool)
    >>> roi[1:3, 1:3] = True
    >>> attribution_outside_roi(TopLeft(), torch.ones(2, 1, 4, 4), roi, target=1, n_steps=8)
    array([1., 1.])
    """
    batch = _as_batch(images)
    masks = _roi_batch(roi_masks, batch.shape[0], batch.shape[2], batch.shape[3])
    attributions = integrated_gradients(
        model, batch, target=target, baselines=baselines, n_steps=n_steps
    )
    return _fraction_outside(attributions, masks)


def _fraction_outside(attributions: torch.Tensor, masks: np.ndarray) -> np.ndarray:
    """Per image, the share of absolute attribution (N x C x H x W) outside ``masks``
    (N x H x W booleans); NaN with a warning where the attribution is zero everywhere."""
    magnitude = attributions.abs().sum(dim=1).double().numpy()  # N x H x W
    total = magnitude.sum(axis=(1, 2))
    outside = np.where(masks, 0.0, magnitude).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = outside / total
    if (total == 0).any():
        warnings.warn(
            f"{int((total == 0).sum())} image(s) have zero attribution everywhere (e.g. the "
            "image equals the baseline); their outside-ROI fraction is NaN.",
            MetricWarning,
            stacklevel=3,  # the caller of attribution_outside_roi
        )
        fraction[total == 0] = np.nan
    return fraction


def plot_attribution(
    image: Any,
    attribution: Any,
    roi: Any = None,
    *,
    ax: Any = None,
    cmap: str = "Reds",
    alpha: float = 0.6,
    percentile: float = 99.0,
) -> Any:
    """Overlay absolute attribution on an image (high attribution in red, as Figure 4).

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, C) or (C, H, W)
        Shown in grayscale (channels averaged).
    attribution : array-like, same spatial size
        E.g. one image of :func:`integrated_gradients`; channels are summed in absolute
        value.
    roi : array-like of bool, shape (H, W), optional
        Drawn as a contour.
    ax : matplotlib Axes, optional
        Default: a new figure.
    cmap : str, default="Reds"
    alpha : float, default=0.6
        Maximum opacity of the overlay (transparent where attribution is zero).
    percentile : float, default=99.0
        Attribution is clipped at this percentile so a few pixels do not wash out the map.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from pitfalls.torch import plot_attribution
    >>> ax = plot_attribution(np.zeros((8, 8)), np.eye(8), roi=np.eye(8) > 0)
    >>> len(ax.images)
    2
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    picture = _to_2d(image, reduce="mean")
    heat = _to_2d(attribution, reduce="abs_sum")
    if picture.shape != heat.shape:
        raise ValueError(
            f"image is {picture.shape[0]} x {picture.shape[1]} but attribution is "
            f"{heat.shape[0]} x {heat.shape[1]}; they must match."
        )
    top = np.percentile(heat, percentile) if heat.any() else 1.0
    scaled = np.clip(heat / (top if top > 0 else 1.0), 0, 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(picture, cmap="gray")
    colours = plt.get_cmap(cmap)(scaled)
    colours[..., 3] = alpha * scaled  # opacity follows attribution
    ax.imshow(colours)
    if roi is not None:
        ax.contour(np.asarray(roi).astype(float), levels=[0.5], colors=[to_rgba("cyan")])
    ax.set_axis_off()
    return ax


def _to_2d(array: Any, *, reduce: str) -> np.ndarray:
    values = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    values = values.astype(np.float64)
    if values.ndim == 2:
        return np.abs(values) if reduce == "abs_sum" else values
    if values.ndim != 3:
        raise ValueError(f"expected an H x W or 3-D image; got shape {values.shape}.")
    channel_axis = 0 if values.shape[0] in (1, 3, 4) and values.shape[2] not in (1, 3, 4) else 2
    if reduce == "abs_sum":
        return np.abs(values).sum(axis=channel_axis)
    return values.mean(axis=channel_axis)
