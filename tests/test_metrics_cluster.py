"""Patient-level (cluster) bootstrap of classification_summary, aggregate_by_group, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import aggregate_by_group, classification_summary
from pitfalls.metrics._cluster import (
    cluster_bootstrap,
    plan_patients,
    ranking_column,
    replicate_chunks,
)
from pitfalls.metrics._rankboot import bin_cumulative, bin_sums, metrics_from_cumulative


def _lesion_data(n_patients=150, seed=0, mixed=0):
    """Patients with 1-4 lesions, one label per patient, a strong patient effect."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, n_patients)
    patient_y = (rng.random(n_patients) < 0.4).astype(int)
    groups = np.repeat([f"{i:03d}" for i in range(n_patients)], sizes)
    y = np.repeat(patient_y, sizes)
    if mixed:  # the first lesion of the first `mixed` multi-lesion patients flips
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        flip = starts[sizes > 1][:mixed]
        y[flip] = 1 - y[flip]
    effect = np.repeat(rng.normal(0, 1.0, n_patients), sizes)
    score = 0.9 * y + effect + rng.normal(0, 0.5, len(y))
    pred = (score > 0.6).astype(int)
    return y, pred, np.round(score, 2), groups


def _loop_patient_bootstrap(y, pred, score, groups, n_boot, seed):
    """Reference: draw patients with replacement within the patient's class; sklearn metrics."""
    rng = np.random.default_rng(seed)
    patients = pd.Series(np.arange(len(y))).groupby(groups, sort=False).apply(np.asarray)
    patient_class = (
        pd.Series(y)
        .groupby(groups, sort=False)
        .agg(lambda v: v.iloc[0] if (v == v.iloc[0]).all() else -1)
    )
    strata = [patients[patient_class == c].tolist() for c in np.unique(patient_class)]
    acc, auc = [], []
    for _ in range(n_boot):
        drawn = [s[i] for s in strata for i in rng.integers(0, len(s), len(s))]
        idx = np.concatenate(drawn)
        acc.append(skm.accuracy_score(y[idx], pred[idx]))
        auc.append(skm.roc_auc_score(y[idx], score[idx]))
    return np.quantile(acc, [0.025, 0.975]), np.quantile(auc, [0.025, 0.975])


def test_patient_level_intervals_agree_with_plain_patient_resampling_loop():
    y, pred, score, groups = _lesion_data(seed=1)
    ours = classification_summary(
        y, pred, y_score=score, groups=groups, n_bootstraps=2000, random_state=0
    ).to_frame()
    acc_ref, auc_ref = _loop_patient_bootstrap(y, pred, score, groups, 800, seed=1)
    np.testing.assert_allclose(ours.loc["accuracy", ["ci_low", "ci_high"]], acc_ref, atol=0.015)
    np.testing.assert_allclose(ours.loc["roc_auc", ["ci_low", "ci_high"]], auc_ref, atol=0.015)


def test_patient_copies_give_the_interval_of_one_sample_per_patient():
    # every patient's images are 4 identical copies: the honest interval is that of the
    # 150 patients, twice as wide as the naive one on 600 "independent" images
    y, pred, score, _ = _lesion_data(seed=2)
    first = np.r_[True, np.diff(np.arange(len(y))) > 0][: len(y)]
    y1, pred1, score1 = y[first][:150], pred[first][:150], score[first][:150]
    copies = np.repeat(np.arange(150), 4)
    kwargs = {"n_bootstraps": 3000, "random_state": 0}
    naive = classification_summary(y1[copies], pred1[copies], y_score=score1[copies], **kwargs)
    patient = classification_summary(
        y1[copies], pred1[copies], y_score=score1[copies], groups=copies, **kwargs
    )
    unique = classification_summary(y1, pred1, y_score=score1, **kwargs)
    for metric in ("accuracy", "recall", "roc_auc"):
        width = {
            name: s.to_frame().loc[metric, "ci_high"] - s.to_frame().loc[metric, "ci_low"]
            for name, s in (("naive", naive), ("patient", patient), ("unique", unique))
        }
        assert width["patient"] == pytest.approx(width["unique"], rel=0.15)
        assert width["patient"] == pytest.approx(2 * width["naive"], rel=0.2)
    # point values do not depend on the unit of resampling
    pd.testing.assert_series_equal(naive.to_frame()["value"], patient.to_frame()["value"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 7), st.booleans(), st.integers(0, 4), st.booleans()),
        min_size=4,
        max_size=60,
    ),
    st.integers(0, 2**31),
)
def test_each_replicate_equals_sklearn_with_patient_weights(rows, seed):
    groups = np.array([r[0] for r in rows])
    y = np.array([int(r[1]) for r in rows])
    score = np.array([r[2] for r in rows], dtype=float)
    pred = np.array([int(r[3]) for r in rows])
    if len(np.unique(y)) < 2:
        y[0] = 1 - y[0]
    plan = plan_patients(groups, y, n_samples=len(y))
    weights = next(replicate_chunks(plan, 5, np.random.default_rng(seed)))
    # resampling keeps the number of patients of each class
    for stratum in plan.strata:
        assert (weights[:, stratum].sum(axis=1) == len(stratum)).all()
    column = ranking_column(score, y == 1, plan.codes)
    pos = bin_sums(weights, column.pos_columns, column.pos_starts)
    cneg = bin_cumulative(weights, column.neg_columns, column.neg_starts)
    auc, ap = metrics_from_cumulative(pos, cneg, column.layout)
    per_patient = np.zeros((plan.n_patients, 2, 2))
    np.add.at(per_patient, (plan.codes, y, pred), 1.0)
    confusions = cluster_bootstrap(plan, per_patient, [], 0, np.random.default_rng(0)).confusions
    assert confusions.shape == (0, 2, 2)
    for r in range(len(weights)):
        sample_weight = weights[r, plan.codes]
        expected = skm.confusion_matrix(y, pred, labels=[0, 1], sample_weight=sample_weight)
        np.testing.assert_allclose(weights[r] @ per_patient.reshape(-1, 4), expected.ravel())
        kept = sample_weight > 0
        if len(np.unique(y[kept])) == 2:
            assert auc[r] == pytest.approx(skm.roc_auc_score(y, score, sample_weight=sample_weight))
            assert ap[r] == pytest.approx(
                skm.average_precision_score(y, score, sample_weight=sample_weight)
            )


def test_patients_with_both_classes_form_their_own_stratum():
    y, pred, score, groups = _lesion_data(seed=3, mixed=12)
    plan = plan_patients(groups, y, n_samples=len(y))
    assert plan.stratum_names == ("class 0", "class 1", "several classes")
    assert plan.n_mixed == 12
    s = classification_summary(y, pred, y_score=score, groups=groups, random_state=0)
    assert s.mixed_groups == 12
    assert "12 patients with several classes resampled as their own stratum" in s.to_text()


def test_text_says_patient_level_and_counts_patients():
    y, pred, score, groups = _lesion_data()
    s = classification_summary(y, pred, y_score=score, groups=groups, random_state=0)
    first, second = s.to_text().splitlines()[:2]
    assert first.startswith(f"Classification summary: {len(y)} samples from 150 patients (")
    assert second == (
        "95% CI: percentile, 1000 patient-level bootstrap replicates, 150 patients "
        "(resampled within the patient's class)"
    )
    assert (s.n_groups, s.unit) == (150, "patient")
    again = classification_summary(y, pred, y_score=score, groups=groups, random_state=0)
    pd.testing.assert_frame_equal(s.to_frame(), again.to_frame())


def test_patient_ids_are_text_not_numbers():
    y, pred = np.array([0, 1, 0, 1]), np.array([0, 1, 1, 1])
    # "007" and 7 are two patients; as text "007" and "7" are two as well
    s = classification_summary(y, pred, groups=np.array(["007", 7, "7", 7], dtype=object))
    assert s.n_groups == 3


def test_multiclass_with_groups_resamples_every_score_column():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(90), 3)
    y = np.repeat(rng.choice(3, 90), 3)
    proba = rng.dirichlet([1, 1, 1], len(y))
    proba[np.arange(len(y)), y] += 0.3
    pred = proba.argmax(axis=1)
    s = classification_summary(y, pred, y_score=proba, groups=groups, random_state=0)
    frame = s.to_frame()
    assert frame.loc["roc_auc", "value"] == pytest.approx(
        skm.roc_auc_score(y, proba / proba.sum(axis=1, keepdims=True), multi_class="ovr")
    )
    assert (
        frame.loc["roc_auc", "ci_low"]
        < frame.loc["roc_auc", "value"]
        < frame.loc["roc_auc", "ci_high"]
    )
    assert frame.loc["recall[2]", "ci_low"] < frame.loc["recall[2]", "ci_high"]


def test_stratified_baseline_never_prints_negative_zero():
    # class counts 1, 1, 3: the expected random confusion's MCC came out as -1.3e-16
    s = classification_summary([0, 1, 2, 2, 2], [0, 1, 2, 2, 1], n_bootstraps=0)
    assert s.to_frame().loc["mcc", "stratified"] == 0.0
    assert "-0.000" not in s.to_text()
    assert "-0.000" not in s.to_markdown()


# ----------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"y_pred": [0.2, 0.9, 0.6, 0.7]},
            r"y_pred holds continuous values \(0.2, 0.9, 0.6\), not class labels; threshold the "
            r"scores \(y_pred = \(scores >= 0.5\).astype\(int\)\) and pass the scores",
        ),
        (
            {"y_true": [0, 1, "1", 0]},
            r"y_true has labels of mixed types \(number 0, text '1'\); use one type for every label",
        ),
        (
            {"y_pred": ["0", "1", "1", "1"]},
            r"y_true holds numbers \(0, 1\) but y_pred holds text \('0', '1'\); encode both the same way",
        ),
        ({"groups": ["a", "b"]}, r"groups has 2 entries but y_true has 4 samples"),
        ({"groups": ["a", None, "b", "b"]}, r"groups has 1 missing value\(s\) \(at positions 1\)"),
    ],
)
def test_bad_inputs_name_argument_value_and_fix(kwargs, match):
    args = {"y_true": [0, 1, 0, 1], "y_pred": [0, 1, 1, 1], "n_bootstraps": 0, **kwargs}
    y_true, y_pred = args.pop("y_true"), args.pop("y_pred")
    with pytest.raises(ValueError, match=match):
        classification_summary(y_true, y_pred, **args)


def test_integer_valued_float_predictions_are_labels():
    s = classification_summary([0, 1, 0, 1], np.array([0.0, 1.0, 1.0, 1.0]), n_bootstraps=0)
    assert s["recall"] == 1.0


def test_mixed_types_in_a_pandas_series_are_refused():
    with pytest.raises(ValueError, match=r"y_true has labels of mixed types"):
        classification_summary(pd.Series([0, "1", 1], dtype=object), [0, 1, 1])


# ----------------------------------------------------------------------- aggregate
def test_aggregate_rules_against_groupby():
    y, _, score, groups = _lesion_data(n_patients=40)
    prob = 1 / (1 + np.exp(-score))
    frame = pd.DataFrame({"g": groups, "y": y, "p": prob})
    mean = aggregate_by_group(y, prob, groups)
    assert mean.index.tolist() == list(dict.fromkeys(groups))
    np.testing.assert_allclose(mean["y_score"], frame.groupby("g", sort=False)["p"].mean())
    np.testing.assert_array_equal(mean["n_samples"], frame.groupby("g", sort=False).size())
    np.testing.assert_array_equal(mean["y_true"], frame.groupby("g", sort=False)["y"].first())
    high = aggregate_by_group(y, prob, groups, how="max")
    np.testing.assert_allclose(high["y_score"], frame.groupby("g", sort=False)["p"].max())
    vote = aggregate_by_group(y, prob, groups, how="vote", threshold=0.6)
    share = frame.assign(v=frame["p"] >= 0.6).groupby("g", sort=False)["v"].mean()
    np.testing.assert_allclose(vote["y_score"], share)
    # one row per patient: patient-level metrics are ordinary metrics on it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)  # a weak model on 40 patients
        s = classification_summary(mean["y_true"], mean["y_score"] >= 0.5, y_score=mean["y_score"])
    assert s.n_samples == 40
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(mean["y_true"], mean["y_score"]))


def test_aggregate_max_makes_a_patient_positive_when_any_lesion_is():
    y = ["benign", "malignant", "benign", "benign"]
    agg = aggregate_by_group(y, [0.2, 0.9, 0.1, 0.3], ["p1", "p1", "p2", "p2"], how="max",
                             pos_label="malignant")  # fmt: skip
    assert agg["y_true"].tolist() == ["malignant", "benign"]
    assert agg["y_score"].tolist() == [0.9, 0.3]


@pytest.mark.parametrize("how", ["mean", "vote"])
def test_aggregate_refuses_disagreeing_labels_under_rules_that_need_one(how):
    with pytest.raises(
        ValueError,
        match=r"y_true disagrees within 1 of 2 patients \(e.g. patient 'p1' has labels 0, 1\); "
        rf"how='{how}' gives one score per patient and needs one label per patient. Use how='max'",
    ):
        aggregate_by_group([0, 1, 0], [0.1, 0.8, 0.3], ["p1", "p1", "p2"], how=how)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"how": "median"}, r"how='median' is not a rule; use one of 'mean', 'max', 'vote'"),
        (
            {"y_score": [0.1, np.nan, 0.3]},
            r"y_score has 1 NaN or infinite value\(s\) \(at positions 1\)",
        ),
        ({"groups": ["a", "b"]}, r"groups has 2 entries but X has 3 samples"),
        (
            {"y_true": [0, 1, 2], "how": "max"},
            r"how='max' makes a patient positive when any sample is",
        ),
    ],
)
def test_aggregate_bad_inputs(kwargs, match):
    args = {"y_true": [0, 1, 1], "y_score": [0.1, 0.8, 0.3], "groups": ["a", "b", "b"], **kwargs}
    with pytest.raises(ValueError, match=match):
        aggregate_by_group(args.pop("y_true"), args.pop("y_score"), args.pop("groups"), **args)


def test_naive_baseline_summary_passes_through_classification_summary_warnings():
    # the summary's own warnings are unchanged by the refactor into phases
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classification_summary(
            [1] * 8 + [0] * 129, [0] * 137, groups=np.arange(137), random_state=0
        )
    assert sum(issubclass(w.category, MetricWarning) for w in caught) == 3


def test_naive_baseline_summary_resamples_patients_too():
    from pitfalls.baselines import naive_baseline_summary

    y, _, _, groups = _lesion_data()
    s = naive_baseline_summary(y, groups=groups, strategy="stratified", random_state=0)
    assert s.n_groups == 150
    assert "patient-level bootstrap replicates" in s.to_text()
