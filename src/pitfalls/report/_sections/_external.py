"""Internal vs external: the gap between the internal test split and external ones.

From the splits: the internal test split's score against each external split's, with
a one-sided z-test on the difference (the two sets hold different patients, so their
bootstrap standard errors, read from the interval widths, add in quadrature). From a
:func:`pitfalls.experiments.leakage_gap` result with ``pitfall="site"``: internal
cross-validation with the sites mixed against each site held out, tested by the
result's Wilcoxon rank-sum test over repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...audit import Finding
from ...experiments import LeakageGapResult
from ...metrics import ClassificationSummary
from .._data import EvaluationSet, StudyData
from .._findings import ALPHA, report_finding
from .._model import ReportFigure, ReportTable, Section
from ._common import Resampling, ci_text, fmt, number, section_status, standard_error
from ._figures import gap_bars
from ._performance import summarise

__all__ = ["external_section"]

_TITLE = "Internal vs external validation"


def _estimate(summary: ClassificationSummary, metric: str) -> dict[str, float | None]:
    row = summary.table.loc[metric]
    return {
        "value": number(row["value"]),
        "low": number(row["ci_low"]),
        "high": number(row["ci_high"]),
    }


def _one_sided_p(
    internal: Mapping[str, Any], external: Mapping[str, Any], confidence: float
) -> Any:
    se_a = standard_error(internal["low"], internal["high"], confidence)
    se_b = standard_error(external["low"], external["high"], confidence)
    if se_a is None or se_b is None or None in (internal["value"], external["value"]):
        return None
    spread = float(np.hypot(se_a, se_b))
    if spread == 0.0:
        return None
    return float(stats.norm.sf((internal["value"] - external["value"]) / spread))


def _from_splits(
    data: StudyData,
    plan: list[EvaluationSet],
    summaries: Mapping[str, ClassificationSummary],
    resampling: Resampling,
) -> dict[str, Any]:
    metric = "roc_auc" if data.has_scores else "balanced_accuracy"
    internal_sets = [s for s in plan if not s.external]
    if len(internal_sets) == 1:
        summary = summaries[internal_sets[0].name]
    else:  # several internal test splits: pooled
        rows = np.sort(np.concatenate([s.rows for s in internal_sets]))  # manifest order
        summary = summarise(data, rows, resampling)
    internal = {
        "split": "+".join(s.name for s in internal_sets),
        "metric": metric,
        **_estimate(summary, metric),
    }
    external = []
    for evaluation in (s for s in plan if s.external):
        summary = summaries[evaluation.name]
        entry = {
            "split": evaluation.name,
            **_estimate(summary, metric),
            "samples": summary.n_samples,
        }
        entry["pvalue"] = _one_sided_p(internal, entry, resampling.confidence)
        external.append(entry)
    return {"internal": internal, "external": external, "source": "splits"}


def _spread(scores: Any, confidence: float) -> dict[str, float | None]:
    scores = np.asarray(scores, dtype=float)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(scores, [alpha, 1.0 - alpha])
    return {"value": float(np.mean(scores)), "low": float(low), "high": float(high)}


def _from_leakage(result: LeakageGapResult, confidence: float) -> dict[str, Any]:
    metric = result.metrics[0]
    internal = {
        "split": "internal CV (sites mixed)",
        "metric": metric,
        **_spread(result.leaky_scores, confidence),
    }
    external = []
    if result.site_scores is not None:
        for site, scores in result.site_scores.groupby("site", sort=False)[metric]:
            external.append({"split": f"site {site} held out", **_spread(scores, confidence)})
    else:
        external.append({"split": "sites held out", **_spread(result.correct_scores, confidence)})
    for entry in external:
        entry["pvalue"] = None
    return {
        "internal": internal,
        "external": external,
        "source": "leakage_gap",
        "pvalue": float(result.pvalue),
        "gap": float(result.inflation),
    }


def _findings(content: dict[str, Any]) -> list[Finding]:
    internal = content["internal"]
    if content["source"] == "leakage_gap":
        low = [] if content["pvalue"] >= ALPHA or content["gap"] <= 0 else content["external"]
        why = f"Wilcoxon rank-sum over repeats, p = {content['pvalue']:.3g}"
    else:
        low = [e for e in content["external"] if e["pvalue"] is not None and e["pvalue"] < ALPHA]
        why = "one-sided z-test on the bootstrap standard errors, p = " + ", ".join(
            f"{e['pvalue']:.3g}" for e in low
        )
    if not low:
        return []
    shown = [f"{e['split']}: {ci_text(e['value'], e['low'], e['high'])}" for e in low]
    return [
        report_finding(
            "PF407",
            f"{internal['metric']} on {'; '.join(shown)} is below the internal "
            f"{internal['split']} ({ci_text(internal['value'], internal['low'], internal['high'])}; "
            f"{why}): the internal estimate is optimistic for new sites; report the external one.",
            n_affected=sum(e.get("samples", 0) for e in low),
            examples=shown,
            affected={
                "item": np.arange(1, len(low) + 1),
                "split": [e["split"] for e in low],
                "measure": [ci_text(e["value"], e["low"], e["high"]) for e in low],
            },
        )
    ]


def _text(content: dict[str, Any], resampling: Resampling) -> list[str]:
    internal = content["internal"]
    if content["source"] == "splits":
        how = (
            f"Intervals: {resampling.percent} patient-level bootstrap; each external split "
            "is tested against the internal one (one-sided z-test on the bootstrap standard "
            "errors): p = "
            + ", ".join(f"{e['split']} {fmt(e['pvalue'], 3)}" for e in content["external"])
            + "."
        )
    else:
        how = (
            f"Means over the repeats of leakage_gap(pitfall='site'), with the middle "
            f"{resampling.percent} of repeats; Wilcoxon rank-sum p = {content['pvalue']:.3g}."
        )
    return [
        f"{internal['metric']}: internal {internal['split']} "
        f"{ci_text(internal['value'], internal['low'], internal['high'])}; "
        + "; ".join(
            f"{e['split']} {ci_text(e['value'], e['low'], e['high'])}" for e in content["external"]
        )
        + f"; gap (internal minus mean external) {fmt(content['gap'])}.",
        how,
    ]


def _outputs(content: dict[str, Any]) -> tuple[ReportTable, ReportFigure]:
    entries = [content["internal"], *content["external"]]
    frame = pd.DataFrame(
        {
            "role": ["internal"] + ["external"] * len(content["external"]),
            "value": [e["value"] for e in entries],
            "low": [e["low"] for e in entries],
            "high": [e["high"] for e in entries],
        },
        index=pd.Index([e["split"] for e in entries], name="evaluation"),
    )
    metric = content["internal"]["metric"]
    table = ReportTable("gap", f"Internal and external {metric} with intervals.", frame)
    figure = ReportFigure(
        "gap",
        f"Internal (blue) and external (orange) {metric} with intervals.",
        lambda: gap_bars(
            list(frame.index),
            frame["value"].tolist(),
            frame["low"].tolist(),
            frame["high"].tolist(),
            title="Internal vs external",
            ylabel=metric,
            colours=["tab:blue"] + ["tab:orange"] * (len(frame) - 1),
        ),
    )
    return table, figure


def external_section(
    data: StudyData,
    plan: list[EvaluationSet],
    summaries: Mapping[str, ClassificationSummary],
    resampling: Resampling,
    leakage: Sequence[LeakageGapResult],
) -> tuple[Section, list[Finding]]:
    """The internal-external gap from external splits, else from a site leakage_gap."""
    site_results = [r for r in leakage if r.pitfall == "site"]
    has_external = any(s.external for s in plan)
    if has_external and any(not s.external for s in plan):
        content = _from_splits(data, plan, summaries, resampling)
        values = [e["value"] for e in content["external"] if e["value"] is not None]
        internal = content["internal"]["value"]
        content["gap"] = (
            None if internal is None or not values else internal - float(np.mean(values))
        )
    elif site_results:
        content = _from_leakage(site_results[0], resampling.confidence)
    else:
        reason = (
            "Only external splits are evaluated: no internal test split to compare with."
            if has_external
            else "No external split (a split named '...external...', or external_splits=) "
            "and no leakage_gap(pitfall='site') result (leakage=) was given."
        )
        return Section("external", _TITLE, "not_available", text=(reason,)), []
    findings = _findings(content)
    table, figure = _outputs(content)
    external = [{k: e[k] for k in ("split", "value", "low", "high")} for e in content["external"]]
    section_data = {
        "internal": content["internal"],
        "external": external,
        "gap": number(content["gap"]),
        "source": content["source"],
    }
    section = Section(
        "external",
        _TITLE,
        section_status(findings),
        text=tuple(_text(content, resampling)),
        tables=(table,),
        figures=(figure,),
        data=section_data,
    )
    return section, findings
