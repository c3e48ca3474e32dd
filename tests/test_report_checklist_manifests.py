"""The checklist's verdicts on whole studies: manifests built to pass and to fail each item.

tests/test_report_checklist.py drives each rule with Section data built by hand. Here
every item the data can evidence (:data:`pitfalls.report.RULES`, the items whose
``GuidelineItem.evidence`` is not empty) goes through :func:`pitfalls.report.study_report`
end to end: small manifests and predictions make it ``evidenced`` in one study and
``failed`` (or ``needs_author`` where the data cannot fail it) in another, and the
sentence must carry the number an independent count gives (pandas for patients,
samples, classes, sites and missing values; scikit-learn for the metrics; scipy for
the confounding the audit reports; numpy for leakage_gap's means). Items only the
author can answer need the author in every study.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter
from scipy.stats import chi2_contingency
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    balanced_accuracy_score,
    brier_score_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from pitfalls.cli import main
from pitfalls.experiments import LeakageGapResult, leakage_gap
from pitfalls.metrics import classification_summary, compare_runs
from pitfalls.pipeline import make_pipeline
from pitfalls.report import GUIDELINE_ITEMS, RULES, study_report

T4, CLAIM, TRIPOD = "Table 4", "CLAIM 2024", "TRIPOD+AI"
Key = tuple[str, str]
Fragment = str | Callable[[str], bool]

N_BOOTSTRAPS = 50
DATA_ITEMS = [(i.guideline, i.item) for i in GUIDELINE_ITEMS if i.evidence]
AUTHOR_ITEMS = [(i.guideline, i.item) for i in GUIDELINE_ITEMS if not i.evidence]


def g(value: float) -> str:
    """A number as the checklist's sentences write it: three significant digits."""
    return f"{float(value):.3g}"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%"


def pvalue_of(sentence: str) -> float:
    match = re.search(r"p = ([0-9.e+-]+)\.", sentence)
    assert match, sentence
    return float(match.group(1))


@dataclass
class Study:
    """A manifest, its predictions, the arguments of study_report and what the checklist says."""

    manifest: pd.DataFrame
    predictions: pd.DataFrame | None = None
    options: dict[str, Any] = field(default_factory=dict)
    expected: dict[Key, tuple[str, tuple[Fragment, ...]]] = field(default_factory=dict)

    def expect(self, verdict: str, keys: list[Key], *fragments: Fragment) -> None:
        for key in keys:
            assert key not in self.expected, key
            self.expected[key] = (verdict, fragments)

    def run(self) -> Any:
        scored = {}
        if self.predictions is not None:
            scored = {"score": "prob"} if "prob" in self.predictions else {"prediction": "pred"}
        options = {"predictions": self.predictions, **scored, "n_bootstraps": N_BOOTSTRAPS}
        return study_report(
            self.manifest,
            group="pid",
            split="split",
            label="y",
            sample_id="sample",
            **{**options, **self.options},
        )

    # --- oracles: the evaluated rows of a split, and scikit-learn on them ---------------

    def rows(self, split: str | None = None, **where: Any) -> pd.DataFrame:
        assert self.predictions is not None
        joined = self.manifest.merge(self.predictions, on="sample")
        if split is not None:
            joined = joined[joined["split"] == split]
        for column, value in where.items():
            joined = joined[joined[column] == value]
        return joined

    def auc(self, split: str | None = None, **where: Any) -> float:
        rows = self.rows(split, **where)
        return float(roc_auc_score(rows["y"] == 1, rows["prob"]))

    def predicted(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows(split)
        labels = rows["pred"] if "pred" in rows else (rows["prob"] >= 0.5).astype(int)
        return rows["y"].to_numpy(), labels.to_numpy()


SPLITS = ("train", "train", "test", "external")


def cohort(
    n_patients: int = 40,
    *,
    splits: tuple[str, ...] = SPLITS,
    noise: float = 0.3,
    flip_site: str | None = None,
) -> Study:
    """Patients cycle through ``splits``; 1 or 2 samples each; both classes at every site.

    Internal sites alternate every 8 patients, external splits are site "C". Samples
    of the evaluated splits get a score ``0.3 + 0.4 y`` plus normal noise (clipped to
    (0, 1)); at ``flip_site`` the score is ``0.7 - 0.4 y`` instead (it ranks backwards).
    """
    rng = np.random.default_rng(0)
    rows = []
    for p in range(n_patients):
        split = splits[p % len(splits)]
        site = "C" if "external" in split else "AB"[(p // 8) % 2]
        for k in range(1 + p % 3 // 2):
            rows.append(
                {
                    "sample": f"{p:03d}-{k}",
                    "pid": f"{p:03d}",
                    "split": split,
                    "y": (p // 4) % 2,
                    "site": site,
                    "sex": "FM"[(p // 8 + p) % 2],
                }
            )
    manifest = pd.DataFrame(rows)
    evaluated = manifest[manifest["split"] != "train"]
    signal = np.where(
        evaluated["site"] == flip_site, 0.7 - 0.4 * evaluated["y"], 0.3 + 0.4 * evaluated["y"]
    )
    score = np.clip(signal + rng.normal(0, noise, len(evaluated)), 0.01, 0.99)
    predictions = pd.DataFrame({"sample": evaluated["sample"].to_numpy(), "prob": score})
    return Study(manifest, predictions, {"site": "site"})


def split_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Patients and samples per split, and patients with a sample of each class."""
    by_split = manifest.groupby("split", sort=False)
    table = by_split.agg(patients=("pid", "nunique"), samples=("sample", "size"))
    for label in (0, 1):
        table[f"class {label}"] = (
            manifest[manifest["y"] == label].groupby("split", sort=False)["pid"].nunique()
        )
    return table.fillna(0).astype(int)


# ------------------------------------------------------------------ the studies


def clean(tmp_path: Path) -> Study:
    """Three disjoint splits, two internal sites and an external one, noisy scores."""
    study = cohort()
    study.options["subgroups"] = ["sex"]
    m = study.manifest
    counts = split_counts(m)
    n_patients, n_samples = m["pid"].nunique(), len(m)
    study.expect(
        "evidenced",
        [(T4, "4"), (CLAIM, "20")],
        f"0 of {n_patients} patients have samples in more than one of the {len(counts)} splits",
    )
    total = counts["patients"].sum()
    study.expect(
        "evidenced",
        [(CLAIM, "19"), (TRIPOD, "12a")],
        f"{len(counts)} partition(s)",
        *(
            f"'{s}' {c.patients} patients ({percent(c.patients, total)}, {c.samples} samples)"
            for s, c in counts.iterrows()
        ),
    )
    study.expect(
        "evidenced",
        [(TRIPOD, "21")],
        *(
            f"'{s}' {c.patients} patients (0={c['class 0']}, 1={c['class 1']})"
            for s, c in counts.iterrows()
        ),
    )
    study.expect(
        "evidenced",
        [(TRIPOD, "20c")],
        "Share of class '1' by split",
        *(
            f"'{s}' {percent(c['class 1'], c.patients)} ({c['class 1']} of {c.patients} patients)"
            for s, c in counts.iterrows()
        ),
    )
    per_class = m["y"].value_counts()
    study.expect(
        "evidenced",
        [(TRIPOD, "20a")],
        f"{n_patients} patients ({n_samples} samples) are included; samples per class: "
        f"0={per_class[0]}, 1={per_class[1]}.",
    )
    per_site = m["site"].value_counts().sort_index()
    study.expect(
        "evidenced",
        [(CLAIM, "7"), (TRIPOD, "6a")],
        f"{len(per_site)} site(s) contribute {n_samples} samples ("
        + ", ".join(f"{site}={n}" for site, n in per_site.items())
        + ")",
    )
    study.expect(
        "evidenced",
        [(T4, "9")],
        f"{len(per_site)} sites; the audit found neither site-label confounding (PF201) nor",
    )
    used = ["pid", "split", "y", "site", "sample", "sex", "prob"]
    assert m.isna().sum().sum() == 0 and study.predictions["prob"].notna().all()
    study.expect(
        "evidenced", [(CLAIM, "12"), (TRIPOD, "11")], f"0 values are missing in the {len(used)}"
    )
    y, predicted = study.predicted("test")
    study.expect(
        "evidenced",
        [(T4, "5")],
        f"balanced_accuracy {g(balanced_accuracy_score(y, predicted))} (95% CI ",
        "on split 'test' is reported.",
    )
    study.expect(
        "evidenced",
        [(T4, "6")],
        f"Precision {g(precision_score(y, predicted))} and recall "
        f"{g(recall_score(y, predicted))} are reported on split 'test'.",
    )
    study.expect("evidenced", [(T4, "7")], "of 2 evaluation split(s).")
    internal, external = study.auc("test"), study.auc("external")
    study.expect(
        "evidenced",
        [(T4, "8"), (CLAIM, "33")],
        f"External split 'external' scored {g(external)} (CI ",
        f"roc_auc against {g(internal)} (CI ",
        f"on internal split 'test' (gap {g(internal - external)}, from splits).",
    )
    study.expect(
        "evidenced",
        [(CLAIM, "28")],
        f"metrics on 2 evaluation split(s), e.g. roc_auc {g(internal)} (95% CI ",
    )
    study.expect(
        "evidenced",
        [(CLAIM, "29")],
        f"patient-level bootstrap confidence intervals ({N_BOOTSTRAPS} replicates)",
    )
    study.expect(
        "evidenced",
        [(CLAIM, "32")],
        f"roc_auc {g(internal)} (95% CI ",
        f"on split 'test' ({counts.loc['test', 'patients']} patients held out).",
    )
    study.expect("evidenced", [(CLAIM, "37")], f"roc_auc {g(internal)} (95% CI ")
    study.expect(
        "evidenced",
        [(CLAIM, "38")],
        f"Sensitivity {g(recall_score(y, predicted))} (95% CI ",
        f"specificity {g(recall_score(y, predicted, pos_label=0))} (95% CI ",
    )
    rows = study.rows("test")
    study.expect(
        "evidenced",
        [(TRIPOD, "12e")],
        f"Brier score {g(brier_score_loss(rows['y'], rows['prob']))}, calibration slope ",
        "on split 'test'.",
    )
    evaluated = study.rows()
    site_a = evaluated[evaluated["site"] == "A"]
    study.expect(
        "evidenced",
        [(TRIPOD, "23a")],
        "2 subgroup column(s) with confidence intervals, e.g. "
        f"site='A' roc_auc {g(study.auc(site='A'))} (CI ",
        f"({site_a['pid'].nunique()} patients)",
    )
    n_levels = evaluated["site"].nunique()
    study.expect(
        "evidenced",
        [(TRIPOD, "12d"), (TRIPOD, "23b")],
        f"Cochran's Q across the {n_levels} levels of site on roc_auc",
        f"df {n_levels - 1}, p = ",
        lambda sentence: pvalue_of(sentence) > 0.05,  # no heterogeneity built in
    )
    for number, pitfall in ((1, "oversampling"), (2, "augmentation"), (3, "feature selection")):
        study.expect("needs_author", [(T4, str(number))], f"cannot show where {pitfall} ran.")
    return study


def crossing_patients(tmp_path: Path) -> Study:
    """Three test patients also have a sample in training."""
    study = cohort()
    m = study.manifest
    extra = m[m["pid"].isin(["002", "006", "010"])].assign(
        sample=lambda f: f["sample"] + "-train", split="train"
    )
    study.manifest = m = pd.concat([m, extra], ignore_index=True)
    splits_per_patient = m.groupby("pid", sort=False)["split"].nunique()
    crossing = splits_per_patient[splits_per_patient > 1].index
    shown = ", ".join(repr(pid) for pid in crossing[:3])
    study.expect(
        "failed",
        [(T4, "4"), (CLAIM, "20")],
        f"{len(crossing)} of {m['pid'].nunique()} patients have samples in more than one "
        f"split (e.g. {shown}).",
    )
    counts = split_counts(m)
    total = counts["patients"].sum()  # a crossing patient counts in both partitions
    study.expect(
        "evidenced",
        [(CLAIM, "19"), (TRIPOD, "12a")],
        *(
            f"'{s}' {c.patients} patients ({percent(c.patients, total)}, {c.samples} samples)"
            for s, c in counts.iterrows()
        ),
    )
    return study


def mixed_label_patient(tmp_path: Path) -> Study:
    """A test patient with one sample of each class (a benign and a malignant lesion)."""
    study = cohort(splits=("train", "test"))
    m = study.manifest
    first = m[(m["split"] == "test") & (m["y"] == 0)].iloc[0]
    extra = first.to_frame().T.assign(sample=first["sample"] + "-b", y=1)
    study.manifest = m = pd.concat([m, extra], ignore_index=True).astype({"y": int})
    assert study.predictions is not None
    study.predictions = pd.concat(
        [study.predictions, pd.DataFrame({"sample": [first["sample"] + "-b"], "prob": [0.8]})]
    )
    counts = split_counts(m)
    test = counts.loc["test"]
    assert test["class 0"] + test["class 1"] == test["patients"] + 1
    study.expect(
        "evidenced",
        [(TRIPOD, "20c")],
        f"'test' {percent(test['class 1'], test['patients'])} ({test['class 1']} of "
        f"{test['patients']} patients)",
    )
    study.expect(
        "evidenced",
        [(TRIPOD, "21")],
        f"'test' {test['patients']} patients (0={test['class 0']}, 1={test['class 1']})",
    )
    return study


def one_split(tmp_path: Path) -> Study:
    """Every sample in one test split: no class mix to compare between splits."""
    study = cohort(splits=("test",))
    n_patients = study.manifest["pid"].nunique()
    study.expect("needs_author", [(TRIPOD, "20c")], "1 split(s): nothing to compare.")
    study.expect(
        "evidenced",
        [(T4, "4"), (CLAIM, "20")],
        f"0 of {n_patients} patients have samples in more than one of the 1 splits",
    )
    study.expect(
        "evidenced",
        [(CLAIM, "19"), (TRIPOD, "12a")],
        f"1 partition(s): 'test' {n_patients} patients (100%, {len(study.manifest)} samples).",
    )
    return study


def labels_only(tmp_path: Path) -> Study:
    """Predicted labels without scores: no calibration, balanced accuracy as headline."""
    study = cohort()
    assert study.predictions is not None
    study.predictions = study.predictions.assign(
        pred=lambda f: (f["prob"] >= 0.5).astype(int)
    ).drop(columns="prob")
    study.expect(
        "needs_author",
        [(TRIPOD, "12e")],
        "Calibration was not computed (no probability scores).",
        "Write: report calibration beside discrimination",
    )
    y, predicted = study.predicted("test")
    internal = balanced_accuracy_score(y, predicted)
    study.expect("evidenced", [(CLAIM, "37")], f"balanced_accuracy {g(internal)} (95% CI ")
    y_ext, predicted_ext = study.predicted("external")
    external = balanced_accuracy_score(y_ext, predicted_ext)
    study.expect(
        "evidenced",
        [(T4, "8"), (CLAIM, "33")],
        f"External split 'external' scored {g(external)} (CI ",
        f"balanced_accuracy against {g(internal)} (CI ",
    )
    return study


def without_intervals(tmp_path: Path) -> Study:
    """n_bootstraps=0: every metric without a confidence interval."""
    study = cohort()
    study.options.update(n_bootstraps=0, subgroups=["sex"])
    n_metrics = 0
    for split in ("test", "external"):
        rows = study.rows(split)
        n_metrics += len(
            classification_summary(
                rows["y"], (rows["prob"] >= 0.5).astype(int), y_score=rows["prob"], n_bootstraps=0
            ).table
        )
    none = f"None of the {n_metrics} metrics has a confidence interval."
    study.expect("failed", [(CLAIM, "29"), (TRIPOD, "23a")], none)
    study.expect(
        "failed",
        [(CLAIM, "37")],
        f"roc_auc {g(study.auc('test'))} on split 'test' has no confidence interval.",
    )
    y, predicted = study.predicted("test")
    study.expect(
        "failed",
        [(CLAIM, "38")],
        f"Sensitivity {g(recall_score(y, predicted))} and specificity "
        f"{g(recall_score(y, predicted, pos_label=0))} on split 'test', without confidence "
        "intervals.",
    )
    study.expect(
        "needs_author",
        [(TRIPOD, "12d"), (TRIPOD, "23b")],
        "Performance was not compared across sites.",
    )
    return study


def baselines_beaten(tmp_path: Path) -> Study:
    """Scores that separate the classes: every split beats the naive baselines."""
    study = cohort(splits=("train", "test"), noise=0.05)
    assert study.auc("test") == 1.0  # above a naive ROC AUC of 0.5 in every resample
    study.expect(
        "evidenced",
        [(T4, "7")],
        "Majority and stratified baselines stand beside",
        "the model beats them on 1 of 1 evaluation split(s).",
    )
    return study


def baselines_not_beaten(tmp_path: Path) -> Study:
    """Scores that rank backwards: the baselines are reported, and not beaten."""
    study = cohort(splits=("train", "test"))
    assert study.predictions is not None
    study.predictions["prob"] = 1 - study.predictions["prob"]
    assert study.auc("test") < 0.5  # below the naive ROC AUC of 0.5
    study.expect("evidenced", [(T4, "7")], "the model beats them on 0 of 1 evaluation split(s).")
    return study


def no_predictions(tmp_path: Path) -> Study:
    """A manifest alone: the cohort is evidenced, performance needs the author."""
    study = cohort()
    study.predictions = None
    performance = [
        (T4, "5"),
        (T4, "6"),
        (T4, "7"),
        (CLAIM, "28"),
        (CLAIM, "29"),
        (CLAIM, "32"),
        (CLAIM, "37"),
        (CLAIM, "38"),
        (TRIPOD, "12e"),
        (TRIPOD, "23a"),
    ]
    study.expect("needs_author", performance, "Write: ")
    study.expect("needs_author", [(T4, "8"), (CLAIM, "33")], "No external (site-held-out) test set")
    counts = split_counts(study.manifest)
    study.expect(
        "evidenced",
        [(TRIPOD, "21")],
        *(f"'{s}' {c.patients} patients" for s, c in counts.iterrows()),
    )
    return study


def no_site_column(tmp_path: Path) -> Study:
    """No site= column: sources and centre distributions need the author."""
    study = cohort()
    study.options.pop("site")
    study.expect(
        "needs_author",
        [(CLAIM, "7"), (TRIPOD, "6a")],
        "No site column was given, so the sources are not counted.",
    )
    study.expect("needs_author", [(T4, "9")], "No site column was given.")
    study.expect(
        "needs_author",
        [(TRIPOD, "12d"), (TRIPOD, "23b")],
        "Performance was not compared across sites.",
    )
    return study


def single_site(tmp_path: Path) -> Study:
    """One centre: nothing to keep similar across centres, no heterogeneity to test."""
    study = cohort(splits=("train", "test"))
    study.manifest["site"] = "A"
    n_samples = len(study.manifest)
    study.expect(
        "evidenced",
        [(CLAIM, "7"), (TRIPOD, "6a")],
        f"1 site(s) contribute {n_samples} samples (A={n_samples}).",
    )
    study.expect("evidenced", [(T4, "9")], "1 site: a single-centre study has no mix to keep.")
    study.expect(
        "needs_author",
        [(TRIPOD, "12d"), (TRIPOD, "23b")],
        "Performance was not compared across sites.",
    )
    return study


def patient_table(manifest: pd.DataFrame, rows: str, columns: str) -> np.ndarray:
    """Patients per (rows, columns) cell: the audit's unit."""
    pairs = manifest.drop_duplicates(["pid", rows, columns])
    return pd.crosstab(pairs[rows], pairs[columns]).to_numpy()


def site_confounded(tmp_path: Path) -> Study:
    """Site A holds mostly positive patients, site B mostly negative ones (audit PF201)."""
    rows = []
    for p in range(60):
        site = "A" if p < 30 else "B"
        positive = (p % 5 != 0) if site == "A" else (p % 5 == 0)
        split = ("train", "test")[p % 2]
        rows.append(
            {"sample": f"s{p}", "pid": f"{p:03d}", "split": split, "y": int(positive), "site": site}
        )
    manifest = pd.DataFrame(rows)
    _, pvalue, _, _ = chi2_contingency(patient_table(manifest, "site", "y"), correction=False)
    assert pvalue < 0.05
    study = Study(manifest, None, {"site": "site"})
    study.expect("failed", [(T4, "9")], "The audit found 1 site finding code(s) (PF201)")
    return study


def site_mix_differs(tmp_path: Path) -> Study:
    """Training mostly from site A, testing mostly from site B (audit PF202)."""
    rows = []
    for p in range(50):
        split = "train" if p < 30 else "test"
        site = ("A" if p < 27 else "B") if split == "train" else ("A" if p < 33 else "B")
        rows.append(
            {"sample": f"s{p}", "pid": f"{p:03d}", "split": split, "y": p % 2, "site": site}
        )
    manifest = pd.DataFrame(rows)
    _, pvalue, _, _ = chi2_contingency(patient_table(manifest, "split", "site"), correction=False)
    assert pvalue < 0.01
    _, label_pvalue, _, _ = chi2_contingency(patient_table(manifest, "site", "y"))
    assert label_pvalue > 0.05  # the classes are not confounded with the site
    study = Study(manifest, None, {"site": "site"})
    study.expect("failed", [(T4, "9")], "The audit found 1 site finding code(s) (PF202)")
    return study


def missing_values(tmp_path: Path) -> Study:
    """Training labels, a subgroup and training-set scores missing in a few rows."""
    study = cohort()
    study.options["subgroups"] = ["sex"]
    m = study.manifest
    train = m.index[m["split"] == "train"]
    m["y"] = m["y"].astype(float)
    m.loc[train[:2], "y"] = np.nan
    m.loc[train[2:5], "sex"] = None
    assert study.predictions is not None
    unscored = pd.DataFrame({"sample": m.loc[train[5:9], "sample"], "prob": np.nan})
    study.predictions = pd.concat([study.predictions, unscored], ignore_index=True)
    missing = {
        "y": int(m["y"].isna().sum()),
        "sex": int(m["sex"].isna().sum()),
        "prob": int(study.predictions["prob"].isna().sum()),
    }
    study.expect(
        "needs_author",
        [(CLAIM, "12"), (TRIPOD, "11")],
        f"{sum(missing.values())} value(s) are missing (",
        *(f"{column}={n}" for column, n in missing.items()),
        "Write: say how",
    )
    return study


def subgroup_without_site(tmp_path: Path) -> Study:
    """A subgroup column but no site: subgroup intervals, no heterogeneity across centres."""
    study = cohort()
    study.options = {"subgroups": ["sex"]}
    rows = study.rows()
    women = rows[rows["sex"] == "F"]
    study.expect(
        "evidenced",
        [(TRIPOD, "23a")],
        "1 subgroup column(s) with confidence intervals, e.g. "
        f"sex='F' roc_auc {g(study.auc(sex='F'))} (CI ",
        f"({women['pid'].nunique()} patients).",
    )
    study.expect(
        "needs_author",
        [(TRIPOD, "12d"), (TRIPOD, "23b")],
        "Performance was not compared across sites.",
    )
    return study


def heterogeneous_sites(tmp_path: Path) -> Study:
    """The scores rank well at site A and backwards at site B: Cochran's Q rejects."""
    study = cohort(80, splits=("train", "test"), noise=0.2, flip_site="B")
    assert study.auc("test", site="A") > 0.8 and study.auc("test", site="B") < 0.2
    n_levels = study.rows()["site"].nunique()
    study.expect(
        "evidenced",
        [(TRIPOD, "12d"), (TRIPOD, "23b")],
        f"Cochran's Q across the {n_levels} levels of site on roc_auc",
        f"df {n_levels - 1}, p = ",
        lambda sentence: pvalue_of(sentence) < 0.05,
    )
    return study


def external_absent(tmp_path: Path) -> Study:
    """Internal test split only: internal testing evidenced, external needs the author."""
    study = cohort(splits=("train", "train", "test", "test"))
    study.expect(
        "needs_author",
        [(T4, "8"), (CLAIM, "33")],
        "No external (site-held-out) test set was evaluated.",
        "Write: test on ",
    )
    patients = study.rows("test")["pid"].nunique()
    study.expect(
        "evidenced",
        [(CLAIM, "32")],
        f"roc_auc {g(study.auc('test'))} (95% CI ",
        f"on split 'test' ({patients} patients held out).",
    )
    return study


def external_only(tmp_path: Path) -> Study:
    """Only an external split is evaluated: no internal test, no internal-external gap."""
    study = cohort(splits=("train", "train", "external", "external"))
    study.expect("needs_author", [(CLAIM, "32")], "Only external splits were evaluated.")
    external = f"roc_auc {g(study.auc('external'))} (95% CI "
    study.expect(
        "evidenced",
        [(T4, "8"), (CLAIM, "33")],
        external,
        "on split 'external' (an external split) is reported; no internal-external gap",
    )
    study.expect("evidenced", [(CLAIM, "37")], external)
    return study


def site_leakage_gap(tmp_path: Path) -> Study:
    """No external split, but leakage_gap(pitfall="site") measured sites held out."""
    study = cohort(splits=("train", "train", "test", "test"))
    mixed, held_out = np.array([0.86, 0.9, 0.88, 0.84]), np.array([0.7, 0.74, 0.66, 0.72])
    study.options["leakage"] = LeakageGapResult(
        "site",
        ["roc_auc"],
        {"roc_auc": mixed},
        {"roc_auc": held_out},
        compare_runs(mixed, held_out),
    )
    study.expect(
        "evidenced",
        [(T4, "8"), (CLAIM, "33")],
        f"External split 'sites held out' scored {g(held_out.mean())} (CI ",
        f"roc_auc against {g(mixed.mean())} (CI ",
        f"on internal split 'internal CV (sites mixed)' (gap {g(mixed.mean() - held_out.mean())}, "
        "from leakage_gap).",
    )
    return study


def leakage_results(tmp_path: Path) -> Study:
    """leakage_gap results for the three pitfalls of Table 4 items 1 to 3."""
    study = cohort()
    scores = {
        "oversampling": (np.array([0.91, 0.88, 0.9]), np.array([0.61, 0.58, 0.64])),
        "augmentation": (np.array([0.8, 0.84]), np.array([0.7, 0.69])),
        "feature_selection": (
            np.array([0.95, 0.97, 0.93, 0.96]),
            np.array([0.5, 0.52, 0.47, 0.55]),
        ),
    }
    study.options["leakage"] = [
        LeakageGapResult(
            pitfall, ["f1"], {"f1": leaky}, {"f1": correct}, compare_runs(leaky, correct)
        )
        for pitfall, (leaky, correct) in scores.items()
    ]
    for number, (pitfall, (leaky, correct)) in enumerate(scores.items(), start=1):
        study.expect(
            "evidenced",
            [(T4, str(number))],
            f"leakage_gap measured {pitfall.replace('_', ' ')}: the correct protocol scored "
            f"{g(correct.mean())} f1 against {g(leaky.mean())} for the leaky one over "
            f"{len(leaky)} repeats.",
        )
    return study


def real_leakage_gap(tmp_path: Path) -> Study:
    """A real leakage_gap run: feature selection on noise, three repeats."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 300))
    y = np.tile([0, 1], 20)
    pipe = make_pipeline(SelectKBest(f_classif, k=5), LogisticRegression())
    result = leakage_gap(
        pipe, X, y, pitfall="feature_selection", n_repeats=3, scoring="accuracy",
        random_state=0, verbose=False,
    )  # fmt: skip
    study = cohort()
    study.options["leakage"] = result
    study.expect(
        "evidenced",
        [(T4, "3")],
        f"the correct protocol scored {g(np.mean(result.correct['accuracy']))} accuracy against "
        f"{g(np.mean(result.leaky['accuracy']))} for the leaky one over 3 repeats.",
    )
    study.expect("needs_author", [(T4, "1")], "cannot show where oversampling ran.")
    return study


SIZE = 96


def smooth_image(seed: int) -> np.ndarray:
    """A smooth random field: distinct seeds give unrelated images."""
    field_ = gaussian_filter(np.random.default_rng(seed).normal(size=(SIZE, SIZE)), SIZE / 16)
    field_ = (field_ - field_.min()) / np.ptp(field_)
    return (30 + 190 * field_).astype(np.uint8)


def duplicate_images(tmp_path: Path) -> Study:
    """A training image copied into the test split (PF102) and a brightened one (PF104)."""
    rows, pixels = [], {}
    for p in range(24):
        pixels[f"p{p}.png"] = smooth_image(p)
        split = "train" if p < 16 else "test"
        rows.append({"sample": f"s{p}", "pid": f"{p:03d}", "split": split, "y": p % 2})
    pixels["copy.png"] = pixels["p0.png"].copy()
    pixels["bright.png"] = np.clip(pixels["p1.png"].astype(int) + 25, 0, 255).astype(np.uint8)
    rows += [
        {"sample": "s90", "pid": "090", "split": "test", "y": 0},
        {"sample": "s91", "pid": "091", "split": "test", "y": 1},
    ]
    for row, name in zip(rows, pixels, strict=True):
        row["path"] = name
        Image.fromarray(pixels[name]).save(tmp_path / name)
    manifest = pd.DataFrame(rows)
    # the oracle: identical pixels in two splits, under two patients
    assert np.array_equal(pixels["copy.png"], pixels["p0.png"])
    n_patients = manifest["pid"].nunique()
    assert manifest.groupby("pid")["split"].nunique().max() == 1
    study = Study(manifest, None, {"image": "path", "root": tmp_path})
    study.expect("failed", [(T4, "1")], "The audit found 1 finding code(s) (PF102)")
    study.expect("failed", [(T4, "2")], "The audit found 1 finding code(s) (PF104)")
    study.expect(
        "failed",
        [(T4, "4"), (CLAIM, "20")],
        f"0 of {n_patients} patients have samples in more than one split, but the audit found "
        "PF102",
    )
    return study


CASES: dict[str, Callable[[Path], Study]] = {
    "clean-study": clean,
    "patients-in-two-splits": crossing_patients,
    "patient-with-both-classes": mixed_label_patient,
    "one-split": one_split,
    "labels-only": labels_only,
    "no-bootstrap-intervals": without_intervals,
    "baselines-beaten": baselines_beaten,
    "baselines-not-beaten": baselines_not_beaten,
    "no-predictions": no_predictions,
    "no-site-column": no_site_column,
    "single-site": single_site,
    "site-label-confounding": site_confounded,
    "site-mix-differs": site_mix_differs,
    "missing-values": missing_values,
    "subgroup-without-site": subgroup_without_site,
    "heterogeneous-sites": heterogeneous_sites,
    "no-external-split": external_absent,
    "external-split-only": external_only,
    "site-leakage-gap": site_leakage_gap,
    "leakage-gap-results": leakage_results,
    "real-leakage-gap": real_leakage_gap,
    "duplicate-images": duplicate_images,
}
PARAMS = [pytest.param(name, id=name) for name in CASES]


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """``studies(name)`` -> (Study, its StudyReport's checklist rows by item), built once."""
    cache: dict[str, tuple[Study, dict[Key, dict[str, Any]]]] = {}

    def get(name: str) -> tuple[Study, dict[Key, dict[str, Any]]]:
        if name not in cache:
            study = CASES[name](tmp_path_factory.mktemp(name))
            rows = study.run().sections["checklist"].data["items"]
            cache[name] = (study, {(r["guideline"], r["item"]): r for r in rows})
        return cache[name]

    return get


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("name", PARAMS)
def test_verdict_and_number_of_each_item(studies, name):
    study, rows = studies(name)
    wrong = []
    for key, (verdict, fragments) in study.expected.items():
        row = rows[key]
        absent = [
            f
            for f in fragments
            if not (f(row["evidence"]) if callable(f) else f in row["evidence"])
        ]
        if row["verdict"] != verdict or absent:
            wrong.append(f"{key}: {row['verdict']} (want {verdict}) {row['evidence']!r}; {absent}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", PARAMS)
def test_items_only_the_author_can_answer_always_need_the_author(studies, name):
    _, rows = studies(name)
    assert {key: rows[key]["verdict"] for key in AUTHOR_ITEMS} == dict.fromkeys(
        AUTHOR_ITEMS, "needs_author"
    )


# A study always has a cohort with at least one split: the counts these items ask for
# are always there (their other branches are driven by hand in test_report_checklist.py).
ALWAYS_EVIDENCED = [(CLAIM, "19"), (TRIPOD, "12a"), (TRIPOD, "20a"), (TRIPOD, "21")]


def test_every_data_item_is_driven_both_ways(studies):
    verdicts: dict[Key, set[str]] = {key: set() for key in DATA_ITEMS}
    for name in CASES:
        study, _ = studies(name)
        for key, (verdict, _) in study.expected.items():
            verdicts[key].add(verdict)
    assert set(DATA_ITEMS) <= set(RULES)
    one_way = {key: seen for key, seen in verdicts.items() if len(seen) < 2}
    assert set(one_way) == set(ALWAYS_EVIDENCED), one_way
    assert all("evidenced" in seen for seen in verdicts.values())


@pytest.mark.parametrize("name", PARAMS)
def test_cohort_counts_are_always_evidenced(studies, name):
    _, rows = studies(name)
    assert {key: rows[key]["verdict"] for key in ALWAYS_EVIDENCED} == dict.fromkeys(
        ALWAYS_EVIDENCED, "evidenced"
    )


def test_cli_json_checklist_equals_the_librarys(studies, tmp_path, capsys):
    study, rows = studies("patients-in-two-splits")
    assert study.predictions is not None
    manifest, predictions = tmp_path / "manifest.csv", tmp_path / "predictions.csv"
    study.manifest.to_csv(manifest, index=False)
    study.predictions.to_csv(predictions, index=False)
    status = main(
        [
            "report", str(manifest), "--group", "pid", "--split", "split", "--label", "y",
            "--id", "sample", "--site", "site", "--predictions", str(predictions),
            "--score", "prob", "--n-bootstraps", str(N_BOOTSTRAPS), "--format", "json",
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 1, err  # a patient in two splits fails the audit (PF101, high)
    items = json.loads(out)["sections"]["checklist"]["data"]["items"]
    assert [(i["guideline"], i["item"], i["verdict"]) for i in items] == [
        (*key, row["verdict"]) for key, row in rows.items()
    ]
    assert items == list(rows.values())
    assert rows[(T4, "4")]["verdict"] == "failed"
