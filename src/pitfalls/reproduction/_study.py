"""The study report of an experiment's correct model: what a reviewer of the study gets.

Every classification experiment of :func:`pitfalls.reproduction.run` hands the
predictions of its *correct* protocol to :func:`pitfalls.report.study_report`, so that
the reproduction shows, beside the paper's table, the report a careful study would
publish: patient-level intervals, naive baselines, calibration, sites, the leaky-vs-
correct gap and the filled checklists.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._settings import Settings

__all__ = [
    "held_out_manifest",
    "out_of_fold_study",
    "runs_gap",
    "study_bootstraps",
    "study_of_predictions",
]


def study_bootstraps(settings: Settings) -> int:
    """Patient-level bootstrap replicates of the study report: 200 quick, 1000 full."""
    return 200 if settings.quick else 1000


def _fold_column(cv_splits: list[tuple[np.ndarray, np.ndarray]], n_samples: int) -> np.ndarray:
    folds = np.empty(n_samples, dtype=object)
    for number, (_, test) in enumerate(cv_splits, start=1):
        folds[test] = f"fold {number}"
    return folds


def study_of_predictions(
    manifest: pd.DataFrame, scores: pd.Series, settings: Settings, **kwargs: Any
) -> Any:
    """Run :func:`pitfalls.report.study_report` on a manifest and its model's scores.

    ``manifest`` has the columns ``patient``, ``split``, ``label`` (and ``site`` when
    the experiment has sites); ``scores`` holds the positive-class probability of
    every evaluated sample, indexed like the manifest (training rows absent).
    """
    from pitfalls.report import study_report

    site = "site" if "site" in manifest.columns else None
    predictions = scores.rename("score").to_frame()
    return study_report(
        manifest,
        group="patient",
        split="split",
        label="label",
        site=site,
        predictions=predictions,
        score="score",
        n_bootstraps=study_bootstraps(settings),
        random_state=settings.random_state,
        **kwargs,
    )


def out_of_fold_study(
    estimator: Any,
    X: pd.DataFrame,
    y: Any,
    settings: Settings,
    *,
    sites: Any = None,
    leakage: Any = None,
) -> Any:
    """Study report of ``estimator`` cross-validated once, one row per patient.

    The correct protocol of the radiomics experiments (3 stratified folds, the
    whole pipeline fitted inside each training fold) run once more with its
    out-of-fold probabilities kept: every patient is scored by a model that never
    saw them, which is what the report's intervals, baselines and calibration need.
    ``X`` is indexed by patient id (one row per patient).
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y_array = np.asarray(y)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=settings.random_state)
    cv_splits = list(cv.split(X, y_array))
    proba = cross_val_predict(estimator, X, y_array, cv=cv_splits, method="predict_proba")
    ids = pd.Index(X.index.astype(str), name="sample")
    manifest = pd.DataFrame(
        {"patient": ids, "split": _fold_column(cv_splits, len(ids)), "label": y_array},
        index=ids,
    )
    if sites is not None:
        manifest["site"] = np.asarray(sites).astype(str)
    return study_of_predictions(
        manifest, pd.Series(proba[:, 1], index=ids), settings, leakage=leakage
    )


def held_out_manifest(
    manifest: pd.DataFrame,
    *,
    fitted: np.ndarray,
    validation: np.ndarray,
    test: np.ndarray,
    external: np.ndarray | None = None,
) -> pd.DataFrame:
    """The study manifest of one trained network: its rows with the split each played.

    ``manifest`` is the experiment's own (``patient_id``, ``label`` and, where there
    is one, ``site``); the index becomes the sample id as text. Rows the weights were
    fitted on are ``train``, the rows the training loop held back for its
    validation loss ``val``, then ``test`` and (model I) ``external``.
    """
    split = np.full(len(manifest), "unused", dtype=object)
    split[fitted], split[validation], split[test] = "train", "val", "test"
    if external is not None:
        split[external] = "external"
    study = pd.DataFrame(
        {"patient": manifest["patient_id"].astype(str).to_numpy(), "split": split,
         "label": manifest["label"].to_numpy()},
        index=pd.Index(np.arange(len(manifest)).astype(str), name="sample"),
    )  # fmt: skip
    if "site" in manifest.columns:
        study["site"] = manifest["site"].astype(str).to_numpy()
    return study[study["split"] != "unused"]


def runs_gap(pitfall: str, leaky: np.ndarray, correct: np.ndarray) -> Any:
    """A :class:`~pitfalls.experiments.LeakageGapResult` of trained networks' test F1.

    The deep experiments train a few networks per protocol instead of repeating a
    cross-validation, so their leaky-vs-correct contrast is built from those runs;
    ``None`` with fewer than two networks on a side.
    """
    from pitfalls.experiments import LeakageGapResult
    from pitfalls.metrics import compare_runs

    leaky, correct = np.asarray(leaky, dtype=float), np.asarray(correct, dtype=float)
    if min(leaky.size, correct.size) < 2:
        return None  # one network per protocol: no rank-sum test, no gap to report
    return LeakageGapResult(
        pitfall, ["f1"], {"f1": leaky}, {"f1": correct}, compare_runs(leaky, correct)
    )
