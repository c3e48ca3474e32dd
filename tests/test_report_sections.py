"""Each section of study_report against the public function it calls, on the same inputs."""

from __future__ import annotations

import json
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from pitfalls.audit import audit
from pitfalls.datasets import make_multisite_cohort
from pitfalls.exceptions import MetricWarning
from pitfalls.experiments import LeakageGapResult
from pitfalls.metrics import calibration_summary, classification_summary, compare_runs, curve_bands
from pitfalls.report import study_report
from pitfalls.report._findings import REPORT_CHECKS
from pitfalls.report._sections._subgroups import cochran_q

matplotlib.use("Agg")

N_BOOT = 100
KW = dict(group="patient", split="split", label="label", sample_id="image", n_bootstraps=N_BOOT)


def _study(n_patients=160, seed=0):
    """A multi-site cohort split by patient, site D held out, scored by a logistic model."""
    df = make_multisite_cohort(n_patients, random_state=seed)
    rng = np.random.default_rng(seed)
    patients = df["patient"].unique()
    roles = rng.choice(["train", "val", "test"], size=len(patients), p=[0.5, 0.1, 0.4])
    df["split"] = df["patient"].map(dict(zip(patients, roles, strict=True)))
    df.loc[df["site"] == "D", "split"] = "external"
    df["sex"] = df["patient"].map(
        dict(zip(patients, rng.choice(["F", "M"], len(patients)), strict=True))
    )
    df["image"] = [f"img{k:04d}" for k in range(len(df))]
    features = [c for c in df.columns if c.startswith("feature_")]
    train = df["split"] == "train"
    model = LogisticRegression(max_iter=2000).fit(df.loc[train, features], df.loc[train, "label"])
    predictions = pd.DataFrame(
        {"image": df["image"], "prob": model.predict_proba(df[features])[:, 1]}
    )
    return df.drop(columns=features), predictions


@pytest.fixture(scope="module")
def study():
    df, predictions = _study()
    report = study_report(
        df, site="site", predictions=predictions, score="prob", subgroups=["sex"], **KW
    )
    return df, predictions, report


def _rows(df, predictions, split):
    joined = df.merge(predictions, on="image")
    part = joined[joined["split"] == split]
    y = part["label"].astype(str).to_numpy()
    prob = part["prob"].to_numpy()
    return y, prob, np.where(prob >= 0.5, "1", "0"), part["patient"].to_numpy()


def _summary(y, pred, prob, groups, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        return classification_summary(
            y,
            pred,
            y_score=prob,
            groups=groups,
            pos_label="1",
            n_bootstraps=N_BOOT,
            random_state=0,
            **kwargs,
        )


# --- cohort -----------------------------------------------------------------------------


def test_cohort_counts_equal_pandas_groupby(study):
    df, _, report = study
    data = report.sections["cohort"].data
    assert data["n_samples"] == len(df)
    assert data["n_patients"] == df["patient"].nunique()
    assert data["n_sites"] == df["site"].nunique()
    by_split = {entry["split"]: entry for entry in data["splits"]}
    assert [e["split"] for e in data["splits"]] == ["train", "val", "test", "external"]
    assert by_split["external"]["role"] == "external" and by_split["test"]["role"] == "test"
    for split, part in df.groupby("split"):
        entry = by_split[split]
        assert entry["samples"] == len(part)
        assert entry["patients"] == part["patient"].nunique()
        classes = part.groupby(part["label"].astype(str))["patient"].nunique().to_dict()
        assert entry["classes"] == {label: classes.get(label, 0) for label in ("0", "1")}
        assert entry["sites"] == part["site"].value_counts().sort_index().to_dict()
    assert data["label_counts"] == df["label"].astype(str).value_counts().sort_index().to_dict()
    assert data["patients_in_several_splits"] == []
    assert data["missing"] == {
        c: 0 for c in ("patient", "split", "label", "site", "image", "sex", "prob")
    }
    json.dumps(data)


def test_cohort_names_patients_in_several_splits_and_missing_values():
    df, predictions = _study(80)
    crossing = df["patient"].iloc[0]
    first = df.index[df["patient"] == crossing][0]
    df.loc[first, "split"] = "val" if df.loc[first, "split"] != "val" else "train"
    df.loc[df.index[-1], "sex"] = None
    report = study_report(df, predictions=predictions, score="prob", subgroups=["sex"], **KW)
    section = report.sections["cohort"]
    several = df.groupby("patient")["split"].nunique()
    assert section.data["patients_in_several_splits"] == list(several[several > 1].index)
    assert section.status == "failed"
    assert section.data["missing"]["sex"] == 1
    # the audit reports the crossing patient (PF101); the report does not repeat it
    codes = [f.code for f in report.finding_objects]
    assert codes.count("PF101") == 1


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_cohort_count_invariants(data):
    n = data.draw(st.integers(2, 40))
    patients = data.draw(
        st.lists(st.sampled_from(["007", "7", "a", "b", "c"]), min_size=n, max_size=n)
    )
    splits = data.draw(st.lists(st.sampled_from(["train", "val", "test"]), min_size=n, max_size=n))
    labels = data.draw(st.lists(st.sampled_from(["x", "y"]), min_size=n, max_size=n))
    labels[:2] = ["x", "y"]  # binary
    df = pd.DataFrame({"patient": patients, "split": splits, "y": labels})
    cohort = study_report(df, group="patient", split="split", label="y").sections["cohort"].data
    per_split = cohort["splits"]
    assert sum(e["samples"] for e in per_split) == n
    assert cohort["n_patients"] == df["patient"].nunique()
    several = cohort["patients_in_several_splits"]
    in_splits = sum(e["patients"] for e in per_split)
    assert in_splits >= cohort["n_patients"]
    assert (in_splits == cohort["n_patients"]) == (not several)
    assert set(several) == {p for p, s in df.groupby("patient")["split"].nunique().items() if s > 1}
    for entry in per_split:
        assert max(entry["classes"].values()) <= entry["patients"] <= sum(entry["classes"].values())
        assert entry["patients"] == df.loc[df["split"] == entry["split"], "patient"].nunique()
    assert sum(cohort["label_counts"].values()) == n


# --- audit ------------------------------------------------------------------------------


def test_audit_section_equals_audit(study):
    df, _, report = study
    expected = audit(
        df,
        group="patient",
        split="split",
        label="label",
        site="site",
        id="image",
        test_splits=["test", "external"],
    )
    data = report.sections["audit"].data
    assert data["passed"] == expected.passed
    assert data["n_findings"] == len(expected.findings)
    assert data["codes"] == dict(
        zip(expected.findings["code"], expected.findings["severity"], strict=True)
    )
    audit_codes = [f.code for f in report.finding_objects if not f.code.startswith("PF4")]
    assert audit_codes == expected.findings["code"].tolist()


# --- performance and curves -------------------------------------------------------------


def test_performance_equals_classification_summary(study):
    df, predictions, report = study
    data = report.sections["performance"].data
    assert data["unit"] == "patient" and data["pos_label"] == "1"
    assert data["evaluation_splits"] == ["test", "external"]
    assert data["n_bootstraps"] == N_BOOT and data["confidence"] == 0.95
    for split in ("test", "external"):
        y, prob, pred, groups = _rows(df, predictions, split)
        expected = _summary(y, pred, prob, groups)
        got = data["splits"][split]
        assert got["samples"] == len(y) and got["patients"] == len(set(groups))
        table = expected.to_frame()
        assert list(got["metrics"]) == list(table.index)
        for metric, row in table.iterrows():
            entry = got["metrics"][metric]
            expected_row = [None if np.isnan(v) else pytest.approx(v, rel=1e-12) for v in row]
            assert [entry[k] for k in ("value", "low", "high", "majority", "stratified")] == (
                expected_row
            )


def test_intervals_are_patient_level(study):
    df, predictions, report = study
    y, prob, pred, groups = _rows(df, predictions, "test")
    assert len(set(groups)) < len(groups)  # several exams per patient
    by_sample = _summary(y, pred, prob, None).to_frame()
    entry = report.sections["performance"].data["splits"]["test"]["metrics"]["roc_auc"]
    assert (entry["low"], entry["high"]) != pytest.approx(
        (by_sample.loc["roc_auc", "ci_low"], by_sample.loc["roc_auc", "ci_high"])
    )


def test_curves_equal_the_summary_and_bands_come_from_curve_bands(study):
    df, predictions, report = study
    section = report.sections["curves"]
    y, prob, pred, groups = _rows(df, predictions, "test")
    table = _summary(y, pred, prob, groups).to_frame()
    for metric in ("roc_auc", "average_precision"):
        entry = section.data["splits"]["test"][metric]
        expected = table.loc[metric, ["value", "ci_low", "ci_high"]].tolist()
        assert [entry["value"], entry["low"], entry["high"]] == pytest.approx(expected)
    bands = curve_bands(y, prob, groups=groups, pos_label="1", n_bootstraps=N_BOOT, random_state=0)
    auc = bands.table.loc["roc_auc"]
    figure = next(f for f in section.figures if f.key == "curves_test").draw()
    roc_axes = figure.axes[0]
    labels = roc_axes.get_legend_handles_labels()[1]
    assert f"AUC {auc['value']:.3f} [{auc['ci_low']:.3f}, {auc['ci_high']:.3f}]" in labels
    assert "95% patient-level band" in labels


# --- calibration ------------------------------------------------------------------------


def test_calibration_equals_calibration_summary(study):
    df, predictions, report = study
    data = report.sections["calibration"].data
    for split in ("test", "external"):
        y, prob, _, groups = _rows(df, predictions, split)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            expected = calibration_summary(
                y,
                prob,
                groups=groups,
                pos_label="1",
                n_bins=10,
                n_bootstraps=N_BOOT,
                random_state=0,
            )
        table = expected.to_frame()
        got = data["splits"][split]
        assert got["n_bins"] == 10
        assert got["brier"] == pytest.approx(expected.brier, rel=1e-12)
        assert got["ece"] == pytest.approx(expected.ece, rel=1e-12)
        for name in ("slope", "intercept"):
            assert [got[name], got[f"{name}_low"], got[f"{name}_high"]] == pytest.approx(
                table.loc[name, ["value", "ci_low", "ci_high"]].tolist(), rel=1e-9
            )


def test_calibration_not_available_without_probabilities():
    df, predictions = _study(80)
    predictions["label_hat"] = np.where(predictions["prob"] >= 0.5, 1, 0)
    labels_only = study_report(df, predictions=predictions, prediction="label_hat", **KW)
    for key in ("curves", "calibration"):
        assert labels_only.sections[key].status == "not_available"
    predictions["logit"] = logit(predictions["prob"])
    decision = study_report(df, predictions=predictions, score="logit", **KW)
    assert decision.sections["calibration"].status == "not_available"
    assert "not probabilities" in decision.sections["calibration"].text[0]
    assert decision.sections["curves"].status != "not_available"


# --- subgroups --------------------------------------------------------------------------


def test_subgroups_equal_per_level_summaries_and_cochran_q(study):
    df, predictions, report = study
    data = report.sections["subgroups"].data
    assert list(data["columns"]) == ["site", "sex"]
    joined = df.merge(predictions, on="image")
    evaluated = joined[joined["split"].isin(["test", "external"])]
    z = stats.norm.ppf(0.975)
    for column in ("site", "sex"):
        entry = data["columns"][column]
        assert entry["metric"] == "roc_auc"
        values, errors = [], []
        for level, part in evaluated.groupby(column):
            y = part["label"].astype(str).to_numpy()
            prob = part["prob"].to_numpy()
            expected = _summary(y, np.where(prob >= 0.5, "1", "0"), prob, part["patient"])
            row = expected.to_frame().loc["roc_auc"]
            got = entry["levels"][level]
            assert got["samples"] == len(part) and got["patients"] == part["patient"].nunique()
            assert [got["value"], got["low"], got["high"]] == pytest.approx(
                [row["value"], row["ci_low"], row["ci_high"]]
            )
            values.append(row["value"])
            errors.append((row["ci_high"] - row["ci_low"]) / (2 * z))
        weights = 1 / np.square(errors)
        pooled = np.sum(weights * values) / np.sum(weights)
        q = np.sum(weights * (np.asarray(values) - pooled) ** 2)
        assert entry["test"]["name"] == "Cochran's Q"
        assert entry["test"]["statistic"] == pytest.approx(q)
        assert entry["test"]["df"] == len(values) - 1
        assert entry["test"]["pvalue"] == pytest.approx(stats.chi2.sf(q, len(values) - 1))


def test_cochran_q_textbook_values():
    test = cochran_q([0.7, 0.9], [0.05, 0.05])
    assert test["statistic"] == pytest.approx(8.0)
    assert test["pooled"] == pytest.approx(0.8)
    assert test["pvalue"] == pytest.approx(stats.chi2.sf(8.0, 1))
    assert cochran_q([0.7, None], [0.05, 0.05])["statistic"] is None


# --- findings on data built to trigger them --------------------------------------------


def _scored(n_patients=300, seed=1, signal=2.0, slope=1.0, split_of=None):
    """One exam or two per patient; score = expit(slope * (signal * y - signal / 2 + noise))."""
    rng = np.random.default_rng(seed)
    patient = np.repeat(np.arange(n_patients), rng.integers(1, 3, n_patients))
    y = (rng.random(n_patients) < 0.4).astype(int)[patient]
    eta = signal * y - signal / 2 + rng.normal(size=patient.size)
    df = pd.DataFrame(
        {
            "image": [f"i{k}" for k in range(patient.size)],
            "patient": [f"p{p:03d}" for p in patient],
            "split": split_of(patient) if split_of else np.where(patient % 2, "test", "train"),
            "label": y,
            "prob": expit(slope * eta),
        }
    )
    return df


def _codes(report):
    return {f.code: f.severity for f in report.finding_objects if f.code.startswith("PF4")}


def test_baseline_findings_fire_on_a_model_without_skill_and_not_on_a_good_one():
    good = study_report(_scored(), score="prob", **KW)
    assert "PF401" not in _codes(good)
    assert good.sections["performance"].data["splits"]["test"]["beats_baselines"]
    noise = _scored(signal=0.0)
    bad = study_report(noise, score="prob", **KW)
    assert _codes(bad)["PF401"] in ("high", "medium")
    assert not bad.sections["performance"].data["splits"]["test"]["beats_baselines"]
    threshold = study_report(_scored(), score="prob", threshold=0.999, **KW)
    assert _codes(threshold).get("PF402") in ("medium", "low")
    assert "PF401" not in _codes(threshold)


def test_accuracy_below_majority_fires_on_imbalanced_labels():
    df = _scored(signal=0.0)
    df["label"] = np.where(np.arange(len(df)) % 10 == 0, 1, 0)
    df.loc[df["split"] == "test", "prob"] = 0.9  # always predicts the minority class
    report = study_report(df, score="prob", **KW)
    assert "PF403" in _codes(report)


def test_miscalibration_fires_on_too_extreme_scores_only():
    df = _scored(signal=2.0, slope=3.0)
    assert "PF404" in _codes(study_report(df, score="prob", **KW))
    calibrated = _scored(n_patients=600, signal=2.0)
    rng = np.random.default_rng(3)
    calibrated["label"] = (rng.random(len(calibrated)) < calibrated["prob"]).astype(int)
    report = study_report(calibrated, score="prob", **KW)
    assert "PF404" not in _codes(report)
    slope = report.sections["calibration"].data["splits"]["test"]
    assert slope["slope_low"] <= 1.0 <= slope["slope_high"]


def test_heterogeneity_fires_when_one_level_has_no_signal():
    df = _scored(n_patients=600)
    rng = np.random.default_rng(5)
    df["site"] = np.where(df["patient"].str[1:].astype(int) // 2 % 2 == 0, "A", "B")
    df["scanner"] = df["site"]
    site_b = df["site"] == "B"
    df.loc[site_b, "prob"] = rng.random(site_b.sum())  # no skill at site B
    report = study_report(df, site="site", subgroups=["scanner"], score="prob", **KW)
    codes = _codes(report)
    assert codes["PF406"] == "medium" and codes["PF405"] == "medium"
    assert report.sections["subgroups"].status == "attention"
    clean = _scored(n_patients=600)
    clean["site"] = np.where(clean["patient"].str[1:].astype(int) // 2 % 2 == 0, "A", "B")
    assert "PF406" not in _codes(study_report(clean, site="site", score="prob", **KW))


def test_external_gap_fires_when_the_external_split_is_worse():
    def split_of(patient):
        return np.select([patient % 3 == 0, patient % 3 == 1], ["train", "test"], "external")

    df = _scored(n_patients=600, split_of=split_of)
    external = df["split"] == "external"
    df.loc[external, "prob"] = np.random.default_rng(2).random(external.sum())
    report = study_report(df, score="prob", **KW)
    data = report.sections["external"].data
    assert data["source"] == "splits"
    performance = report.sections["performance"].data["splits"]
    assert data["internal"]["value"] == performance["test"]["metrics"]["roc_auc"]["value"]
    assert data["external"][0]["value"] == performance["external"]["metrics"]["roc_auc"]["value"]
    assert data["gap"] == pytest.approx(data["internal"]["value"] - data["external"][0]["value"])
    assert _codes(report)["PF407"] == "medium"
    same = study_report(_scored(n_patients=600, split_of=split_of), score="prob", **KW)
    assert "PF407" not in _codes(same)


def _gap_result(pitfall, leaky, correct, site_scores=None):
    leaky, correct = np.asarray(leaky, float), np.asarray(correct, float)
    return LeakageGapResult(
        pitfall,
        ["roc_auc"],
        {"roc_auc": leaky},
        {"roc_auc": correct},
        compare_runs(leaky, correct),
        site_scores=site_scores,
    )


def test_leakage_section_equals_the_results_attributes():
    rng = np.random.default_rng(0)
    results = [
        _gap_result("oversampling", 0.9 + 0.01 * rng.random(10), 0.7 + 0.01 * rng.random(10)),
        _gap_result("feature_selection", 0.7 + 0.01 * rng.random(10), 0.7 + 0.01 * rng.random(10)),
    ]
    report = study_report(_scored(), score="prob", leakage=results, **KW)
    entries = report.sections["leakage"].data["results"]
    for entry, result in zip(entries, results, strict=True):
        assert entry == {
            "pitfall": result.pitfall,
            "metric": "roc_auc",
            "leaky_mean": pytest.approx(np.mean(result.leaky_scores)),
            "correct_mean": pytest.approx(np.mean(result.correct_scores)),
            "inflation": pytest.approx(result.inflation),
            "pvalue": pytest.approx(result.pvalue),
            "n_repeats": 10,
        }
    inflated = [f for f in report.finding_objects if f.code == "PF408"]
    assert [f.examples for f in inflated] == [["oversampling"]]
    assert inflated[0].severity == "info" and inflated[0].checklist == (1,)


def test_external_from_a_site_leakage_gap_result():
    sites = pd.DataFrame(
        {
            "repeat": np.repeat(np.arange(5), 2),
            "site": ["A", "B"] * 5,
            "roc_auc": [0.6, 0.7, 0.62, 0.68, 0.61, 0.7, 0.6, 0.69, 0.63, 0.71],
        }
    )
    correct = sites.groupby("repeat")["roc_auc"].mean().to_numpy()
    result = _gap_result("site", [0.85, 0.86, 0.84, 0.87, 0.85], correct, site_scores=sites)
    report = study_report(_scored(), score="prob", leakage=result, **KW)
    data = report.sections["external"].data
    assert data["source"] == "leakage_gap"
    assert data["internal"]["value"] == pytest.approx(0.854)
    assert [e["split"] for e in data["external"]] == ["site A held out", "site B held out"]
    assert data["external"][0]["value"] == pytest.approx(0.612)
    assert data["gap"] == pytest.approx(result.inflation)
    assert ("PF407" in _codes(report)) == (result.pvalue < 0.05)


# --- figures and registry ---------------------------------------------------------------


def test_every_figure_draws_a_new_matplotlib_figure(study):
    from matplotlib.figure import Figure

    _, _, report = study
    keys = {key: [f.key for f in s.figures] for key, s in report.sections.items()}
    assert keys["cohort"] == ["classes", "sites"]
    assert keys["subgroups"] == ["forest_site", "forest_sex"]
    for section in report.sections.values():
        for figure in section.figures:
            first, second = figure.draw(), figure.draw()
            assert isinstance(first, Figure) and first is not second


def test_every_report_code_is_registered_and_documented():
    from pitfalls.report import _findings

    for code, check in REPORT_CHECKS.items():
        assert code.startswith("PF4") and check.code == code
        assert f"{code}   {check.name}" in _findings.__doc__
        assert check.severity in ("high", "medium", "low", "info")


def test_an_evaluation_split_with_one_class_is_reported_without_failing():
    def split_of(patient):
        return np.select([patient % 3 == 0, patient % 3 == 1], ["train", "test"], "external")

    df = _scored(n_patients=300, split_of=split_of)
    df.loc[df["split"] == "external", "label"] = 1  # e.g. a referral site of patients only
    report = study_report(df, score="prob", site="split", **KW)
    external = report.sections["performance"].data["splits"]["external"]
    assert external["metrics"]["roc_auc"]["value"] is None
    assert not external["beats_baselines"]
    assert not {"PF401", "PF402"} & set(_codes(report))
    assert [f.key for f in report.sections["curves"].figures] == ["curves_test"]
    calibration = report.sections["calibration"].data["splits"]["external"]
    assert calibration["slope"] is None and calibration["brier"] is None
    assert (
        report.sections["subgroups"].data["columns"]["split"]["levels"]["external"]["value"] is None
    )
    assert report.sections["external"].data["gap"] is None


def test_several_internal_test_splits_are_pooled_against_the_external_one():
    def split_of(patient):
        names = np.array(["train", "test_a", "test_b", "external"])
        return names[patient % 4]

    df = _scored(n_patients=400, split_of=split_of)
    report = study_report(
        df, score="prob", evaluation_splits=["test_a", "test_b", "external"], **KW
    )
    internal = report.sections["external"].data["internal"]
    assert internal["split"] == "test_a+test_b"
    pooled = df[df["split"].isin(["test_a", "test_b"])]
    prob = pooled["prob"].to_numpy()
    expected = (
        _summary(
            pooled["label"].astype(str).to_numpy(),
            np.where(prob >= 0.5, "1", "0"),
            prob,
            pooled["patient"].to_numpy(),
        )
        .to_frame()
        .loc["roc_auc"]
    )
    assert [internal["value"], internal["low"], internal["high"]] == pytest.approx(
        [expected["value"], expected["ci_low"], expected["ci_high"]]
    )
