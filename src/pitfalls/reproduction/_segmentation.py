"""Table 3 and Figure 3: Dice and IoU of the air-in-body baseline for lung segmentation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._paper import PAPER_TABLE3
from ._result import ExperimentResult
from ._settings import Settings

__all__ = ["load_lung_ct", "run_segmentation_baseline"]


def load_lung_ct(settings: Settings, data: Path | None) -> tuple[list[Any], list[Any]]:
    """CT volumes in HU and lung masks: synthetic phantoms, or an LCTSC-style folder."""
    if data is None:
        from pitfalls.datasets import make_ct_phantom

        images, masks = make_ct_phantom(
            n_cases=settings.n_ct_cases, shape=settings.ct_shape, random_state=settings.random_state
        )
        return list(images), list(masks)
    from pitfalls.datasets import load_lctsc

    _, volumes, lung_masks, _ = load_lctsc(data, return_arrays=True)
    return list(volumes), [np.asarray(m, dtype=bool) for m in lung_masks]


def _table3_row(metric: str, source: str, values: dict[str, float]) -> dict[str, str]:
    return {
        "Metric": metric,
        "Source": source,
        "Mean": f"{values['mean']:.2f}",
        "Min": f"{values['min']:.2f}",
        "Max": f"{values['max']:.2f}",
        "Standard Deviation": f"{values['sd']:.2f}",
    }


def run_segmentation_baseline(
    settings: Settings, data: Path | None, verbose: bool
) -> ExperimentResult:
    """Threshold at -400 HU, drop the air connected to the outside, score against the lungs."""
    from pitfalls.baselines import air_in_body_mask, plot_segmentation, segmentation_baseline_report

    images, truths = load_lung_ct(settings, data)
    report = segmentation_baseline_report(truths, images=images)
    summary = report.summary
    rows = []
    for metric, column in (("Dice", "baseline_dice"), ("IoU", "baseline_iou")):
        for source in ("paper", "this run"):
            values = (
                PAPER_TABLE3[metric]
                if source == "paper"
                else {k: float(summary.loc[k, column]) for k in ("mean", "min", "max", "sd")}
            )
            rows.append(_table3_row(metric, source, values))
    # boundaries (not in the paper): the baseline's Dice hides the airways it keeps
    for metric, column in (
        ("HD95 (voxels)", "baseline_hd95"),
        ("surface Dice (1 voxel)", "baseline_surface_dice"),
    ):
        values = {k: float(summary.loc[k, column]) for k in ("mean", "min", "max", "sd")}
        rows.append(_table3_row(metric, "this run", values))
    # Figure 3: a case drawn at random, reference vs baseline on its largest lung slice
    case = int(np.random.default_rng(settings.random_state).integers(len(images)))
    import matplotlib.pyplot as plt

    image, truth = np.asarray(images[case]), np.asarray(truths[case], dtype=bool)
    prediction = air_in_body_mask(image)
    dice = float(report.per_case["baseline_dice"].iloc[case])
    iou = float(report.per_case["baseline_iou"].iloc[case])
    # the slice with the most lung, and the one where the baseline errs most (trachea,
    # bowel gas): the second shows why a high Dice is not a good segmentation
    errors = (prediction & ~truth).reshape(len(truth), -1).sum(axis=1)
    slices = {
        "largest lung slice": int(np.argmax(truth.reshape(len(truth), -1).sum(axis=1))),
        "most false positives": int(np.argmax(errors)),
    }
    figure, axes = plt.subplots(1, 2, figsize=(8, 4.3))
    for ax, (label, index) in zip(axes, slices.items(), strict=True):
        plot_segmentation(image, truth, prediction, ax=ax, slice_index=index)
        ax.set_title(f"{label} (slice {index})", fontsize=10)
    figure.suptitle(f"case {case}: Dice {dice:.2f}, IoU {iou:.2f}")
    scores = pd.DataFrame(
        {
            "dice": summary["baseline_dice"],
            "iou": summary["baseline_iou"],
        }
    ).T
    source = (
        f"{len(images)} synthetic CT phantoms of shape {settings.ct_shape} "
        "(pitfalls.datasets.make_ct_phantom)"
        if data is None
        else f"{len(images)} cases from {data}"
    )
    notes = [
        source,
        "the baseline counts the trachea, bronchi and bowel gas as lung, yet scores a high "
        "Dice: a lung model must beat these numbers before its Dice means anything",
        "Dice >= IoU always (IoU = Dice / (2 - Dice))",
        "HD95 and surface Dice (pitfalls.metrics, not in the paper) read the boundaries: "
        "95th percentile of the surface distances, and the share of both surfaces within "
        "1 voxel of the other",
    ]
    raw = report.per_case.reset_index(names="case")
    return ExperimentResult(
        name="segmentation-baseline",
        title="Dice and IoU of the air-in-body threshold baseline for lung segmentation",
        reference="Table 3 and Figure 3",
        table=pd.DataFrame(rows),
        scores=scores,
        figures={"Figure 3: reference (green) vs air-in-body baseline (red)": figure},
        notes=notes,
        raw=raw,
    )
