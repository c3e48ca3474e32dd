"""
A study report a reviewer can check
===================================

A journal reviewer (and the reporting guidelines: the paper's Table 4, CLAIM 2024,
TRIPOD+AI) asks the same questions of every imaging study: how were patients split,
did any cross, how are classes and sites distributed, how good is the model *with
patient-level confidence intervals and beside a naive baseline*, is it calibrated, does
it hold per site and subgroup, and on data from a hospital it never saw?

This example does the whole study once, the honest way, and lets
:func:`pitfalls.report.study_report` answer those questions from the manifest and the
predictions:

1. split a multi-site cohort by patient, holding one hospital out as external test set;
2. train a model on the training split only;
3. measure what pooled cross-validation would have claimed (``leakage_gap`` with
   ``pitfall="site"``);
4. write the report (HTML, self-contained) and print its checklist.

With ``--data manifest.csv`` (columns ``patient``, ``site``, ``label`` and one column
per feature) it runs on your cohort; ``--out DIR`` writes the HTML report there.
"""

# %%
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pitfalls.datasets import make_multisite_cohort
from pitfalls.experiments import leakage_gap
from pitfalls.model_selection import assign_splits
from pitfalls.report import study_report
from pitfalls.reproduction import example_arguments

args = example_arguments(__doc__)
if args.data:
    cohort = pd.read_csv(args.data, dtype={"patient": str, "site": str})
else:
    cohort = make_multisite_cohort(600, random_state=args.seed)
features = [c for c in cohort.columns if c.startswith("feature_")]
print(
    f"{len(cohort)} exams of {cohort['patient'].nunique()} patients at "
    f"{cohort['site'].nunique()} sites"
)

# %%
# Split by patient; the last site is the external test set
# --------------------------------------------------------
# Every exam of a patient lands in one split; classes and sites are balanced across
# train, validation and test; the held-out hospital's patients form ``external``.
external_site = sorted(cohort["site"].unique())[-1]
cohort["split"] = assign_splits(
    cohort, group="patient", label="label", site="site",
    holdout_sites=external_site, random_state=args.seed,
)  # fmt: skip
print(cohort.groupby("split")["patient"].nunique())

# %%
# Train on the training split only, predict every other split
# -----------------------------------------------------------
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
train = cohort["split"] == "train"
model.fit(cohort.loc[train, features], cohort.loc[train, "label"])
scored = cohort.loc[~train]
predictions = pd.DataFrame(
    {"score": model.predict_proba(scored[features])[:, 1]}, index=scored.index
)

# %%
# What pooled cross-validation would have claimed
# -----------------------------------------------
# Internal patient-level CV against each site held out, repeated; the report shows
# the gap beside the external split's own result.
development = cohort[cohort["split"] != "external"]
gap = leakage_gap(
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    development[features], development["label"], pitfall="site",
    groups=development["patient"], sites=development["site"], scoring="roc_auc",
    n_repeats=5 if args.quick else 50, random_state=args.seed,
)  # fmt: skip

# %%
# The study report
# ----------------
# Every number in it is computed from the manifest and the predictions: the
# intervals resample patients, every metric stands beside the majority and stratified
# baselines, and each checklist item says what evidences it (or what the authors
# still have to write).
report = study_report(
    cohort, group="patient", split="split", label="label", site="site",
    predictions=predictions, score="score", leakage=gap,
    n_bootstraps=200 if args.quick else 1000, random_state=args.seed,
)  # fmt: skip
print(report.to_text())

out = Path(args.out) if args.out else Path(tempfile.mkdtemp())
out.mkdir(parents=True, exist_ok=True)
report.to_html(out / "study_report.html")
print(f"HTML report: {out / 'study_report.html'}")
