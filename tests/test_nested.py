"""nested_cross_validate gives exactly the plain scikit-learn nested loop's results."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from imblearn.over_sampling import RandomOverSampler
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import RFE, SelectKBest, VarianceThreshold, f_classif
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from pitfalls import _compat
from pitfalls.exceptions import GroupLeakageError
from pitfalls.model_selection import StratifiedGroupKFold, nested_cross_validate
from pitfalls.pipeline import Pipeline

GRID = {"rf__max_depth": [2, 4], "rf__min_samples_leaf": [1, 3]}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=48, n_features=20, n_informative=5, weights=[0.7], class_sep=1.5, random_state=0
    )
    groups = np.repeat(np.arange(24), 2)
    return X, y, groups


def appendix_a_pipeline(n_jobs=None):
    """The paper's Appendix A protocol, shrunk to test size."""
    return Pipeline(
        [
            ("variance", VarianceThreshold()),
            ("kbest", SelectKBest(f_classif, k=8)),
            ("oversample", RandomOverSampler(random_state=0)),
            ("rfe", RFE(SVC(kernel="linear"), n_features_to_select=4, step=2)),
            (
                "rf",
                RandomForestClassifier(
                    n_estimators=5, class_weight="balanced", random_state=0, n_jobs=n_jobs
                ),
            ),
        ]
    )


def plain_loop(estimator, X, y, grid, outer, inner, groups=None, scoring="f1"):
    """The reference: GridSearchCV inside an outer loop, scikit-learn only."""
    scorer = check_scoring(estimator, scoring=scoring)
    scores, best, means = [], [], []
    for train, test in outer.split(X, y, groups):
        search = GridSearchCV(clone(estimator), grid, cv=inner, scoring=scoring)
        fit_groups = None if groups is None else groups[train]
        search.fit(X[train], y[train], groups=fit_groups)
        scores.append(scorer(search, X[test], y[test]))
        best.append(search.best_params_)
        means.append(search.cv_results_["mean_test_score"])
    return np.array(scores), best, means


def assert_same(result, reference):
    scores, best, means = reference
    np.testing.assert_array_equal(result["test_score"], scores)
    assert result["best_params"] == best
    for fold, mean in zip(result["cv_results"], means, strict=True):
        np.testing.assert_array_equal(fold["mean_test_score"], mean)


def test_equal_to_plain_loop_on_appendix_a_pipeline(data):
    X, y, _ = data
    outer = StratifiedKFold(3, shuffle=True, random_state=1)
    inner = StratifiedKFold(3, shuffle=True, random_state=2)
    pipe = appendix_a_pipeline()
    result = nested_cross_validate(pipe, X, y, param_grid=GRID, outer_cv=outer, inner_cv=inner)
    assert_same(result, plain_loop(pipe, X, y, GRID, outer, inner))
    assert result["test_score"].shape == (3,) and (result["test_score"] > 0).all()
    assert result["fit_time"].shape == (3,) and (result["fit_time"] > 0).all()
    np.testing.assert_array_equal(
        result["best_score"],
        [cv["mean_test_score"][cv["rank_test_score"].argmin()] for cv in result["cv_results"]],
    )


def test_groups_reach_inner_cv_and_match_plain_loop(data):
    X, y, groups = data
    pipe = appendix_a_pipeline()
    result = nested_cross_validate(pipe, X, y, groups=groups, param_grid=GRID, random_state=0)
    splitter = StratifiedGroupKFold(3, shuffle=True, random_state=0)
    assert_same(result, plain_loop(pipe, X, y, GRID, splitter, splitter, groups=groups))


def test_integer_cv_without_random_state_is_unshuffled_stratified(data):
    X, y, _ = data
    pipe = appendix_a_pipeline()
    result = nested_cross_validate(pipe, X, y, param_grid=GRID, outer_cv=3, inner_cv=2)
    reference = plain_loop(pipe, X, y, GRID, StratifiedKFold(3), StratifiedKFold(2))
    assert_same(result, reference)


def test_grid_over_upstream_parameters_still_exact(data):
    X, y, _ = data
    grid = {"kbest__k": [6, 8], "rf__max_depth": [2, 3], "scale": [StandardScaler(), "passthrough"]}
    pipe = Pipeline(
        [("scale", StandardScaler()), ("kbest", SelectKBest(k=8)), *appendix_a_pipeline().steps[2:]]
    )
    splitter = StratifiedKFold(3, shuffle=True, random_state=3)
    result = nested_cross_validate(
        pipe, X, y, param_grid=grid, outer_cv=splitter, inner_cv=splitter
    )
    assert_same(result, plain_loop(pipe, X, y, grid, splitter, splitter))


def test_plain_estimator_and_sklearn_pipeline_and_other_scorer(data):
    X, y, _ = data
    splitter = StratifiedKFold(3, shuffle=True, random_state=4)
    tree = DecisionTreeClassifier(random_state=0)
    grid = {"max_depth": [1, 2, 3]}
    result = nested_cross_validate(
        tree, X, y, param_grid=grid, outer_cv=splitter, inner_cv=splitter, scoring="roc_auc"
    )
    assert_same(result, plain_loop(tree, X, y, grid, splitter, splitter, scoring="roc_auc"))

    sk_pipe = SkPipeline([("scale", StandardScaler()), ("tree", tree)])
    sk_grid = {"tree__max_depth": [1, 3]}
    result = nested_cross_validate(
        sk_pipe, X, y, param_grid=sk_grid, outer_cv=splitter, inner_cv=splitter
    )
    assert_same(result, plain_loop(sk_pipe, X, y, sk_grid, splitter, splitter))


def test_a_callable_scorer_gets_the_whole_pipeline_and_raw_rows_as_in_grid_search():
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    X, y = make_classification(n_samples=60, n_features=6, random_state=1)
    table = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    table["site"] = np.where(np.arange(60) % 3 == 0, "A", "B")

    seen = []

    def site_a_accuracy(estimator, X, y):
        seen.append(type(estimator).__name__)
        on_a = np.asarray(X["site"] == "A")  # needs the raw table, not transformed rows
        return float(np.mean(estimator.predict(X[on_a]) == np.asarray(y)[on_a]))

    pipe = Pipeline(
        [
            (
                "encode",
                make_column_transformer((OneHotEncoder(), ["site"]), remainder="passthrough"),
            ),
            ("tree", DecisionTreeClassifier(random_state=0)),
        ]
    )
    grid = {"tree__max_depth": [1, 3]}
    splitter = StratifiedKFold(3, shuffle=True, random_state=2)
    result = nested_cross_validate(
        pipe, table, y, param_grid=grid, outer_cv=splitter, inner_cv=splitter,
        scoring=site_a_accuracy,
    )  # fmt: skip
    assert set(seen) == {"Pipeline"}
    scores, best, means = [], [], []
    for train, test in splitter.split(table, y):
        search = GridSearchCV(clone(pipe), grid, cv=splitter, scoring=site_a_accuracy)
        search.fit(table.iloc[train], y[train])
        scores.append(site_a_accuracy(search, table.iloc[test], y[test]))
        best.append(search.best_params_)
        means.append(search.cv_results_["mean_test_score"])
    assert_same(result, (np.array(scores), best, means))


@pytest.mark.parametrize(
    ("with_groups", "splitters", "error", "match"),
    [
        (True, {"outer_cv": StratifiedKFold(3)}, GroupLeakageError,
         r"outer_cv=StratifiedKFold\(.*\) ignores groups: fold 1 of the outer loop has \d+ "
         r"patient\(s\) on both sides"),
        (True, {"inner_cv": StratifiedKFold(3)}, GroupLeakageError,
         r"inner_cv=StratifiedKFold\(.*\) ignores groups: fold 1 of the inner loop of outer "
         r"fold 1 has"),
        (False, {"outer_cv": GroupKFold(3)}, ValueError,
         r"outer_cv=GroupKFold\(.*\) splits by patient, but groups=None; pass groups"),
    ],
)  # fmt: skip
def test_splitters_that_cannot_keep_patients_apart_are_refused_before_any_fit(
    data, with_groups, splitters, error, match
):
    X, y, groups = data
    with pytest.raises(error, match=match):
        nested_cross_validate(
            DecisionTreeClassifier(), X, y, groups=groups if with_groups else None,
            param_grid={"max_depth": [1]}, **splitters,
        )  # fmt: skip


def test_several_scorers_are_refused_with_the_fix(data):
    X, y, _ = data
    with pytest.raises(
        ValueError,
        match=r"scoring=\['f1', 'accuracy'\] names several scorers;"
        r" .* return_estimator=True",
    ):
        nested_cross_validate(DecisionTreeClassifier(), X, y, param_grid={"max_depth": [1]},
                              scoring=["f1", "accuracy"])  # fmt: skip


def test_return_estimator_refits_best_and_restores_n_jobs(data):
    X, y, _ = data
    pipe = appendix_a_pipeline(n_jobs=-1)
    result = nested_cross_validate(
        pipe, X, y, param_grid=GRID, random_state=0, return_estimator=True
    )
    assert len(result["estimator"]) == 3
    for fitted, params in zip(result["estimator"], result["best_params"], strict=True):
        forest = fitted.named_steps["rf"]
        assert forest.n_jobs == -1
        assert forest.max_depth == params["rf__max_depth"]
        assert len(forest.estimators_) == 5


@pytest.mark.slow
def test_same_scores_with_processes_and_on_dask(data):
    distributed = pytest.importorskip("distributed")
    X, y, _ = data
    pipe = Pipeline(
        [
            ("oversample", RandomOverSampler(random_state=0)),
            ("rf", DecisionTreeClassifier(random_state=0)),
        ]
    )
    sequential = nested_cross_validate(pipe, X, y, param_grid=GRID, random_state=0)
    two_workers = nested_cross_validate(pipe, X, y, param_grid=GRID, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(two_workers["test_score"], sequential["test_score"])
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = nested_cross_validate(pipe, X, y, param_grid=GRID, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(on_dask["test_score"], sequential["test_score"])
    assert on_dask["best_params"] == sequential["best_params"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"outer_cv": 1}, ValueError, "outer_cv=1 is less than 2; use outer_cv >= 2 folds."),
        ({"inner_cv": "five"}, TypeError, "inner_cv='five' is neither an int nor a splitter"),
        ({"param_grid": []}, ValueError, "param_grid is empty"),
    ],
)
def test_errors(data, kwargs, error, match):
    X, y, _ = data
    params = {"param_grid": {"max_depth": [1]}} | kwargs
    with pytest.raises(error, match=match):
        nested_cross_validate(DecisionTreeClassifier(), X, y, **params)


def test_a_failing_fit_says_which_fold_and_settings():
    from imblearn.over_sampling import SMOTE
    from sklearn.linear_model import LogisticRegression

    from pitfalls.pipeline import make_pipeline

    X = np.random.default_rng(0).normal(size=(137, 4))
    y = np.r_[np.ones(8, int), np.zeros(129, int)]  # the paper's 8 events in 137
    pipe = make_pipeline(SMOTE(random_state=0), DecisionTreeClassifier(random_state=0))
    grid = {"decisiontreeclassifier__max_depth": [2, 3]}
    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit") as caught:
        nested_cross_validate(pipe, X, y, param_grid=grid, random_state=0)
    (note,) = caught.value.__notes__
    assert note.startswith("nested_cross_validate: raised while fitting outer fold 1, inner fold")
    assert "training rows per class: 0: " in note and "use RandomOverSampler" in note
    # no pipeline to share: the whole estimator is fitted per candidate, named in the note
    with pytest.raises(ValueError, match="'C' parameter") as caught:
        nested_cross_validate(LogisticRegression(), X, y, param_grid={"C": [1.0, -1.0]})
    assert "with {'C': -1.0} (training rows per class" in caught.value.__notes__[0]


@pytest.mark.parametrize("scoring", ["recall", ["accuracy", "precision"], {"f": "f1"}])
def test_string_labels_with_a_class_1_scorer_are_refused(scoring):
    X, y = np.zeros((12, 2)), np.tile(["no", "yes"], 6)
    with pytest.raises(ValueError, match="scores the class labelled 1, but y's classes are"):
        nested_cross_validate(DecisionTreeClassifier(), X, y, param_grid={"max_depth": [1]},
                              scoring=scoring)  # fmt: skip


# ------------------------------------------------------------------ lean forests (opt-in)

needs_lean = pytest.mark.skipif(
    not _compat.LEAN_FORESTS, reason="lean forests are checked on other scikit-learn versions"
)


@needs_lean
@pytest.mark.parametrize(
    "params",
    [
        {"max_depth": 6, "min_samples_leaf": 3, "class_weight": "balanced"},
        {"max_features": 0.5, "min_samples_split": 0.1, "min_samples_leaf": 0.02},
        {"criterion": "entropy", "bootstrap": False, "max_features": None, "ccp_alpha": 0.01},
        {"class_weight": "balanced_subsample", "max_samples": 0.7, "max_leaf_nodes": 6},
        {"criterion": "log_loss", "max_features": 3, "min_weight_fraction_leaf": 0.05},
    ],
)
def test_lean_forest_builds_scikit_learns_trees_node_by_node(data, params):
    X, y, _ = data
    reference = RandomForestClassifier(n_estimators=40, random_state=3, **params).fit(X, y)
    lean = _compat.LeanRandomForestClassifier(n_estimators=40, random_state=3, **params)
    lean.fit(X, y)
    for ours, theirs in zip(lean.estimators_, reference.estimators_, strict=True):
        assert isinstance(ours, DecisionTreeClassifier)
        assert ours.get_params() == theirs.get_params()  # the same seed per tree too
        for attr in ("feature", "threshold", "value", "children_left", "n_node_samples"):
            np.testing.assert_array_equal(getattr(ours.tree_, attr), getattr(theirs.tree_, attr))
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        assert ours.n_classes_ == theirs.n_classes_ and ours.max_features_ == theirs.max_features_
    np.testing.assert_array_equal(lean.predict_proba(X), reference.predict_proba(X))


@needs_lean
def test_lean_forests_give_the_plain_loops_results_and_hand_back_plain_forests(data):
    X, y, _ = data
    outer = StratifiedKFold(3, shuffle=True, random_state=1)
    inner = StratifiedKFold(3, shuffle=True, random_state=2)
    pipe = appendix_a_pipeline()
    result = nested_cross_validate(
        pipe, X, y, param_grid=GRID, outer_cv=outer, inner_cv=inner, lean_forests=True,
        return_estimator=True,
    )  # fmt: skip
    assert_same(result, plain_loop(pipe, X, y, GRID, outer, inner))
    for fitted in result["estimator"]:
        assert type(fitted.named_steps["rf"]) is RandomForestClassifier
        assert {type(tree) for tree in fitted.named_steps["rf"].estimators_} == {
            DecisionTreeClassifier
        }
    forest = RandomForestClassifier(n_estimators=5, random_state=0)  # alone: no sharing
    grid = {"max_depth": [2, 4]}
    result = nested_cross_validate(
        forest, X, y, param_grid=grid, outer_cv=outer, inner_cv=inner, lean_forests=True
    )
    assert_same(result, plain_loop(forest, X, y, grid, outer, inner))


def test_only_a_plain_forest_alone_or_last_is_made_lean():
    from pitfalls.model_selection._nested import _with_lean_forest

    class MyForest(RandomForestClassifier):
        pass

    forest = RandomForestClassifier(n_estimators=7, max_depth=3)
    lean = _with_lean_forest(forest)
    assert type(lean) is _compat.LeanRandomForestClassifier
    assert lean.get_params() == forest.get_params()
    pipe = _with_lean_forest(SkPipeline([("scale", StandardScaler()), ("rf", clone(forest))]))
    assert type(pipe.named_steps["rf"]) is _compat.LeanRandomForestClassifier
    for other in (MyForest(), DecisionTreeClassifier(), SkPipeline([("rf", MyForest())])):
        assert _with_lean_forest(other) is other


def test_lean_forests_on_an_unchecked_scikit_learn_warn_and_fit_plainly(data, monkeypatch):
    import pitfalls.model_selection._nested as nested

    monkeypatch.setattr(nested, "LEAN_FORESTS", False)
    X, y, _ = data
    forest = RandomForestClassifier(n_estimators=5, random_state=0)
    splitter = StratifiedKFold(3, shuffle=True, random_state=0)
    with pytest.warns(UserWarning, match=r"lean_forests=True has no effect with scikit-learn"):
        result = nested_cross_validate(
            forest, X, y, param_grid={"max_depth": [2]}, outer_cv=splitter,
            inner_cv=splitter, lean_forests=True,
        )  # fmt: skip
    assert_same(result, plain_loop(forest, X, y, {"max_depth": [2]}, splitter, splitter))


# ---------------------------------------------------------------------- the result


def test_result_is_cross_validates_dict_plus_the_protocol(data):
    import pandas as pd
    from sklearn.model_selection import cross_validate

    from pitfalls.model_selection import NestedCVResult

    X, y, _ = data
    tree = DecisionTreeClassifier(random_state=0)
    grid = {"max_depth": [1, 3]}
    result = nested_cross_validate(tree, X, y, param_grid=grid, return_estimator=True)
    assert isinstance(result, NestedCVResult) and isinstance(result, dict)
    reference = cross_validate(tree, X, y, cv=3, return_estimator=True)
    assert set(reference) <= set(result)  # every key code written for cross_validate reads
    assert list(result) == [*result.keys()] and "test_score" in result and "nope" not in result
    assert set(result) == {
        "test_score", "fit_time", "score_time", "best_params", "best_score", "cv_results",
        "estimator",
    }  # fmt: skip
    per_fold = pd.DataFrame({k: result[k] for k in ("test_score", "fit_time", "score_time")})
    assert len(per_fold) == 3
    frame = result.to_frame()
    assert frame.index.name == "outer_fold" and list(frame.index) == [0, 1, 2]
    np.testing.assert_array_equal(frame["test_score"], result["test_score"])
    np.testing.assert_array_equal(frame["best_score"], result["best_score"])
    assert frame["max_depth"].tolist() == [p["max_depth"] for p in result["best_params"]]
    markdown = result.to_markdown(digits=2).splitlines()
    assert markdown[0].startswith("| outer_fold | test_score | best_score |")
    assert len(markdown) == 2 + 3
    assert markdown[2].split(" | ")[1] == f"{result['test_score'][0]:.2f}"
    text = repr(result)
    assert text.startswith("NestedCVResult(test_score ")
    assert (
        f"{np.mean(result['test_score']):.3f} ± {np.std(result['test_score'], ddof=1):.3f}" in text
    )
    assert "over 3 outer folds" in text


def test_result_plot_shows_inner_and_outer_score_per_fold(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y, _ = data
    result = nested_cross_validate(
        DecisionTreeClassifier(random_state=0), X, y, param_grid={"max_depth": [1, 3]}
    )
    ax = result.plot()
    inner_line, outer_line = ax.get_lines()
    np.testing.assert_array_equal(inner_line.get_ydata(), result["best_score"])
    np.testing.assert_array_equal(outer_line.get_ydata(), result["test_score"])
    plt.close(ax.figure)


def test_grid_objects_are_not_fitted_in_place(data):
    """The grid's estimators are cloned per fit, as GridSearchCV does (they were fitted)."""
    X, y, _ = data
    scaler = StandardScaler()
    pipe = Pipeline([("scale", StandardScaler()), ("tree", DecisionTreeClassifier())])
    grid = {"scale": [scaler, "passthrough"], "tree__max_depth": [1, 2]}
    nested_cross_validate(pipe, X, y, param_grid=grid, random_state=0)
    assert not hasattr(scaler, "mean_")


@given(
    st.lists(
        st.fixed_dictionaries(
            {"k": st.integers(1, 3), "rf__max_depth": st.integers(1, 3)},
            optional={"scale": st.sampled_from(["passthrough", None])},
        ),
        min_size=1,
        max_size=12,
    )
)
def test_sharing_plan_puts_every_candidate_in_exactly_one_group_of_equal_upstream(candidates):
    from pitfalls.model_selection._nested import _sharing_plan, _split_params

    plan = _sharing_plan(candidates, "rf")
    members = sorted(index for _, group in plan for index in group)
    assert members == list(range(len(candidates)))
    for upstream, group in plan:
        for index in group:
            assert _split_params(candidates[index], "rf")[0] == upstream
    upstreams = [upstream for upstream, _ in plan]
    assert all(a != b for i, a in enumerate(upstreams) for b in upstreams[i + 1 :])
