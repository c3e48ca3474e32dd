"""The sample study report of the report guide (docs/report.rst), built with the docs.

A small synthetic cohort (:func:`pitfalls.datasets.make_multisite_cohort`): sites A and
B split into train and test by patient, site C kept whole as the external split; a
logistic regression fitted on train scores test and external. ``sample_report()`` is
also what the report's browser test renders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["sample_manifest", "sample_report", "write_sample_report"]


def sample_manifest() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest (one row per exam) and the model's scores on test and external."""
    from sklearn.linear_model import LogisticRegression

    from pitfalls.datasets import make_multisite_cohort

    cohort = make_multisite_cohort(160, n_sites=3, random_state=0)
    cohort.index = [f"exam{i:03d}" for i in range(len(cohort))]
    patients = cohort["patient"].unique()
    test_patients = set(np.random.default_rng(0).permutation(patients)[: len(patients) // 3])
    split = np.where(cohort["patient"].isin(test_patients), "test", "train")
    cohort["split"] = np.where(cohort["site"] == "C", "external", split)
    cohort["sex"] = np.where(np.arange(len(cohort)) % 2 == 0, "F", "M")
    features = [c for c in cohort.columns if c.startswith("feature_")]
    train = cohort["split"] == "train"
    model = LogisticRegression(max_iter=1000).fit(
        cohort.loc[train, features], cohort.loc[train, "label"]
    )
    scored = cohort[~train]
    predictions = pd.DataFrame(
        {"exam": scored.index, "probability": model.predict_proba(scored[features])[:, 1]}
    )
    manifest = cohort[["patient", "site", "sex", "split", "label"]].rename_axis("exam")
    return manifest.reset_index(), predictions


def sample_report(n_bootstraps: int = 200):  # type: ignore[no-untyped-def]
    """The sample :class:`~pitfalls.report.StudyReport`."""
    from pitfalls.report import study_report

    manifest, predictions = sample_manifest()
    return study_report(
        manifest,
        group="patient",
        split="split",
        label="label",
        site="site",
        sample_id="exam",
        predictions=predictions,
        score="probability",
        subgroups=["sex"],
        n_bootstraps=n_bootstraps,
        random_state=0,
    )


def write_sample_report(path: str | Path) -> Path:
    """Write the sample report's HTML page to ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_report().to_html(path)
    return path
