"""leakage_gap shows each pitfall's inflation for the paper's reason, on data built here."""

from __future__ import annotations

import joblib
import matplotlib
import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from pitfalls.experiments import LeakageGapResult, leakage_gap
from pitfalls.experiments._gap import _fit_before_split, step_kind
from pitfalls.metrics import compare_runs
from pitfalls.model_selection import StratifiedGroupKFold
from pitfalls.pipeline import AugmentationSampler, make_pipeline

matplotlib.use("Agg")


def noise_labels(n, positive_rate, seed):
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, round(n * positive_rate), replace=False)] = 1
    return y


def test_oversampling_before_split_inflates_by_copying_test_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = noise_labels(120, 0.25, seed=1)  # labels carry no signal at all
    pipe = make_pipeline(RandomOverSampler(random_state=0), DecisionTreeClassifier(random_state=0))
    res = leakage_gap(
        pipe, X, y, pitfall="oversampling", n_repeats=6, random_state=0, verbose=False
    )
    assert res.steps == ("randomoversampler",)
    # a tree memorises the copies: leaky minority test rows have a twin in training
    assert res.leaky_scores.mean() > 0.6
    assert res.correct_scores.mean() < 0.45
    assert res.inflation > 0.3 and res.pvalue < 0.01 and res.statistic > 0
    expected = compare_runs(res.leaky_scores, res.correct_scores)
    assert (res.statistic, res.pvalue, res.effect_size) == (
        expected.statistic,
        expected.pvalue,
        expected.effect_size,
    )


def test_smotenc_on_a_clinical_table_with_categories_runs_both_protocols():
    import pandas as pd
    from imblearn.over_sampling import SMOTENC
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(6)
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 8, 137),
            "dose": rng.normal(70, 5, 137),
            "stage": rng.choice(["I", "II", "III"], 137),
        }
    )
    y = noise_labels(137, 0.12, seed=7)
    pipe = make_pipeline(
        SMOTENC(categorical_features=["stage"], random_state=0),
        make_column_transformer((OneHotEncoder(), ["stage"]), remainder=StandardScaler()),
        DecisionTreeClassifier(random_state=0),
    )
    res = leakage_gap(
        pipe, table, y, pitfall="oversampling", n_repeats=3, random_state=0, verbose=False
    )
    assert res.steps == ("smotenc",)
    # hoisted SMOTENC interpolates between test rows and their neighbours: the tree
    # scores on noise labels only in the leaky protocol
    assert res.leaky_scores.mean() > res.correct_scores.mean() + 0.2


def test_feature_selection_on_pure_noise_correct_protocol_sits_at_chance():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 1000))
    y = noise_labels(60, 0.5, seed=3)
    pipe = make_pipeline(SelectKBest(f_classif, k=10), LogisticRegression())
    res = leakage_gap(
        pipe, X, y, pitfall="feature_selection", n_repeats=5, scoring="accuracy",
        random_state=0, verbose=False,
    )  # fmt: skip
    assert res.steps == ("selectkbest",)
    assert 0.3 < res.correct_scores.mean() < 0.7  # chance
    assert res.leaky_scores.mean() > 0.8  # noise that selection on all data made "predictive"
    assert res.pvalue < 0.05


def test_augmentation_before_split_puts_twins_across_splits():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 6))
    y = noise_labels(60, 0.5, seed=5)

    def jitter(x, rng):
        return x + rng.normal(scale=0.01, size=x.shape)

    pipe = make_pipeline(
        AugmentationSampler(jitter, n_copies=2), KNeighborsClassifier(n_neighbors=1)
    )
    res = leakage_gap(
        pipe, X, y, pitfall="augmentation", n_repeats=4, scoring="accuracy",
        random_state=0, verbose=False,
    )  # fmt: skip
    assert res.steps == ("augmentationsampler",)
    assert res.leaky_scores.mean() > 0.9  # the nearest neighbour is the twin
    assert res.correct_scores.mean() < 0.7
    assert res.pvalue < 0.05


def patient_cohort(n_patients=24, per_patient=5, seed=6):
    """Patches of a patient share a strong patient signature; labels are per patient."""
    rng = np.random.default_rng(seed)
    signature = rng.normal(scale=3.0, size=(n_patients, 8))
    label = noise_labels(n_patients, 0.5, seed=seed + 1)
    groups = np.repeat(np.arange(n_patients), per_patient)
    X = signature[groups] + rng.normal(scale=0.3, size=(groups.size, 8))
    return X, label[groups], groups


def test_sample_level_split_inflates_against_patient_level_split():
    X, y, groups = patient_cohort()
    pipe = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1))
    res = leakage_gap(
        pipe, X, y, pitfall="group_split", groups=groups, n_repeats=4,
        scoring=["accuracy", "precision", "recall", "f1"], random_state=0, verbose=False,
    )  # fmt: skip
    assert res.leaky["accuracy"].mean() > 0.95
    assert res.correct["accuracy"].mean() < 0.75
    table = res.summary()
    assert list(table.columns) == ["Accuracy", "Precision", "Recall", "F1"]
    assert list(table.index) == [
        "Incorrect distributing data points of patients",
        "Correct distributing data points of patients",
    ]
    mean, sd = table.loc["Incorrect distributing data points of patients", "F1"].split("±")
    assert float(mean) == pytest.approx(res.leaky["f1"].mean(), abs=0.005)
    assert float(sd) == pytest.approx(res.leaky["f1"].std(ddof=1), abs=0.005)
    frame = res.to_frame()
    assert frame.shape == (8, 6)
    assert frame.groupby("protocol")["f1"].mean()["correct"] == pytest.approx(
        res.correct["f1"].mean()
    )


def test_preprocessing_with_groups_keeps_patient_level_splits_in_both_protocols():
    X, y, groups = patient_cohort(seed=8)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    res = leakage_gap(
        pipe, X, y, pitfall="preprocessing", groups=groups, n_repeats=3, scoring="accuracy",
        random_state=0, verbose=False,
    )  # fmt: skip
    assert res.steps == ("standardscaler",)
    # scaling on all data leaks little: both protocols stay near chance on patient splits
    assert abs(res.inflation) < 0.2


def test_hoisted_copies_become_new_independent_samples():
    X = np.arange(12, dtype=float).reshape(6, 2)
    y = np.array([0, 0, 0, 0, 1, 1])
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    pipe = make_pipeline(RandomOverSampler(random_state=0), DecisionTreeClassifier())
    X_all, y_all, g_all, rest, origin = _fit_before_split(
        pipe, ("randomoversampler",), X, y, groups
    )
    np.testing.assert_array_equal(X_all, X[origin])
    assert len(X_all) == 8 and y_all.tolist().count(1) == 4
    assert g_all[:6].tolist() == [0, 0, 1, 1, 2, 2]  # originals keep their patient
    assert sorted(g_all[6:].tolist()) == [3, 4]  # each copy is a new "patient"
    assert isinstance(rest, DecisionTreeClassifier)


def test_same_seed_same_scores_and_parallel_repeats_agree():
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(60, 3)), noise_labels(60, 0.3, seed=10)
    pipe = make_pipeline(RandomOverSampler(), DecisionTreeClassifier())  # seeds left unset
    kwargs = {"pitfall": "oversampling", "n_repeats": 3, "random_state": 7, "verbose": False}
    first = leakage_gap(pipe, X, y, **kwargs)
    second = leakage_gap(pipe, X, y, **kwargs)
    np.testing.assert_array_equal(first.leaky_scores, second.leaky_scores)
    np.testing.assert_array_equal(first.correct_scores, second.correct_scores)
    other = leakage_gap(pipe, X, y, **(kwargs | {"random_state": 8}))
    assert not np.array_equal(first.correct_scores, other.correct_scores)
    with joblib.parallel_config(backend="threading"):
        threaded = leakage_gap(pipe, X, y, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(threaded.leaky_scores, first.leaky_scores)


@pytest.mark.slow
def test_repeats_on_dask_give_the_same_scores():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(45, 3)), noise_labels(45, 0.3, seed=12)
    pipe = make_pipeline(RandomOverSampler(random_state=0), DecisionTreeClassifier(random_state=0))
    kwargs = {"pitfall": "oversampling", "n_repeats": 3, "random_state": 0, "verbose": False}
    local = leakage_gap(pipe, X, y, **kwargs)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = leakage_gap(pipe, X, y, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(on_dask.leaky_scores, local.leaky_scores)
    np.testing.assert_array_equal(on_dask.correct_scores, local.correct_scores)


def test_progress_bar_and_plot(capsys):
    rng = np.random.default_rng(13)
    X, y = rng.normal(size=(45, 3)), noise_labels(45, 0.4, seed=14)
    pipe = make_pipeline(RandomOverSampler(random_state=0), DecisionTreeClassifier(random_state=0))
    quiet = leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=2, random_state=0)
    assert capsys.readouterr().err == ""  # quiet by default, as scikit-learn's verbose=0
    res = leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=2, random_state=0, verbose=1)
    assert "leakage_gap[oversampling]" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet.leaky_scores, res.leaky_scores)
    ax = res.plot()
    assert ax.get_ylabel() == "F1" and len(ax.get_xticklabels()) == 2
    assert "Wilcoxon" in ax.get_title()
    assert isinstance(res, LeakageGapResult) and "inflation" in repr(res)
    with pytest.raises(ValueError, match=r"metric='auc' was not computed; use one of \['f1'\]"):
        res.plot(metric="auc")


def test_plot_of_a_secondary_metric_gives_that_metrics_inflation():
    from pitfalls.metrics import compare_runs

    leaky = {"accuracy": np.array([0.80, 0.82]), "f1": np.array([0.81, 0.79])}
    correct = {"accuracy": np.array([0.78, 0.80]), "f1": np.array([0.70, 0.68])}
    res = LeakageGapResult("oversampling", ["accuracy", "f1"], leaky, correct,
                           compare_runs(leaky["accuracy"], correct["accuracy"]))  # fmt: skip
    assert res.plot(metric="f1").get_title() == "Inflation +0.11"  # no test of f1: no z, p
    assert res.plot().get_title().startswith("Inflation +0.02 (Wilcoxon z=")
    assert res == res and res != LeakageGapResult(
        res.pitfall, res.metrics, res.leaky, res.correct, res.comparison
    )  # compared by identity (array fields), and hashable
    assert len({res, res}) == 1


def test_step_kinds():
    assert step_kind(AugmentationSampler(abs)) == "augmentation"
    assert step_kind(RandomOverSampler()) == "oversampling"
    assert step_kind(DecisionTreeClassifier()) is None


def test_a_selector_inside_a_container_makes_it_a_selection_step():
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline as sk_make_pipeline
    from sklearn.pipeline import make_union

    from pitfalls.experiments._gap import _hoisted_steps

    columns = make_column_transformer(
        (sk_make_pipeline(StandardScaler(), SelectKBest(k=2)), [0, 1, 2, 3]),
        remainder="passthrough",
    )
    union = make_union(StandardScaler(), SelectKBest(k=1))
    assert step_kind(columns) == step_kind(union) == "feature_selection"
    assert step_kind(make_union(StandardScaler(), StandardScaler())) == "preprocessing"
    pipe = make_pipeline(StandardScaler(), columns, LogisticRegression())
    assert _hoisted_steps(pipe, "feature_selection", None) == (
        "standardscaler",
        "columntransformer",
    )
    # preprocessing leakage does not silently include the selection inside the container
    assert _hoisted_steps(pipe, "preprocessing", None) == ("standardscaler",)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"pitfall": "leak"}, ValueError, r"pitfall='leak' is not supported; use one of \["),
        ({"pitfall": "oversampling", "n_repeats": 1}, ValueError, "n_repeats=1 is too small"),
        (
            {"pitfall": "feature_selection"},
            ValueError,
            "The pipeline has no feature selection step",
        ),
        (
            {"pitfall": "oversampling", "steps": ["smote"]},
            ValueError,
            r"steps=\['smote'\] must name intermediate steps",
        ),
        ({"pitfall": "group_split"}, ValueError, "pass groups"),
        (
            {"pitfall": "oversampling", "scoring": []},
            ValueError,
            "scoring=\\[\\] must be a scorer name",
        ),
        (
            {"pitfall": "oversampling", "cv": "five"},
            TypeError,
            "cv='five' is neither None, an int nor a splitter",
        ),
    ],
)
def test_errors(kwargs, error, match):
    X, y = np.zeros((12, 2)), np.tile([0, 1], 6)
    pipe = make_pipeline(RandomOverSampler(), DecisionTreeClassifier())
    with pytest.raises(error, match=match):
        leakage_gap(pipe, X, y, verbose=False, **({"n_repeats": 2} | kwargs))


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_a_failing_fold_says_which_protocol_and_how_to_fix_smote(n_jobs):
    # the paper's cohort has 8 events in 137: SMOTE cannot find 5 neighbours among the
    # ~5 events of a training fold, while the leaky protocol (SMOTE on all 8) runs
    from imblearn.over_sampling import SMOTE

    X = np.random.default_rng(0).normal(size=(137, 4))
    y = np.r_[np.ones(8, int), np.zeros(129, int)]
    pipe = make_pipeline(SMOTE(random_state=0), DecisionTreeClassifier(random_state=0))
    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit") as caught:
        leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=2, n_jobs=n_jobs,
                    random_state=0, verbose=False)  # fmt: skip
    (note,) = caught.value.__notes__
    assert note.startswith("leakage_gap: raised while fitting fold 1 of 3 of the correct protocol")
    assert "training rows per class: 0: 86, 1: 5" in note
    assert "use RandomOverSampler" in note


def test_string_labels_with_f1_are_refused_before_any_fit():
    X, y = np.zeros((12, 2)), np.tile(["none", "recurrence"], 6)
    pipe = make_pipeline(RandomOverSampler(), DecisionTreeClassifier())
    with pytest.raises(
        ValueError,
        match=r"scoring='f1' scores the class labelled 1, but y's classes are \['none', "
        r"'recurrence'\]; .* scoring=make_scorer\(f1_score, pos_label='recurrence'\)\.",
    ):
        leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=2, verbose=False)
    from sklearn.metrics import f1_score, make_scorer

    scorer = make_scorer(f1_score, pos_label="recurrence")  # the fix the message gives
    res = leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=2, scoring=scorer,
                      random_state=0, verbose=False)  # fmt: skip
    assert res.leaky_scores.shape == (2,)


@pytest.mark.parametrize(
    "cv",
    [
        "KFold(3)",  # shuffle=False: shuffled with each repeat's seed all the same
        "RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=1)",
    ],
)
def test_a_given_splitter_is_reshuffled_every_repeat(cv):
    from sklearn.model_selection import KFold, RepeatedStratifiedKFold  # noqa: F401

    rng = np.random.default_rng(8)
    X = rng.normal(size=(90, 4))
    y = noise_labels(90, 0.3, seed=9)
    pipe = make_pipeline(RandomOverSampler(random_state=0), LogisticRegression())
    res = leakage_gap(
        pipe, X, y, pitfall="oversampling", cv=eval(cv), n_repeats=4, random_state=0,
        verbose=False,
    )  # fmt: skip
    # a deterministic model: only new splits can make the repeats differ
    assert np.unique(res.leaky_scores).size == 4
    assert np.unique(res.correct_scores).size == 4


def test_a_splitter_that_cannot_reshuffle_is_refused():
    from sklearn.model_selection import LeaveOneGroupOut, PredefinedSplit, TimeSeriesSplit

    X, y, groups = patient_cohort(n_patients=6, per_patient=2)
    pipe = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1))
    with pytest.raises(
        ValueError,
        match=r"cv=LeaveOneGroupOut\(\) makes the same splits in "
        r"every repeat, .* e.g. StratifiedGroupKFold\(5, shuffle=True\)",
    ):
        leakage_gap(pipe, X, y, pitfall="group_split", groups=groups, cv=LeaveOneGroupOut(),
                    n_repeats=2, verbose=False)  # fmt: skip
    # TimeSeriesSplit has shuffle and random_state attributes, and ignores both
    ros = make_pipeline(RandomOverSampler(), KNeighborsClassifier(n_neighbors=1))
    for cv, shown in [
        (TimeSeriesSplit(3), r"TimeSeriesSplit\(gap=0, max_train_size=None, n_splits=3, "
         r"test_size=None\)"),
        (PredefinedSplit(np.tile([-1, 0, 1, 10], 3)), r"PredefinedSplit\(\.\.\.\)"),
    ]:  # fmt: skip
        with pytest.raises(
            ValueError,
            match=rf"cv={shown} makes the same splits in every "
            r"repeat, .* e.g. StratifiedKFold\(5, shuffle=True\)",
        ):
            leakage_gap(ros, X, y, pitfall="oversampling", cv=cv, n_repeats=2, verbose=False)


def test_a_splitter_that_ignores_groups_is_refused_before_any_fit():
    from sklearn.model_selection import StratifiedKFold

    from pitfalls.exceptions import GroupLeakageError

    X, y, groups = patient_cohort(n_patients=12, per_patient=3)
    fits = []

    class Counting(KNeighborsClassifier):
        def fit(self, X, y):
            fits.append(1)
            return super().fit(X, y)

    pipe = make_pipeline(StandardScaler(), Counting(n_neighbors=1))
    with pytest.raises(
        GroupLeakageError,
        match=r"cv=StratifiedKFold\(.*\) ignores groups: fold 1 of the correct protocol "
        r"has \d+ patient\(s\) on both sides \(.*\)\. Use a group-aware splitter such as "
        r"StratifiedGroupKFold",
    ) as caught:
        leakage_gap(pipe, X, y, pitfall="group_split", groups=groups,
                    cv=StratifiedKFold(3, shuffle=True), n_repeats=2, verbose=False)  # fmt: skip
    assert fits == [] and set(caught.value.shared_groups) <= set(groups.tolist())
    with pytest.raises(ValueError, match=r"splits by patient, but groups=None; pass groups"):
        leakage_gap(make_pipeline(RandomOverSampler(), Counting()), X, y,
                    pitfall="oversampling", cv=StratifiedGroupKFold(3), n_repeats=2,
                    verbose=False)  # fmt: skip


def test_group_split_with_a_given_splitter_runs_it_with_each_sample_its_own_patient():
    from sklearn.model_selection import GroupShuffleSplit

    from pitfalls.experiments._gap import _sample_level

    X, y, groups = patient_cohort()
    splitter, each_its_own = _sample_level(GroupShuffleSplit(4, test_size=0.25), y, 3, len(y))
    assert isinstance(splitter, GroupShuffleSplit) and splitter.random_state == 3
    folds = list(splitter.split(X, y, each_its_own))
    assert len(folds) == 4 and all(len(test) == 30 for _, test in folds)  # a quarter of rows
    # ...so a patient's patches land on both sides: the leak the protocol measures
    assert all(set(groups[train]) & set(groups[test]) for train, test in folds)
    pipe = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1))
    res = leakage_gap(
        pipe, X, y, pitfall="group_split", groups=groups, n_repeats=3, scoring="accuracy",
        cv=GroupShuffleSplit(4, test_size=0.25), random_state=0, verbose=False,
    )  # fmt: skip
    assert res.leaky_scores.mean() > 0.95 and res.correct_scores.mean() < 0.75


@pytest.mark.parametrize(
    ("y", "scoring", "match"),
    [
        (
            np.linspace(0, 1, 12),
            "f1",
            r"holds classification scores \(f1\), but y is "
            r"continuous; pass a regression scorer such as scoring='r2'",
        ),
        (
            np.arange(12) % 3,
            "f1",
            r"scores one class of a binary problem, but y has 3 "
            r"classes \(0, 1, 2\); .* scoring='f1_macro'",
        ),
        (
            np.tile(["none", "recurrence"], 6),
            "average_precision",
            r"scores the class "
            r"labelled 1, .* e.g. y = \(y == 'recurrence'\).astype\(int\)\.",
        ),
    ],
)
def test_a_scorer_that_does_not_fit_the_target_is_refused_before_any_fit(y, scoring, match):
    from sklearn.linear_model import Ridge

    X = np.random.default_rng(0).normal(size=(12, 2))
    model = Ridge() if y.dtype.kind == "f" else DecisionTreeClassifier()
    pipe = make_pipeline(StandardScaler(), model)
    with pytest.raises(ValueError, match=match):
        leakage_gap(pipe, X, y, pitfall="preprocessing", n_repeats=2, scoring=scoring,
                    verbose=False)  # fmt: skip


def test_undefined_fold_scores_are_summed_up_in_one_warning():
    import warnings

    from sklearn.dummy import DummyClassifier

    from pitfalls.exceptions import MetricWarning

    X = np.random.default_rng(0).normal(size=(60, 3))
    y = noise_labels(60, 0.2, seed=1)
    pipe = make_pipeline(StandardScaler(), DummyClassifier())  # never predicts a positive
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leakage_gap(pipe, X, y, pitfall="preprocessing", n_repeats=4, scoring=["f1", "precision"],
                    random_state=0, verbose=False)  # fmt: skip
    assert [w.category for w in caught] == [MetricWarning]
    assert str(caught[0].message).startswith(
        "A score was undefined (no true or no predicted positive rows in the test fold) in 12 "
        "of 12 folds of the leaky protocol and 12 of 12 of the correct one;"
    )
    assert caught[0].filename == __file__  # points at the call


def test_non_pipeline_needs_group_split():
    X, y = np.zeros((12, 2)), np.tile([0, 1], 6)
    with pytest.raises(TypeError, match="estimator must be a Pipeline; got DecisionTreeClassifier"):
        leakage_gap(DecisionTreeClassifier(), X, y, pitfall="oversampling", verbose=False)


def test_scores_equal_a_plain_sklearn_cross_validation_with_the_repeat_seed():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from pitfalls.model_selection import StratifiedGroupKFold

    X, y, groups = patient_cohort(n_patients=18, per_patient=3, seed=15)
    forest = RandomForestClassifier(n_estimators=15, max_depth=3, random_state=0)
    pipe = make_pipeline(StandardScaler(), forest)
    res = leakage_gap(
        pipe, X, y, pitfall="group_split", groups=groups, n_repeats=2, scoring="accuracy",
        random_state=0, verbose=False,
    )  # fmt: skip
    seeds = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=2)
    for repeat, seed in enumerate(seeds):
        correct = cross_val_score(
            pipe, X, y, groups=groups, scoring="accuracy",
            cv=StratifiedGroupKFold(3, shuffle=True, random_state=seed),
        )  # fmt: skip
        leaky = cross_val_score(
            pipe, X, y, scoring="accuracy", cv=StratifiedKFold(3, shuffle=True, random_state=seed)
        )
        assert res.correct_scores[repeat] == correct.mean()
        assert res.leaky_scores[repeat] == leaky.mean()


def test_fit_params_reach_an_inner_group_search_in_both_protocols():
    from sklearn.model_selection import GridSearchCV, GroupKFold

    X, y, groups = patient_cohort(n_patients=18, per_patient=3, seed=16)
    seen = []

    class RecordingGroupKFold(GroupKFold):
        def split(self, X, y=None, groups=None):
            seen.append(groups is not None and len(groups) == len(X))
            return super().split(X, y, groups)

    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=RecordingGroupKFold(2))
    pipe = make_pipeline(RandomOverSampler(random_state=0), search)
    res = leakage_gap(
        pipe, X, y, pitfall="oversampling", groups=groups, n_repeats=2, scoring="accuracy",
        fit_params={"gridsearchcv__groups": groups}, random_state=0, verbose=False,
    )  # fmt: skip
    assert len(seen) == 2 * 2 * 3 and all(seen)  # repeats x protocols x folds
    assert res.leaky_scores.shape == (2,)


@pytest.mark.parametrize(
    ("pitfall", "expected"),
    [
        # the scaler RFE was fitted after comes along; the over-sampler stays behind
        ("feature_selection", ("variancethreshold", "standardscaler", "rfe")),
        # the selector is another kind: it stays; nothing plain precedes the sampler
        ("oversampling", ("randomoversampler",)),
    ],
)
def test_default_hoisting_keeps_the_pipeline_order(pitfall, expected):
    from sklearn.feature_selection import RFE, VarianceThreshold
    from sklearn.svm import SVC

    from pitfalls.experiments._gap import _hoisted_steps

    pipe = make_pipeline(
        RandomOverSampler(),
        VarianceThreshold(),
        StandardScaler(),
        RFE(SVC(kernel="linear"), n_features_to_select=2),
        LogisticRegression(),
    )
    assert _hoisted_steps(pipe, pitfall, None) == expected


def test_transformers_never_overtake_each_other_when_hoisted():
    from sklearn.decomposition import PCA
    from sklearn.feature_selection import VarianceThreshold

    from pitfalls.experiments._gap import _hoisted_steps

    # preprocessing: the scaler moves; PCA, after the kept selector, stays behind it
    pipe = make_pipeline(StandardScaler(), SelectKBest(k=5), PCA(2), LogisticRegression())
    assert _hoisted_steps(pipe, "preprocessing", None) == ("standardscaler",)
    with pytest.raises(
        ValueError,
        match=r"steps=\['pca'\] would move 'pca' ahead of 'standardscaler', which the "
        r"pipeline applies before it: .* Name 'standardscaler' too, or leave 'pca' out\.",
    ):
        _hoisted_steps(pipe, "preprocessing", ["pca"])
    with pytest.raises(ValueError, match=r"would move 'pca' ahead of 'selectkbest'"):
        _hoisted_steps(pipe, "preprocessing", ["standardscaler", "pca"])
    assert _hoisted_steps(pipe, "preprocessing", ["selectkbest", "pca", "standardscaler"]) == (
        "standardscaler", "selectkbest", "pca",
    )  # fmt: skip
    blocked = make_pipeline(VarianceThreshold(), StandardScaler(), LogisticRegression())
    with pytest.raises(
        ValueError,
        match=r"The pipeline's preprocessing step\(s\) "
        r"\['standardscaler'\] come after 'variancethreshold', which stays",
    ):
        _hoisted_steps(blocked, "preprocessing", None)
    # samplers may move past transformers (they act on training rows only)
    sampled = make_pipeline(SelectKBest(k=2), RandomOverSampler(), LogisticRegression())
    assert _hoisted_steps(sampled, "oversampling", None) == ("randomoversampler",)
    assert _hoisted_steps(sampled, "oversampling", ["randomoversampler"]) == ("randomoversampler",)


def test_passthrough_steps_are_not_steps_to_hoist():
    from sklearn.pipeline import Pipeline as SkPipeline

    from pitfalls.experiments._gap import _hoisted_steps

    pipe = SkPipeline(
        [("sc", StandardScaler()), ("skip", "passthrough"), ("lr", LogisticRegression())]
    )
    with pytest.raises(
        ValueError,
        match=r"steps=\['skip'\] must name intermediate steps of "
        r"the pipeline; its intermediate steps are \['sc'\]",
    ):
        _hoisted_steps(pipe, "preprocessing", ["skip"])
    assert _hoisted_steps(pipe, "preprocessing", None) == ("sc",)


def test_a_fold_where_roc_auc_is_undefined_is_left_out_of_the_repeats_mean():
    import warnings

    from sklearn.model_selection import GroupShuffleSplit, StratifiedKFold

    from pitfalls.exceptions import MetricWarning

    X = np.random.default_rng(3).normal(size=(60, 3))
    y = np.zeros(60, dtype=int)
    y[[3, 17, 33, 51]] = 1  # 4 positives in 5 stratified folds: one fold has none
    pipe = make_pipeline(RandomOverSampler(random_state=0), LogisticRegression())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = leakage_gap(pipe, X, y, pitfall="oversampling", cv=StratifiedKFold(5),
                          scoring=["roc_auc", "accuracy"], n_repeats=3, random_state=0,
                          verbose=False)  # fmt: skip
    # the leaky protocol's test folds hold copies of positives: only the correct one lacks
    (metric_warning,) = [w for w in caught if w.category is MetricWarning]
    assert "in 0 of 15 folds of the leaky protocol and 3 of 15 of the correct one" in str(
        metric_warning.message
    )
    # scikit-learn's own "least populated class" warning: once per repeat, not per check
    assert sum("least populated class" in str(w.message) for w in caught) == 3
    assert np.isfinite(res.leaky_scores).all() and np.isfinite(res.correct_scores).all()
    assert "nan" not in res.summary().to_string()
    # a test fold of one patient (one class) in every fold: nothing to compare
    X, y, groups = patient_cohort(n_patients=12, per_patient=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        with pytest.raises(
            ValueError,
            match=r"The score 'roc_auc' was undefined in every fold "
            r"of 2 of 2 repeats .* Use fewer folds",
        ):
            leakage_gap(pipe, X, y, pitfall="group_split", groups=groups, scoring="roc_auc",
                        cv=GroupShuffleSplit(2, test_size=1), n_repeats=2, verbose=False)  # fmt: skip


def test_an_error_while_scoring_says_which_protocol_and_fold():
    from pitfalls.exceptions import LeakageError
    from pitfalls.pipeline import LeakageGuard

    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(40, 3)), noise_labels(40, 0.3, seed=6)
    guarded = LeakageGuard(DecisionTreeClassifier(random_state=0), on_leak="raise")
    pipe = make_pipeline(RandomOverSampler(random_state=0), guarded)
    with pytest.raises(LeakageError, match="were seen in fit") as caught:
        leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=2, random_state=0,
                    verbose=False)  # fmt: skip
    assert caught.value.__notes__ == [
        "leakage_gap: raised while scoring fold 1 of 3 of the leaky protocol."
    ]


def test_text_and_markdown_show_every_metric_even_on_a_narrow_screen():
    # summary() is a DataFrame that pandas truncates on a narrow terminal; the text and
    # Markdown renderings of the result never drop a column
    import pandas as pd

    rng = np.random.default_rng(3)
    metrics = ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc"]
    leaky = {m: rng.uniform(0.7, 0.9, 5) for m in metrics}
    correct = {m: rng.uniform(0.4, 0.6, 5) for m in metrics}
    res = LeakageGapResult(
        "group_split", metrics, leaky, correct, compare_runs(leaky["accuracy"], correct["accuracy"])
    )
    table = res.summary()
    with pd.option_context("display.max_columns", 3, "display.width", 60):
        assert "..." in repr(table)  # what a user saw
        text, markdown = str(res), res.to_markdown()
    assert text == res.to_text() and "..." not in text and "..." not in markdown
    lines = text.splitlines()
    assert lines[0] == "Leakage gap of group split over 5 repeats"
    assert lines[1].split() == ["approach", "Accuracy", "Balanced", "accuracy", "Precision",
                                "Recall", "F1", "ROC", "AUC"]  # fmt: skip
    assert lines[2].split("  ")[0] == table.index[0]
    assert lines[2].split()[-6:] == list(table.iloc[0])
    assert lines[-1] == (
        f"Accuracy: inflation {res.inflation:+.2f}, Wilcoxon rank-sum z={res.statistic:.2f}, "
        f"p={res.pvalue:.3g}, effect size {res.effect_size:.2f}"
    )
    md = markdown.splitlines()
    assert md[0] == "| approach | " + " | ".join(table.columns) + " |"
    assert md[2] == "| " + " | ".join([table.index[0], *table.iloc[0]]) + " |"
    assert md[-1] == lines[-1]
