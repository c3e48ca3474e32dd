"""Build the paper-beside-this-run tables shared by several experiments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._paper import METRICS, PAPER_RANKSUMS, PAPER_TABLE2
from ._result import ExperimentResult, format_mean_sd

__all__ = ["binary_metrics", "combined_table2", "table2_result"]

_HEADERS = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1"}


def binary_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of the positive class (label 1).

    Undefined precision (no positive prediction) counts as 0, as scikit-learn's
    ``zero_division=0`` does, so a model that never predicts the disease scores 0.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="binary", pos_label=1, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def _run_cell(values: pd.Series, digits: int) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    sd = float(values.std(ddof=1)) if len(values) > 1 else None
    return format_mean_sd(float(values.mean()), sd, digits=digits)


def _paper_cell(model: str, metric: str) -> str:
    mean, sd = PAPER_TABLE2[model].metric(metric)
    return format_mean_sd(mean, sd, digits=2 if sd is not None else 3)


def _pair_table(leaky: str, correct: str, scores: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Paper and this run for both models; deep models also get their training F1.

    The paper does not report training scores (``n/a``); this run's show whether the
    network fitted its training data, which a leak through memorised twins needs.
    """
    with_training = any("train_f1" in scores[m].columns for m in (leaky, correct))
    rows = []
    for model in (leaky, correct):
        paper = PAPER_TABLE2[model]
        digits = 2 if len(scores[model]) > 1 else 3
        for source in ("paper", "this run"):
            row = {"Model": model, "Approach": paper.approach, "Source": source}
            for metric in METRICS:
                row[_HEADERS[metric]] = (
                    _paper_cell(model, metric)
                    if source == "paper"
                    else _run_cell(scores[model][metric], digits)
                )
            if with_training:
                train_f1 = scores[model].get("train_f1", pd.Series(dtype=float))
                row["Training F1"] = "n/a" if source == "paper" else _run_cell(train_f1, digits)
            rows.append(row)
    return pd.DataFrame(rows)


def table2_result(
    *,
    name: str,
    title: str,
    reference: str,
    leaky: str,
    correct: str,
    scores: Mapping[str, pd.DataFrame],
    figures: dict | None = None,
    notes: list[str] | None = None,
    study: Any = None,
) -> ExperimentResult:
    """Assemble an :class:`ExperimentResult` for a leaky/correct pair of Table 2.

    ``study`` is the study report of the correct model (:attr:`ExperimentResult.study`).

    ``scores`` maps the model letter to a frame of per-repeat scores with one
    column per metric of :data:`METRICS` (one row for a single trained model), and
    for deep models ``train_f1`` (printed as a "Training F1" column).
    The rank-sum test on F1 is ``compare_runs(correct, leaky)``, the paper's sign
    convention (negative when the leaky model scores higher); it needs at least
    two repeats per model.
    """
    from pitfalls.metrics import compare_runs

    table = _pair_table(leaky, correct, scores)
    means = pd.DataFrame({m: scores[m][list(METRICS)].mean() for m in (leaky, correct)}).T
    leaky_f1 = scores[leaky]["f1"].to_numpy(dtype=float)
    correct_f1 = scores[correct]["f1"].to_numpy(dtype=float)
    comparison = {
        "leaky": leaky,
        "correct": correct,
        "metric": "f1",
        "leaky_value": float(np.mean(leaky_f1)),
        "correct_value": float(np.mean(correct_f1)),
        "statistic": np.nan,
        "pvalue": np.nan,
        "paper_statistic": np.nan,
        "paper_pvalue": "",
    }
    if len(leaky_f1) > 1 and len(correct_f1) > 1:
        test = compare_runs(correct_f1, leaky_f1)
        comparison.update(statistic=test.statistic, pvalue=test.pvalue)
    if (leaky, correct) in PAPER_RANKSUMS:
        statistic, pvalue = PAPER_RANKSUMS[(leaky, correct)]
        comparison.update(paper_statistic=statistic, paper_pvalue=pvalue)
    raw = pd.concat(
        [
            frame.assign(model=model, repeat=np.arange(len(frame)))
            for model, frame in scores.items()
        ],
        ignore_index=True,
    )
    return ExperimentResult(
        name=name,
        title=title,
        reference=reference,
        table=table,
        scores=means,
        comparisons=pd.DataFrame([comparison]),
        figures=dict(figures or {}),
        notes=list(notes or []),
        raw=raw,
        study=study,
    )


def combined_table2(results: Sequence[ExperimentResult]) -> pd.DataFrame | None:
    """All Table 2 rows (models A-H) of several results in one table, in the paper's order.

    Parameters
    ----------
    results : sequence of ExperimentResult
        Results of any experiments; those that are not Table 2 pairs are skipped.

    Returns
    -------
    DataFrame or None
        ``Model``, ``Approach``, ``Source`` and the metric columns, paper and this run
        for every model found; None when no Table 2 experiment is among ``results``.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.reproduction import ExperimentResult, combined_table2
    >>> row = {"Model": "A", "Approach": "Incorrect oversampling", "Source": "paper",
    ...        "Accuracy": "0.85±0.05", "Precision": "", "Recall": "", "F1": "0.85±0.05"}
    >>> r = ExperimentResult(name="oversampling", title="", reference="",
    ...                      table=pd.DataFrame([row]), scores=pd.DataFrame())
    >>> combined_table2([r])["Model"].tolist()
    ['A']
    >>> combined_table2([]) is None
    True
    """
    frames = [
        r.table
        for r in results
        if {"Model", "Approach", "Source"} <= set(r.table.columns)
        and set(r.table["Model"]) <= set(PAPER_TABLE2)
    ]
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    # the paper's model D and F are one model: keep each (model, source) once
    table = table.drop_duplicates(subset=["Model", "Source"]).fillna("")
    order = {model: i for i, model in enumerate(PAPER_TABLE2)}
    table = table.assign(_order=table["Model"].map(order)).sort_values(
        ["_order", "Source"], kind="stable"
    )
    return table.drop(columns="_order").reset_index(drop=True)
