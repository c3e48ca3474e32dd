"""
Image-level vs patient-level confidence intervals
=================================================

A study scores 392 lesions from 150 patients. A patient's lesions share the patient's
anatomy, scanner and disease, so the model's errors come in clusters: when it is wrong
about a patient it tends to be wrong about all of that patient's lesions. A bootstrap
that resamples *lesions* treats 368 lesions as 368 independent pieces of evidence and
gives intervals that are too narrow. Resampling *patients* (the cluster bootstrap of
:func:`pitfalls.metrics.classification_summary` with ``groups=``) gives honest ones.

This example shows the two intervals side by side, the ROC curve with both bands, the
paired AUC comparison with and without clustering, and a small simulation of how often
each interval covers the true AUC.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import classification_summary, compare_auc, curve_bands

warnings.simplefilter("ignore", MetricWarning)  # a modest model: accuracy warnings expected


def make_study(seed, n_patients=150):
    """Lesions of patients: one diagnosis per patient, errors shared within a patient."""
    rng = np.random.default_rng(seed)
    n_lesions = rng.integers(1, 5, n_patients)  # 1 to 4 lesions
    diagnosis = rng.random(n_patients) < 0.4
    patients = np.repeat([f"P{i:03d}" for i in range(n_patients)], n_lesions)
    y = np.repeat(diagnosis, n_lesions).astype(int)
    patient_error = np.repeat(rng.normal(0, 1.0, n_patients), n_lesions)
    score_a = 1.2 * y + patient_error + rng.normal(0, 0.5, len(y))
    # a second model that sees the same patients: shares part of their error
    score_b = 1.0 * y + 0.8 * patient_error + rng.normal(0, 0.7, len(y))
    return y, score_a, score_b, patients


y, score_a, score_b, patients = make_study(seed=0)
print(f"{len(y)} lesions from {len(np.unique(patients))} patients")

# %%
# The same metrics, two units of resampling
# -----------------------------------------
# The point values are identical; only the intervals change. With ``groups`` the
# header says what was resampled.
pred = (score_a > 0.6).astype(int)
lesion = classification_summary(y, pred, y_score=score_a, random_state=0)
patient = classification_summary(y, pred, y_score=score_a, groups=patients, random_state=0)
print(lesion)
print()
print(patient)

# %%
# The ROC curve with both bands, and the intervals of three metrics
# -------------------------------------------------------------------
bands = {  # the wider band first, so that the narrower one shows on top of it
    "patient-level": curve_bands(y, score_a, groups=patients, n_bootstraps=300, random_state=0),
    "lesion-level": curve_bands(y, score_a, n_bootstraps=300, random_state=0),
}
figure, (roc_ax, ci_ax) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
for (name, band), colour in zip(bands.items(), ("tab:blue", "tab:orange"), strict=True):
    roc_ax.fill_between(band.grid, *band.tpr_band, color=colour, alpha=0.3, linewidth=0,
                        label=f"95% {name} band")  # fmt: skip
roc_ax.plot(bands["lesion-level"].fpr, bands["lesion-level"].tpr, color="black", label="ROC")
roc_ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
roc_ax.legend(loc="lower right", fontsize="small")

metrics = ["accuracy", "recall", "specificity", "roc_auc"]
for offset, (summary, colour, name) in enumerate(
    ((lesion, "tab:orange", "lesions resampled"), (patient, "tab:blue", "patients resampled"))
):
    table = summary.to_frame().loc[metrics]
    positions = np.arange(len(metrics)) + 0.15 * (offset - 0.5)
    ci_ax.errorbar(table["value"], positions, color=colour, fmt="o", capsize=4, label=name,
                   xerr=[table["value"] - table["ci_low"], table["ci_high"] - table["value"]])  # fmt: skip
ci_ax.set_yticks(np.arange(len(metrics)), metrics)
ci_ax.set_ylim(-1.0, len(metrics) - 0.5)  # room for the legend below the rows
ci_ax.set(xlabel="value with 95% CI", title="Same study, two intervals")
ci_ax.legend(loc="lower left", fontsize="small")
plt.show()

# %%
# Comparing two models on the same lesions
# ----------------------------------------
# DeLong's paired test treats lesions as independent; with ``groups`` the variance is
# Obuchowski's clustered one.
print(compare_auc(y, score_a, score_b, names=("model A", "model B")))
print()
print(compare_auc(y, score_a, score_b, groups=patients, names=("model A", "model B")))

# %%
# How often does each interval cover the truth?
# ---------------------------------------------
# Repeat the study 60 times. The true AUC of model A is its AUC on a study of 200,000
# patients. Resampling lesions pretends to know more than the data say, and its
# interval misses the truth far more often than the 5% it promises.
truth_y, truth_score, _, _ = make_study(seed=12345, n_patients=200_000)
true_auc = roc_auc_score(truth_y, truth_score)
covered = {"lesions resampled": 0, "patients resampled": 0}
n_studies = 60
for seed in range(1, n_studies + 1):
    y_s, a_s, _, groups_s = make_study(seed)
    pred_s = (a_s > 0.6).astype(int)
    for name, groups in (("lesions resampled", None), ("patients resampled", groups_s)):
        row = classification_summary(y_s, pred_s, y_score=a_s, groups=groups, n_bootstraps=300,
                                     random_state=seed).to_frame().loc["roc_auc"]  # fmt: skip
        covered[name] += row["ci_low"] <= true_auc <= row["ci_high"]
for name, count in covered.items():
    print(f"{name}: the 95% interval covered the true AUC ({true_auc:.3f}) in "
          f"{count} of {n_studies} studies ({count / n_studies:.0%})")  # fmt: skip
