"""classification_summary: values equal scikit-learn's, bootstrap, baselines, warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.dummy import DummyClassifier

from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import ClassificationSummary, _rankboot, classification_summary
from pitfalls.metrics._rankboot import (
    class_sampler,
    column_layout,
    draw_class_counts,
    metrics_from_counts,
)
from pitfalls.metrics._summary import _bootstrap_confusions, ranking_metrics


def _binary_data(n=300, prevalence=0.3, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    score = np.round(0.4 * y + rng.random(n), 1)  # rounded: many ties
    return y, pred, score


def _multiclass_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
    proba = rng.dirichlet([1, 1, 1], n)
    proba[np.arange(n), y] += 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    return y, pred, proba


def test_binary_values_equal_sklearn():
    y, pred, score = _binary_data()
    s = classification_summary(y, pred, y_score=score, n_bootstraps=0)
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert s["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert s["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert s["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert s["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert s["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert s["average_precision"] == pytest.approx(skm.average_precision_score(y, score))
    assert s.pos_label == 1
    assert s.class_counts == {0: int(np.sum(y == 0)), 1: int(np.sum(y == 1))}


def test_binary_string_labels_and_two_column_scores():
    y, pred, score = _binary_data(seed=3)
    names = np.array(["benign", "malignant"])
    proba = np.column_stack([1 - score, score])
    s = classification_summary(
        names[y], names[pred], y_score=proba, pos_label="malignant", n_bootstraps=0
    )
    assert s["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert s.labels == ["benign", "malignant"]
    # the other class as positive swaps precision/recall roles
    s0 = classification_summary(names[y], names[pred], pos_label="benign", n_bootstraps=0)
    assert s0["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))


def test_multiclass_macro_and_per_class_equal_sklearn():
    y, pred, proba = _multiclass_data()
    s = classification_summary(y, pred, y_score=proba, n_bootstraps=0)
    assert s.pos_label is None
    for name, fn in [
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ]:
        assert s[name] == pytest.approx(fn(y, pred, average="macro"))
        per_class = fn(y, pred, average=None)
        for c in range(3):
            assert s[f"{name}[{c}]"] == pytest.approx(per_class[c])
    cm = skm.confusion_matrix(y, pred)
    for c in range(3):
        tn = cm.sum() - cm[c].sum() - cm[:, c].sum() + cm[c, c]
        assert s[f"specificity[{c}]"] == pytest.approx(tn / (tn + cm[:, c].sum() - cm[c, c]))
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert s["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert s["average_precision"] == pytest.approx(skm.average_precision_score(y, proba))


def test_labels_order_is_respected_for_string_classes():
    y, pred, proba = _multiclass_data(seed=2)
    names = np.array(["cyst", "benign", "malignant"])
    order = ["malignant", "cyst", "benign"]
    columns = [list(names).index(lab) for lab in order]
    s = classification_summary(
        names[y], names[pred], y_score=proba[:, columns], labels=order, n_bootstraps=0
    )
    assert s.labels == order
    assert list(s.class_counts) == order
    per_class = skm.recall_score(names[y], names[pred], labels=order, average=None)
    assert [s[f"recall[{lab}]"] for lab in order] == pytest.approx(per_class)
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))


def test_macro_skips_undefined_class_like_sklearn():
    y, pred = [0, 1, 2, 2], [0, 0, 2, 2]
    with pytest.warns(MetricWarning, match=r"precision of class 1 is undefined"):
        s = classification_summary(y, pred, n_bootstraps=0)
    ref = skm.precision_score(y, pred, average="macro", zero_division=np.nan)
    assert s["precision"] == pytest.approx(ref)
    assert np.isnan(s["precision[1]"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 4), st.integers(1, 3)), min_size=2),
)
def test_ranking_metrics_equal_sklearn_with_sample_weight(rows):
    y = np.array([r[0] for r in rows], dtype=int)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    score = np.array([r[1] for r in rows], dtype=float)
    weight = np.array([r[2] for r in rows], dtype=float)
    codes = np.unique(score, return_inverse=True)[1]
    pos = np.bincount(codes, weights=weight * y, minlength=codes.max() + 1)
    neg = np.bincount(codes, weights=weight * (1 - y), minlength=codes.max() + 1)
    auc, ap = ranking_metrics(pos, neg)
    assert auc == pytest.approx(skm.roc_auc_score(y, score, sample_weight=weight))
    assert ap == pytest.approx(skm.average_precision_score(y, score, sample_weight=weight))


def test_bootstrap_is_seeded_and_stratified():
    y, pred, score = _binary_data()
    a = classification_summary(y, pred, y_score=score, random_state=7).to_frame()
    b = classification_summary(y, pred, y_score=score, random_state=7).to_frame()
    c = classification_summary(y, pred, y_score=score, random_state=8).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not a[["ci_low", "ci_high"]].equals(c[["ci_low", "ci_high"]])
    assert (a["ci_low"] <= a["value"]).all()
    assert (a["value"] <= a["ci_high"]).all()
    confusion = np.array([[50.0, 10.0], [5.0, 15.0]])
    boot = _bootstrap_confusions(confusion, 200, np.random.default_rng(0))
    np.testing.assert_array_equal(boot.sum(axis=2), np.tile([60.0, 20.0], (200, 1)))
    np.testing.assert_allclose(boot.mean(axis=0), confusion, rtol=0.05)


def _loop_bootstrap(y, pred, score, n_boot, seed):
    """Reference: stratified index resampling, scikit-learn metric per replicate."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    acc, auc = [], []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(m, size=m.size) for m in by_class])
        acc.append(skm.accuracy_score(y[idx], pred[idx]))
        auc.append(skm.roc_auc_score(y[idx], score[idx]))
    return np.quantile(acc, [0.025, 0.975]), np.quantile(auc, [0.025, 0.975])


def test_bootstrap_intervals_agree_with_plain_resampling_loop():
    y, pred, score = _binary_data(n=400, seed=1)
    ours = classification_summary(y, pred, y_score=score, n_bootstraps=2000, random_state=0)
    acc_ref, auc_ref = _loop_bootstrap(y, pred, score, 600, seed=1)
    frame = ours.to_frame()
    np.testing.assert_allclose(frame.loc["accuracy", ["ci_low", "ci_high"]], acc_ref, atol=0.012)
    np.testing.assert_allclose(frame.loc["roc_auc", ["ci_low", "ci_high"]], auc_ref, atol=0.015)
    assert frame.loc["accuracy", "ci_high"] - frame.loc["accuracy", "ci_low"] > 0.03


def test_confidence_level_widens_interval():
    y, pred, _ = _binary_data()
    narrow = classification_summary(y, pred, confidence=0.5, random_state=0).to_frame()
    wide = classification_summary(y, pred, confidence=0.99, random_state=0).to_frame()
    assert (wide["ci_high"] - wide["ci_low"] >= narrow["ci_high"] - narrow["ci_low"]).all()


def test_multiclass_bootstrap_ranking_runs_over_chunks(monkeypatch):
    monkeypatch.setattr("pitfalls.metrics._rankboot._CHUNK_CELLS", 1000)  # force several chunks
    y, pred, proba = _multiclass_data(n=300)
    s = classification_summary(y, pred, y_score=proba, n_bootstraps=50, random_state=0)
    frame = s.to_frame()
    assert frame.loc["roc_auc", "ci_low"] < s["roc_auc"] < frame.loc["roc_auc", "ci_high"]


def test_majority_baseline_equals_dummy_classifier():
    y, pred, _ = _binary_data(prevalence=0.3)
    s = classification_summary(y, pred, n_bootstraps=0)
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y), 1)), y)
    base = dummy.predict(np.zeros((len(y), 1)))
    frame = s.to_frame()
    assert frame.loc["accuracy", "majority"] == pytest.approx(skm.accuracy_score(y, base))
    assert frame.loc["balanced_accuracy", "majority"] == 0.5
    assert frame.loc["recall", "majority"] == 0.0
    assert np.isnan(frame.loc["precision", "majority"])


@pytest.mark.filterwarnings("ignore::pitfalls.exceptions.MetricWarning")
def test_stratified_baseline_is_expected_value_of_random_guessing():
    y, pred, _ = _binary_data(n=500, prevalence=0.2, seed=4)
    frame = classification_summary(y, pred, n_bootstraps=0).to_frame()
    X = np.zeros((len(y), 1))
    sims = []
    for seed in range(200):
        guess = DummyClassifier(strategy="stratified", random_state=seed).fit(X, y).predict(X)
        sims.append([skm.accuracy_score(y, guess), skm.recall_score(y, guess)])
    sim_acc, sim_recall = np.mean(sims, axis=0)
    prevalence = y.mean()
    assert frame.loc["accuracy", "stratified"] == pytest.approx(
        prevalence**2 + (1 - prevalence) ** 2
    )
    assert frame.loc["accuracy", "stratified"] == pytest.approx(sim_acc, abs=0.01)
    assert frame.loc["recall", "stratified"] == pytest.approx(sim_recall, abs=0.02)
    assert frame.loc["mcc", "stratified"] == 0.0


def test_paper_example_always_negative_warns_three_times():
    # Section "wrong yardstick": 137 cases, 8 positives, a model that always says no
    y_true, y_pred = [1] * 8 + [0] * 129, [0] * 137
    with pytest.warns(MetricWarning) as record:
        s = classification_summary(y_true, y_pred, random_state=0)
    messages = [str(w.message) for w in record]
    assert len(messages) == 3
    assert messages == list(s.warnings)
    assert messages[0].startswith("precision of class 1 is undefined: the model predicted 1 for no")
    assert messages[1].startswith(
        "accuracy=0.942 is not above the majority-class baseline (0.942, always predicting 0)"
    )
    assert messages[2].startswith("class 1 is rare (prevalence 5.8%) and poorly detected")
    assert s["accuracy"] == pytest.approx(129 / 137)
    assert np.isnan(s["precision"])


def test_good_model_on_balanced_data_gives_no_warning():
    y, pred, score = _binary_data(prevalence=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classification_summary(y, pred, y_score=score, n_bootstraps=20, random_state=0)


def test_rare_class_poorly_detected_warns_even_when_accuracy_beats_majority():
    y = np.array([1] * 10 + [0] * 90)
    pred = np.array([1] * 3 + [0] * 97)  # accuracy 0.93 > 0.90, recall 0.3
    with pytest.warns(MetricWarning) as record:
        classification_summary(y, pred, n_bootstraps=0)
    assert [str(w.message) for w in record] == [
        "class 1 is rare (prevalence 10.0%) and poorly detected (recall=0.300, F1=0.462); "
        "accuracy hides this, so report recall and F1 of 1."
    ]


def test_table_outputs():
    y, pred, score = _binary_data()
    s = classification_summary(y, pred, y_score=score, random_state=0)
    assert isinstance(s, ClassificationSummary)
    frame = s.to_frame()
    assert frame.columns.tolist() == ["value", "ci_low", "ci_high", "majority", "stratified"]
    assert frame.index.tolist() == [
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "specificity",
        "f1",
        "mcc",
        "roc_auc",
        "average_precision",
    ]
    frame.loc["f1", "value"] = -1  # a copy: the summary is not changed
    assert s["f1"] > 0
    md = s.to_markdown().splitlines()
    assert md[0] == "| metric | value | 95% CI | majority | stratified |"
    assert md[1] == "| :--- | ---: | ---: | ---: | ---: |"
    assert md[2].startswith(f"| accuracy | {s['accuracy']:.3f} | [")
    text = repr(s).splitlines()
    assert (
        text[0]
        == f"Classification summary: 300 samples (0: {s.class_counts[0]}, 1: {s.class_counts[1]}); binary, positive class 1"
    )
    assert len(text) == 3 + len(frame)
    assert s.metrics["mcc"] == s["mcc"]
    with pytest.raises(KeyError, match="'auc' is not in this summary"):
        s["auc"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y_pred": [0, 1]}, r"y_true has 4 samples but y_pred has 2"),
        ({"pos_label": "yes"}, r"pos_label='yes' is not one of the labels \[0, 1\]"),
        ({"labels": [0, 2]}, r"classes not in labels: \[1\]"),
        ({"y_score": [0.1, 0.2]}, r"y_score has 2 rows but y_true has 4 samples"),
        (
            {"y_score": np.ones((4, 3))},
            r"y_score must have shape \(n_samples,\) or \(n_samples, 2\)",
        ),
        ({"y_score": [0.1, np.nan, 0.3, 0.4]}, r"y_score contains NaN or infinite values"),
        ({"confidence": 95}, r"confidence=95 must be in \(0, 1\)"),
        ({"n_bootstraps": -1}, r"n_bootstraps=-1 is invalid"),
        ({"y_true": [0, 0, 0, 0], "y_pred": [0, 0, 0, 0], "pos_label": 0}, r"single class \(0\)"),
        (
            {"y_true": [0, 1, np.nan, 1]},
            r"y_true has 1 missing value\(s\) \(at positions 2\); drop those samples first.",
        ),
    ],
)
def test_bad_inputs(kwargs, match):
    args = {"y_true": [0, 1, 0, 1], "y_pred": [0, 1, 1, 1], "n_bootstraps": 0, **kwargs}
    y_true, y_pred = args.pop("y_true"), args.pop("y_pred")
    with pytest.raises(ValueError, match=match):
        classification_summary(y_true, y_pred, **args)


def test_single_class_in_data_is_completed_with_pos_label():
    with pytest.warns(MetricWarning):
        s = classification_summary([0, 0, 0], [0, 0, 0], n_bootstraps=0)
    assert s.labels == [0, 1]
    assert np.isnan(s["recall"])


# ----------------------------------------------------------- ranking bootstrap (exact, fast)
def _weighted_rows():
    return st.lists(
        st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 4)), min_size=2, max_size=60
    )


@settings(max_examples=80, deadline=None)
@given(_weighted_rows(), st.booleans())
def test_replicate_weights_give_sklearns_weighted_auc_and_ap(rows, as_float):
    """One replicate = multiplicities per bin; its AUC/AP equal sklearn's with sample_weight."""
    y = np.array([r[0] for r in rows], dtype=bool)
    score = np.array([r[1] for r in rows], dtype=float) / 2  # few levels: many ties
    weight = np.array([r[2] for r in rows])
    if not (weight[y].sum() and weight[~y].sum()):
        y[0], y[1], weight[:2] = True, False, 1
    layout = column_layout(score, y)
    pos = np.bincount(layout.pos_bin, weights=weight[y], minlength=len(layout.pos_sizes))
    neg = np.bincount(layout.neg_bin, weights=weight[~y], minlength=len(layout.neg_sizes))
    np.testing.assert_array_equal(layout.pos_sizes, np.bincount(layout.pos_bin))
    np.testing.assert_array_equal(layout.neg_sizes, np.bincount(layout.neg_bin))
    if not as_float:
        pos, neg = pos.astype(np.int32), neg.astype(np.int32)
    auc, ap = metrics_from_counts(pos, neg, layout)
    ref_auc = skm.roc_auc_score(y, score, sample_weight=weight)
    ref_ap = skm.average_precision_score(y, score, sample_weight=weight)
    assert abs(auc[0] - ref_auc) < 1e-12
    assert abs(ap[0] - ref_ap) < 1e-12


def test_drawn_counts_sum_to_class_size_and_are_multinomial(monkeypatch):
    sizes = np.array([1] * 600 + [2] * 200 + [7] * 30 + [60] * 5)  # tables and numpy poisson
    m = int(sizes.sum())
    n_rep = 3000
    results = {}
    for path, patch in {
        "poisson": {},
        "rejection": {"_SLACK_SD": -2.0},  # lam > 1: most replicates are redrawn by index
        "index": {"_MIN_POISSON_CLASS": 10**9},
    }.items():
        with monkeypatch.context() as mp:
            for name, value in patch.items():
                mp.setattr(_rankboot, name, value)
            sampler = class_sampler(sizes, n_rep)
            assert sampler.poisson == (path != "index")
            counts = draw_class_counts(sampler, n_rep, np.random.default_rng(1))
        assert counts.shape == (n_rep, len(sizes))
        np.testing.assert_array_equal(counts.sum(axis=1), m)
        results[path] = counts
        for size in (1, 2, 7, 60):
            cells = counts[:, sizes == size]
            p = size / m
            assert cells.mean() == pytest.approx(size, rel=0.02)
            assert cells.var() == pytest.approx(m * p * (1 - p), rel=0.06)
        # pmf of a size-1 bin count: Binomial(m, 1/m)
        ones = counts[:, sizes == 1].ravel()
        observed = np.bincount(ones, minlength=8)[:8] / ones.size
        expected = np.array([_binom_pmf(m, 1 / m, k) for k in range(8)])
        assert np.abs(observed - expected).max() < 0.004
    assert not np.array_equal(results["poisson"], results["index"])


def _binom_pmf(n, p, k):
    from math import comb

    return comb(n, k) * p**k * (1 - p) ** (n - k)


@pytest.mark.parametrize("bit_generator", [np.random.MT19937, np.random.SFC64])
def test_drawn_counts_are_multinomial_with_other_bit_generators(bit_generator):
    sizes = np.ones(2000, dtype=int)
    rng = np.random.Generator(bit_generator(4))
    counts = draw_class_counts(class_sampler(sizes, 500), 500, rng)
    np.testing.assert_array_equal(counts.sum(axis=1), 2000)
    observed = np.bincount(counts.ravel(), minlength=4)[:4] / counts.size
    expected = np.array([_binom_pmf(2000, 1 / 2000, k) for k in range(4)])
    assert np.abs(observed - expected).max() < 0.005


def test_draws_are_seeded():
    sampler = class_sampler(np.ones(1000, dtype=int), 10)
    a = draw_class_counts(sampler, 10, np.random.default_rng(3))
    b = draw_class_counts(sampler, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def _loop_ranking(y, score, n_boot, seed, multiclass=False):
    """Reference: stratified index resampling, scikit-learn's AUC and AP per replicate."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    auc, ap = [], []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(m, size=m.size) for m in by_class])
        if multiclass:
            onehot = (y[idx][:, None] == np.arange(score.shape[1])).astype(int)
            auc.append(skm.roc_auc_score(onehot, score[idx], average="macro"))
            ap.append(skm.average_precision_score(onehot, score[idx], average="macro"))
        else:
            auc.append(skm.roc_auc_score(y[idx], score[idx]))
            ap.append(skm.average_precision_score(y[idx], score[idx]))
    return np.array(auc), np.array(ap)


QUANTILES = [0.025, 0.25, 0.5, 0.75, 0.975]


@pytest.mark.parametrize("min_poisson", [10**9, 50])  # index draws; Poisson draws
def test_ranking_bootstrap_distribution_equals_plain_resampling(monkeypatch, min_poisson):
    monkeypatch.setattr(_rankboot, "_MIN_POISSON_CLASS", min_poisson)
    rng = np.random.default_rng(5)
    y = (rng.random(600) < 0.3).astype(int)
    score = np.where(rng.random(600) < 0.5, np.round(0.3 * y + rng.random(600), 1), rng.random(600))
    t_idx = y.copy()
    auc, ap = _rankboot.bootstrap_ranking(
        score[:, None], t_idx, [1], 4000, np.random.default_rng(0)
    )
    ref_auc, ref_ap = _loop_ranking(y, score, 800, seed=1)
    np.testing.assert_allclose(
        np.quantile(auc[:, 0], QUANTILES), np.quantile(ref_auc, QUANTILES), atol=0.008
    )
    np.testing.assert_allclose(
        np.quantile(ap[:, 0], QUANTILES), np.quantile(ref_ap, QUANTILES), atol=0.012
    )
    assert auc[:, 0].std() == pytest.approx(ref_auc.std(), rel=0.12)
    assert ap[:, 0].std() == pytest.approx(ref_ap.std(), rel=0.12)


@pytest.mark.parametrize("decimals", [2, None])  # ties; distinct scores (one per bin)
def test_multiclass_ranking_bootstrap_equals_plain_resampling(monkeypatch, decimals):
    monkeypatch.setattr(_rankboot, "_MIN_POISSON_CLASS", 50)
    y, _, proba = _multiclass_data(n=500, seed=2)
    if decimals is not None:
        proba = np.round(proba, decimals)
    auc, ap = _rankboot.bootstrap_ranking(proba, y, [0, 1, 2], 3000, np.random.default_rng(0))
    ref_auc, ref_ap = _loop_ranking(y, proba, 600, seed=1, multiclass=True)
    macro_auc, macro_ap = auc.mean(axis=1), ap.mean(axis=1)
    np.testing.assert_allclose(
        np.quantile(macro_auc, QUANTILES), np.quantile(ref_auc, QUANTILES), atol=0.008
    )
    np.testing.assert_allclose(
        np.quantile(macro_ap, QUANTILES), np.quantile(ref_ap, QUANTILES), atol=0.01
    )
    # same replicate for every column: the macro average is less variable than a column
    assert macro_auc.std() == pytest.approx(ref_auc.std(), rel=0.12)


def test_ranking_bootstrap_edge_cases():
    rng = np.random.default_rng(0)
    score = rng.random(50)
    # no positive: undefined everywhere
    auc, ap = _rankboot.bootstrap_ranking(score[:, None], np.zeros(50, int), [1], 5, rng)
    assert np.isnan(auc).all() and np.isnan(ap).all()
    # no negative: AUC undefined, AP = 1 (as scikit-learn)
    auc, ap = _rankboot.bootstrap_ranking(score[:, None], np.ones(50, int), [1], 5, rng)
    assert np.isnan(auc).all()
    np.testing.assert_allclose(ap, 1.0)
    # perfect separation with a constant block of negatives far below
    y = np.array([0] * 500 + [1] * 450)
    s = np.concatenate([np.zeros(500), 1 + rng.random(450)])
    auc, ap = _rankboot.bootstrap_ranking(s[:, None], y, [1], 20, rng)
    np.testing.assert_allclose(auc, 1.0)
    np.testing.assert_allclose(ap, 1.0)


@pytest.mark.parametrize("only_class", [0, 1])
def test_one_class_with_groups_gives_the_point_values_of_the_plain_summary(only_class):
    # An external set of normals has one class: AUC/AP are undefined, the rest is not,
    # and the cluster bootstrap must not crash on the empty class (it did).
    y = np.full(20, only_class)
    score = np.linspace(0, 1, 20)
    groups = np.repeat([f"P{i:02d}" for i in range(10)], 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = classification_summary(
            y, (score > 0.5).astype(int), y_score=score, n_bootstraps=50, random_state=0
        ).to_frame()
        clustered = classification_summary(
            y,
            (score > 0.5).astype(int),
            y_score=score,
            groups=groups,
            n_bootstraps=50,
            random_state=0,
        ).to_frame()
    pd.testing.assert_series_equal(plain["value"], clustered["value"])
    assert np.isnan(clustered.loc["roc_auc", "value"])
    defined = "specificity" if only_class == 0 else "recall"
    assert clustered.loc[defined, "ci_low"] <= 0.5 <= clustered.loc[defined, "ci_high"]
