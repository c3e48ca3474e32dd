"""Leaky vs correct: the gaps :func:`pitfalls.experiments.leakage_gap` measured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...audit import Finding
from ...experiments import LeakageGapResult
from .._findings import ALPHA, report_finding
from .._model import ReportFigure, ReportTable, Section
from ._common import section_status
from ._figures import new_figure

__all__ = ["leakage_section"]

_TITLE = "Leaky vs correct protocols"
# Table 4 item each pitfall bears on (the site pitfall is the batch effect, item 8).
_CHECKLIST_ITEM = {
    "oversampling": 1,
    "augmentation": 2,
    "feature_selection": 3,
    "group_split": 4,
    "site": 8,
}


def _entry(result: LeakageGapResult) -> dict[str, Any]:
    return {
        "pitfall": result.pitfall,
        "metric": result.metrics[0],
        "leaky_mean": float(np.mean(result.leaky_scores)),
        "correct_mean": float(np.mean(result.correct_scores)),
        "inflation": float(result.inflation),
        "pvalue": float(result.pvalue),
        "n_repeats": len(result.leaky_scores),
    }


def _finding(entry: dict[str, Any], item: int) -> list[Finding]:
    if entry["pvalue"] >= ALPHA or entry["inflation"] <= 0:
        return []
    pitfall = entry["pitfall"]
    number = _CHECKLIST_ITEM.get(pitfall)
    return [
        report_finding(
            "PF408",
            f"{pitfall}: the leaky protocol scored {entry['metric']} {entry['leaky_mean']:.3f} "
            f"against {entry['correct_mean']:.3f} for the correct one (inflation "
            f"{entry['inflation']:+.3f}, Wilcoxon rank-sum p = {entry['pvalue']:.3g}, "
            f"{entry['n_repeats']} repeats); report the correct protocol's score.",
            n_affected=0,
            examples=[pitfall],
            affected={
                "item": [item],
                "note": [pitfall],
                "measure": [f"inflation {entry['inflation']:+.3f}"],
            },
            checklist=() if number is None else (number,),
        )
    ]


def _drawer(results: Sequence[LeakageGapResult]) -> Any:
    def draw() -> Any:
        figure = new_figure(4.5 * len(results), 4.0)
        axes = np.atleast_1d(figure.subplots(1, len(results)))
        for result, ax in zip(results, axes, strict=True):
            result.plot(ax=ax)
            ax.set_xlabel(result.pitfall.replace("_", " "))
        return figure

    return draw


def leakage_section(leakage: Sequence[LeakageGapResult]) -> tuple[Section, list[Finding]]:
    """Each leakage_gap result's means, inflation and rank-sum test; box plots."""
    if not leakage:
        return Section(
            "leakage",
            _TITLE,
            "not_available",
            text=(
                "No leakage_gap result was given (leakage=); run pitfalls.experiments.leakage_gap "
                "to measure what a pitfall would have added to the score.",
            ),
        ), []
    entries = [_entry(result) for result in leakage]
    findings = [f for k, e in enumerate(entries, start=1) for f in _finding(e, k)]
    text = [
        f"{e['pitfall']}: {e['metric']} {e['leaky_mean']:.3f} (leaky) vs {e['correct_mean']:.3f} "
        f"(correct) over {e['n_repeats']} repeats; inflation {e['inflation']:+.3f}, Wilcoxon "
        f"rank-sum p = {e['pvalue']:.3g}."
        for e in entries
    ]
    frame = pd.DataFrame(entries).set_index("pitfall")
    table = ReportTable(
        "gaps",
        "Mean scores of the leaky and the correct protocol, the "
        "inflation and the rank-sum test (pitfalls.experiments.leakage_gap).",
        frame,
    )
    figure = ReportFigure(
        "leaky_vs_correct",
        "Scores of the leaky and the correct protocol over repeats, per pitfall.",
        _drawer(list(leakage)),
    )
    section = Section(
        "leakage",
        _TITLE,
        section_status(findings),
        text=tuple(text),
        tables=(table,),
        figures=(figure,),
        data={"results": entries},
    )
    return section, findings
