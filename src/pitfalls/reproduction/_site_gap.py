"""The site gap: internal cross-validation against every site held out (the batch effect).

The paper's third pitfall ends with "evaluate on an external batch". This experiment
does so systematically on a multi-site cohort: a random forest (Appendix A's model,
without the feature selection the cohort does not need) is cross-validated at patient
level with folds that mix the sites, as most studies report, and on each site in turn
with a model that never saw it (:func:`pitfalls.experiments.leakage_gap` with
``pitfall="site"``). On the embedded cohort a referral centre sees mostly sick patients
on a scanner that marks its images, so the internal score rewards recognising the
scanner; the held-out sites show what the model knows about the disease.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._result import ExperimentResult, format_mean_sd
from ._settings import Settings
from ._study import study_of_predictions

__all__ = ["load_site_manifest", "run_site_gap"]

_ID_COLUMNS = ("patient", "site", "label")
_METRICS = {"roc_auc": "ROC AUC", "balanced_accuracy": "Balanced accuracy"}
_N_PATIENTS = 400  # the embedded cohort


def load_site_manifest(data: Path | None, random_state: int) -> pd.DataFrame:
    """The cohort: synthetic by default, else a manifest CSV (patient, site, label, features).

    Patient and site ids are read as text (``007`` is not ``7``); every other numeric
    column is a feature (dates, paths and other text columns are left out).

    Examples
    --------
    >>> from pitfalls.reproduction._site_gap import load_site_manifest
    >>> load_site_manifest(None, 0).columns[:3].tolist()
    ['patient', 'site', 'label']
    """
    if data is None:
        from pitfalls.datasets import make_multisite_cohort

        return make_multisite_cohort(_N_PATIENTS, random_state=random_state)
    if data.is_dir() or data.suffix.lower() != ".csv":
        raise ValueError(
            f"data={str(data)!r} is not a .csv file; pass a manifest CSV with columns "
            "patient, site, label and one column per feature."
        )
    manifest = pd.read_csv(data, dtype={"patient": str, "site": str})
    missing = [column for column in _ID_COLUMNS if column not in manifest.columns]
    if missing:
        raise ValueError(
            f"data={str(data)!r} has no column(s) {missing}; the manifest needs patient, site, "
            f"label and feature columns (it has {list(manifest.columns)[:10]})."
        )
    _check_manifest(manifest, data)
    return manifest


def _check_manifest(manifest: pd.DataFrame, data: Path) -> None:
    """Refuse, in one line naming the file, what would fail deep inside the repeats."""
    from pitfalls._validation import describe_values

    for column in _ID_COLUMNS:
        if manifest[column].isna().any():
            raise ValueError(
                f"data={str(data)!r}: column {column!r} has "
                f"{int(manifest[column].isna().sum())} missing value(s); fill or drop those rows."
            )
    sites_per_patient = manifest.groupby("patient")["site"].nunique()
    crossing = sites_per_patient.index[sites_per_patient > 1]
    if crossing.size:
        raise ValueError(
            f"data={str(data)!r}: {crossing.size} patient(s) have rows at more than one site "
            f"({describe_values(crossing)}); a held-out site must not share patients with "
            "the others. Fix the site or patient column."
        )
    classes = sorted(manifest["label"].unique().tolist())
    if classes != [0, 1]:
        raise ValueError(
            f"data={str(data)!r}: label must be 0/1 (1 = disease); got {describe_values(classes)}."
        )
    if manifest["site"].nunique() < 2:
        raise ValueError(
            f"data={str(data)!r}: one site only; holding out a site needs two or more."
        )


def _features(manifest: pd.DataFrame, data: Path | None) -> pd.DataFrame:
    features = manifest.drop(columns=list(_ID_COLUMNS)).select_dtypes(include="number")
    if features.shape[1] == 0:
        raise ValueError(
            f"data={str(data)!r} has no numeric feature column besides patient, site and label."
        )
    if features.isna().any().any():
        raise ValueError(
            f"data={str(data)!r} has missing feature values in "
            f"{int(features.isna().any(axis=1).sum())} row(s); impute or drop them first."
        )
    return features


def _model(settings: Settings) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=settings.n_estimators,
        class_weight="balanced",
        min_samples_leaf=3,
        n_jobs=1,
    )


def _table(gap: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Printed rows (mean±sd over repeats) and the numeric means, per protocol and site."""
    by_site = gap.site_scores.groupby("site", sort=False)
    runs = {
        "Internal CV (sites mixed)": pd.DataFrame(gap.leaky),
        "Site held out (mean of sites)": pd.DataFrame(gap.correct),
        **{f"Site {site} held out": frame[list(_METRICS)] for site, frame in by_site},
    }
    rows = [
        {
            "Evaluation": name,
            **{
                label: format_mean_sd(
                    float(frame[metric].mean()),
                    float(frame[metric].std(ddof=1)) if len(frame) > 1 else None,
                )
                for metric, label in _METRICS.items()
            },
        }
        for name, frame in runs.items()
    ]
    means = pd.DataFrame({name: frame[list(_METRICS)].mean() for name, frame in runs.items()}).T
    return pd.DataFrame(rows), means


def _comparison(gap: Any) -> pd.DataFrame:
    """The rank-sum test of ROC AUC, in the paper's sign convention (correct vs leaky)."""
    from pitfalls.metrics import compare_runs

    test = compare_runs(gap.correct_scores, gap.leaky_scores)
    return pd.DataFrame(
        [
            {
                "leaky": "internal CV",
                "correct": "site held out",
                "metric": "roc_auc",
                "leaky_value": float(np.mean(gap.leaky_scores)),
                "correct_value": float(np.mean(gap.correct_scores)),
                "statistic": test.statistic,
                "pvalue": test.pvalue,
            }
        ]
    )


def _site_study(
    manifest: pd.DataFrame, features: pd.DataFrame, settings: Settings, gap: Any
) -> Any:
    """Study report of the random forest trained once, the last site held out as external.

    Patients are split 70/15/15 within the other sites (stratified on label and
    site); the forest is fitted on the training split and scores validation, test
    and the external site, which is what a study with an external test set reports.
    """
    from pitfalls.model_selection import assign_splits

    external = sorted(manifest["site"].astype(str).unique())[-1]
    study = manifest[["patient", "site", "label"]].astype({"patient": str, "site": str})
    study["split"] = assign_splits(
        study, group="patient", label="label", site="site", holdout_sites=external,
        random_state=settings.random_state,
    )  # fmt: skip
    train = (study["split"] == "train").to_numpy()
    model = _model(settings).set_params(random_state=settings.random_state)
    model.fit(features[train], study["label"][train])
    scores = pd.Series(model.predict_proba(features[~train])[:, 1], index=study.index[~train])
    return study_of_predictions(study, scores, settings, leakage=gap)


def run_site_gap(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Internal (sites mixed) against site-held-out ROC AUC of a random forest."""
    from pitfalls.experiments import leakage_gap

    manifest = load_site_manifest(data, settings.random_state)
    features = _features(manifest, data)
    gap = leakage_gap(
        _model(settings),
        features,
        manifest["label"].to_numpy(),
        pitfall="site",
        groups=manifest["patient"].astype(str).to_numpy(),
        sites=manifest["site"].astype(str).to_numpy(),
        scoring=list(_METRICS),
        n_repeats=settings.n_repeats,
        n_jobs=settings.n_jobs,
        random_state=settings.random_state,
        verbose=verbose,
    )
    table, means = _table(gap)
    n_sites = manifest["site"].nunique()
    notes = [
        f"{settings.n_repeats} repeats; internal: {n_sites}-fold patient-level cross-validation "
        f"(as many folds as sites, so both protocols train on as much data), reshuffled each "
        f"repeat; held out: each of the {n_sites} sites in turn; random forest of "
        f"{settings.n_estimators} trees.",
        (
            "synthetic cohort (pitfalls.datasets.make_multisite_cohort): site D is a referral "
            "centre, 75% sick against 20% elsewhere, whose scanner adds an artefact to every "
            "exam it acquires; the internal score rewards recognising that scanner."
            if data is None
            else f"data={data}: {manifest['patient'].nunique()} patients, "
            f"{features.shape[1]} features."
        ),
        "The rank-sum test compares repeats that differ only by the internal folds' "
        "shuffle and the forest's seed; read the gap beside the spread of the sites' scores.",
    ]
    return ExperimentResult(
        name="site-gap",
        title="Site gap: internal cross-validation vs each site held out (batch effect)",
        reference="Section (3), evaluation on an external batch",
        table=table,
        scores=means,
        comparisons=_comparison(gap),
        figures={"internal vs held-out sites: ROC AUC over repeats": gap.plot().figure},
        notes=notes,
        raw=gap.to_frame(),
        study=_site_study(manifest, features, settings, gap),
    )
