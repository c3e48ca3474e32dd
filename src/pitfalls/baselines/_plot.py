"""Overlay of a CT slice, the reference mask and a predicted mask (the paper's Figure 3)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_segmentation"]


def plot_segmentation(
    image: Any,
    truth: Any,
    prediction: Any,
    *,
    ax: Any = None,
    window: tuple[float, float] = (-1350.0, 150.0),
    slice_index: int | None = None,
    labels: tuple[str, str] = ("reference", "prediction"),
) -> Any:
    """Draw a CT slice in a lung window with the reference and predicted mask contours.

    Parameters
    ----------
    image : array-like of shape (rows, cols) or (slices, rows, cols)
        CT in Hounsfield units.
    truth, prediction : array-like of bool, same shape as ``image``
        Reference mask (green contour) and predicted mask (red contour), e.g. the
        :func:`air_in_body_mask` baseline.
    ax : matplotlib Axes, optional
        Where to draw. Default: a new figure created without pyplot, so it works in
        scripts and on servers without a display (any backend, Agg included).
    window : (float, float), default=(-1350, 150)
        Display range in HU: the lung window (level -600, width 1500).
    slice_index : int, optional
        Slice of a volume to show. Default: the slice with the largest reference area.
    labels : (str, str)
        Legend text of the two contours.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; ``ax.figure.savefig("fig.png")`` writes a PNG.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.baselines import air_in_body_mask, plot_segmentation
    >>> ct = np.full((32, 32), -1000.0); ct[4:28, 4:28] = 40; ct[8:24, 8:14] = -850
    >>> lung = np.zeros(ct.shape, bool); lung[8:24, 8:14] = True
    >>> ax = plot_segmentation(ct, lung, air_in_body_mask(ct))
    >>> ax.get_title()
    'Dice 1.000 (reference vs prediction)'
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from ..metrics import dice_score

    img = np.asarray(image, dtype=float)
    true_mask = np.asarray(truth, dtype=bool)
    pred_mask = np.asarray(prediction, dtype=bool)
    if not img.shape == true_mask.shape == pred_mask.shape:
        raise ValueError(
            f"image, truth and prediction must have the same shape; got {img.shape}, "
            f"{true_mask.shape} and {pred_mask.shape}."
        )
    if img.ndim == 3:
        if slice_index is None:
            slice_index = int(np.argmax(true_mask.sum(axis=(1, 2))))
        img, true_mask, pred_mask = img[slice_index], true_mask[slice_index], pred_mask[slice_index]
    elif img.ndim != 2:
        raise ValueError(f"image must be 2D or 3D; got shape {img.shape}.")
    if ax is None:
        ax = Figure(figsize=(5, 5)).add_subplot()
    ax.imshow(img, cmap="gray", vmin=window[0], vmax=window[1], interpolation="nearest")
    # reference drawn wider underneath, so both stay visible where they coincide
    for mask, color, width in ((true_mask, "tab:green", 2.4), (pred_mask, "tab:red", 1.0)):
        if mask.any() and not mask.all():
            ax.contour(mask.astype(float), levels=[0.5], colors=color, linewidths=width)
    ax.legend(
        handles=[
            Line2D([], [], color=c, label=lab)
            for c, lab in zip(("tab:green", "tab:red"), labels, strict=True)
        ],
        loc="lower right",
        fontsize="small",
    )
    ax.set_title(f"Dice {dice_score(true_mask, pred_mask):.3f} ({labels[0]} vs {labels[1]})")
    ax.set_axis_off()
    return ax
