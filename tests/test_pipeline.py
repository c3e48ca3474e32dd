"""Tests for pitfalls.pipeline: metadata-following Pipeline, AugmentationSampler, LeakageGuard."""

from __future__ import annotations

import os
import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from pitfalls.exceptions import LeakageError, LeakageWarning
from pitfalls.pipeline import AugmentationSampler, LeakageGuard, Pipeline, make_pipeline
from pitfalls.pipeline._hashing import _odd_keys, row_hashes, sparse_row_hashes
from pitfalls.pipeline._provenance import source_indices


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Records the metadata it receives in fit, to check what the pipeline routed."""

    def fit(self, X, y, groups=None, sample_weight=None):
        self.seen_X_ = np.asarray(X)
        self.seen_groups_ = None if groups is None else np.asarray(groups)
        self.seen_weight_ = None if sample_weight is None else np.asarray(sample_weight)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def _imbalanced(n_major=12, n_minor=4, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_major + n_minor, n_features))
    y = np.array([0] * n_major + [1] * n_minor)
    groups = np.array([f"p{i // 2}" for i in range(len(y))])
    return X, y, groups


# --------------------------------------------------------------------------- Pipeline


@pytest.mark.parametrize(
    "sampler",
    [
        RandomOverSampler(random_state=0),
        RandomUnderSampler(random_state=0),
        SMOTE(k_neighbors=2, random_state=0),
    ],
    ids=["ros", "rus", "smote"],
)
def test_groups_follow_resampling_to_final_step(sampler):
    X, y, groups = _imbalanced()
    pipe = Pipeline([("sampler", sampler), ("clf", RecordingClassifier())])
    pipe.fit(X, y, clf__groups=groups, clf__sample_weight=np.arange(len(y), dtype=float))
    clf = pipe.named_steps["clf"]
    idx = pipe.sample_indices_
    assert len(clf.seen_groups_) == len(clf.seen_X_) == len(idx)
    np.testing.assert_array_equal(clf.seen_groups_, groups[idx])
    np.testing.assert_array_equal(clf.seen_weight_, np.arange(len(y), dtype=float)[idx])
    # every row is its source row (duplicates) or, for SMOTE, built from a same-class row
    exact = np.all(clf.seen_X_ == X[idx], axis=1)
    if not isinstance(sampler, SMOTE):
        assert exact.all()
    else:
        assert exact[: len(y)].all() and not exact[len(y) :].any()
        assert set(y[idx[len(y) :]]) == {1}


def test_smote_synthetic_row_maps_to_nearest_same_class_row():
    X, y, _ = _imbalanced(n_features=2)
    smote = SMOTE(k_neighbors=2, random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    idx = source_indices(smote, X, y, X_res, y_res)
    for row, label, src in zip(X_res[len(y) :], y_res[len(y) :], idx[len(y) :], strict=True):
        same_class = np.flatnonzero(y == label)
        distances = np.linalg.norm(X[same_class] - row, axis=1)
        assert src == same_class[np.argmin(distances)]


def _clinical_table(n_major=40, n_minor=10, seed=0):
    """Numeric and categorical columns, as in a clinical cohort's table."""
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 8, n),
            "dose": rng.normal(70, 5, n),
            "stage": rng.choice(["I", "II", "III"], n),
            "site": rng.choice(["oral", "larynx"], n),
        }
    )
    return table, np.array([0] * n_major + [1] * n_minor)


def test_smotenc_on_a_mixed_table_fits_like_imblearn_and_keeps_patients():
    from imblearn.over_sampling import SMOTENC
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    table, y = _clinical_table()
    groups = np.array([f"p{i // 2}" for i in range(len(y))])

    def steps():
        encode = make_column_transformer(
            (OneHotEncoder(), ["stage", "site"]), remainder=StandardScaler()
        )
        return [
            ("smote", SMOTENC(categorical_features=["stage", "site"], random_state=0)),
            ("encode", encode),
            ("clf", LogisticRegression()),
        ]

    ours = Pipeline(steps()).fit(table, y)
    reference = ImbPipeline(steps()).fit(table, y)
    np.testing.assert_allclose(ours.predict_proba(table), reference.predict_proba(table))

    X_res, y_res = SMOTENC(categorical_features=["stage", "site"], random_state=0).fit_resample(
        table, y
    )
    idx = source_indices(ours.named_steps["smote"], table, y, X_res, y_res)
    np.testing.assert_array_equal(idx[: len(y)], np.arange(len(y)))
    # a synthetic row's source: the minority row nearest in the interpolated numeric columns
    numeric = table[["age", "dose"]].to_numpy()
    minority = np.flatnonzero(y == 1)
    synthetic = X_res[["age", "dose"]].to_numpy()[len(y) :]
    for row, source in zip(synthetic, idx[len(y) :], strict=True):
        distances = np.linalg.norm(numeric[minority] - row, axis=1)
        assert source == minority[np.argmin(distances)]
    # and the patient ids follow into a group-aware step
    recorded = Pipeline([*steps()[:2], ("clf", RecordingClassifier())])
    recorded.fit(table, y, clf__groups=groups)
    np.testing.assert_array_equal(recorded[-1].seen_groups_, groups[recorded.sample_indices_])
    assert set(recorded[-1].seen_groups_[len(y) :]) <= set(groups[minority])


def test_smoten_on_categories_only_maps_to_the_closest_minority_row():
    from imblearn.over_sampling import SMOTEN

    table, y = _clinical_table(seed=1)
    categories = table[["stage", "site"]].to_numpy()
    smoten = SMOTEN(random_state=0)
    X_res, y_res = smoten.fit_resample(categories, y)
    idx = source_indices(smoten, categories, y, X_res, y_res)
    minority = np.flatnonzero(y == 1)
    for row, source in zip(X_res[len(y) :], idx[len(y) :], strict=True):
        mismatches = (categories[minority] != row).sum(axis=1)
        assert source in minority[mismatches == mismatches.min()]


def test_sparse_rows_get_the_sources_of_their_dense_rows_without_densifying():
    import tracemalloc

    from scipy import sparse

    X = sparse.random(300, 20_000, density=0.002, format="csr", random_state=0, dtype=float)
    y = np.array([0] * 260 + [1] * 40)
    smote = SMOTE(random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    dense_sources = source_indices(smote, X.toarray(), y, X_res.toarray(), y_res)
    tracemalloc.start()
    try:
        sparse_sources = source_indices(smote, X, y, X_res, y_res)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(sparse_sources, dense_sources)
    assert peak < X.shape[0] * X.shape[1] * 8 / 10  # a tenth of the dense input


class _NoIndicesSampler:
    """Stands for a sampler that does not say where its rows came from."""


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_source_rows_are_equal_rows_of_the_class_or_its_nearest(data):
    from scipy import sparse

    n_rows = data.draw(st.integers(2, 12))
    n_columns = data.draw(st.integers(1, 4))
    values = st.integers(-2, 2).map(float)  # few values: equal rows happen
    X_in = data.draw(arrays(np.float64, (n_rows, n_columns), elements=values))
    y_in = data.draw(arrays(np.int64, n_rows, elements=st.integers(0, 1)))
    picks = data.draw(st.lists(st.integers(0, n_rows - 1), min_size=1, max_size=10))
    mates = data.draw(st.lists(st.integers(0, n_rows - 1), min_size=len(picks),
                               max_size=len(picks)))  # fmt: skip
    steps = data.draw(arrays(np.float64, len(picks), elements=st.sampled_from([0.0, 0.3, 1.0])))
    # SMOTE-like rows: from a row towards a row of the same class (itself when none)
    mates = [m if y_in[m] == y_in[p] else p for p, m in zip(picks, mates, strict=True)]
    X_out = X_in[picks] + steps[:, None] * (X_in[mates] - X_in[picks])
    y_out = y_in[picks]
    sources = source_indices(_NoIndicesSampler(), X_in, y_in, X_out, y_out)
    assert (y_in[sources] == y_out).all()
    for row, label, source in zip(X_out, y_out, sources, strict=True):
        same_class = np.flatnonzero(y_in == label)
        equal = same_class[(X_in[same_class] == row).all(axis=1)]
        if equal.size:  # an equal row of its class: the first one
            assert source == equal[0]
        else:  # else the first of the nearest rows of its class
            distances = np.linalg.norm(X_in[same_class] - row, axis=1)
            nearest = same_class[np.isclose(distances, distances.min(), rtol=1e-9, atol=1e-12)]
            assert source == nearest[0] or len(nearest) > 4  # ties beyond 4: any of them
            assert source in nearest
    as_sparse = source_indices(
        _NoIndicesSampler(), sparse.csr_matrix(X_in), y_in, sparse.csr_matrix(X_out), y_out
    )
    np.testing.assert_array_equal(as_sparse, sources)


def test_chained_samplers_compose_indices():
    X, y, groups = _imbalanced()
    pipe = make_pipeline(
        RandomOverSampler(random_state=0),
        AugmentationSampler(lambda x, rng: x + 1.0, n_copies=2, random_state=0),
        RecordingClassifier(),
    )
    pipe.fit(X, y, recordingclassifier__groups=groups)
    idx = pipe.sample_indices_
    assert len(idx) == 3 * 2 * 12
    np.testing.assert_array_equal(pipe[-1].seen_groups_, groups[idx])
    offsets = pipe[-1].seen_X_ - X[idx]
    assert set(np.round(offsets[:, 0], 6)) == {0.0, 1.0}


def test_inner_group_cv_stays_patient_disjoint_after_oversampling():
    X, y, groups = _imbalanced(n_major=18, n_minor=6)
    seen = []

    class CheckingKFold(GroupKFold):
        def split(self, X, y=None, groups=None):
            for train, test in super().split(X, y, groups):
                seen.append(set(groups[train]) & set(groups[test]))
                yield train, test

    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=CheckingKFold(3))
    pipe = Pipeline([("ros", RandomOverSampler(random_state=0)), ("search", search)])
    pipe.fit(X, y, search__groups=groups)
    assert seen and all(not shared for shared in seen)


def test_groups_follow_resampling_with_metadata_routing():
    X, y, groups = _imbalanced()
    with sklearn.config_context(enable_metadata_routing=True):
        clf = RecordingClassifier().set_fit_request(groups=True, sample_weight=False)
        pipe = Pipeline([("ros", RandomOverSampler(random_state=0)), ("clf", clf)])
        pipe.fit(X, y, groups=groups)
    np.testing.assert_array_equal(pipe[-1].seen_groups_, groups[pipe.sample_indices_])
    assert len(pipe[-1].seen_groups_) == 24


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sampler", [RandomOverSampler(random_state=0), SMOTE(random_state=0)])
def test_routing_on_without_metadata_fits_like_imblearn(sampler):
    X, y, _ = _imbalanced(n_major=30, n_minor=10)
    with sklearn.config_context(enable_metadata_routing=True):
        ours = Pipeline([("sampler", sampler), ("lr", LogisticRegression())]).fit(X, y)
        reference = ImbPipeline([("sampler", sampler), ("lr", LogisticRegression())]).fit(X, y)
        scores = cross_val_score(Pipeline([("sampler", sampler), ("lr", LogisticRegression())]),
                                 X, y, cv=3)  # fmt: skip
    np.testing.assert_array_equal(ours[-1].coef_, reference[-1].coef_)
    assert len(ours.sample_indices_) == 60 and scores.shape == (3,)


def test_pipeline_predict_skips_samplers_and_matches_imblearn():
    X, y, _ = _imbalanced(n_major=30, n_minor=10)

    def steps():
        return [
            ("scale", StandardScaler()),
            ("ros", RandomOverSampler(random_state=0)),
            ("tree", DecisionTreeClassifier(random_state=0)),
        ]

    ours = Pipeline(steps()).fit(X, y)
    reference = ImbPipeline(steps()).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))
    assert ours.predict(X[:5]).shape == (5,)
    assert cross_val_score(clone(ours), X, y, cv=3).shape == (3,)


def test_pipeline_without_sampler_has_identity_indices():
    X, y, _ = _imbalanced()
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(pipe.sample_indices_, np.arange(len(y)))


# ---------------------------------------------------------------- AugmentationSampler


def test_augmentation_sampler_copies_and_reproducibility():
    X = np.arange(12, dtype=float).reshape(4, 3)
    y = np.array([0, 1, 0, 1])

    def noise(x, rng):
        return x + rng.normal(size=x.shape)

    X1, y1 = AugmentationSampler(noise, n_copies=2, random_state=3).fit_resample(X, y)
    X2, _ = AugmentationSampler(noise, n_copies=2, random_state=3).fit_resample(X, y)
    X3, _ = AugmentationSampler(noise, n_copies=2, random_state=4).fit_resample(X, y)
    assert X1.shape == (12, 3)
    np.testing.assert_array_equal(X1[:4], X)
    np.testing.assert_array_equal(y1, np.tile(y, 3))
    np.testing.assert_array_equal(X1, X2)
    assert not np.array_equal(X1, X3)
    assert not np.array_equal(X1[4:8], X1[8:12])  # copies differ from each other


def test_augmentation_sampler_images_dataframe_and_no_y():
    images = np.zeros((3, 5, 5, 2), dtype=np.uint8)
    out, y_out = AugmentationSampler(lambda im, rng: im + 1, n_copies=1).fit_resample(images)
    assert out.shape == (6, 5, 5, 2) and out.dtype == np.uint8 and y_out is None
    assert out[3:].min() == 1
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    out_frame, _ = AugmentationSampler(lambda x, rng: x * 10).fit_resample(frame, [0, 1])
    assert list(out_frame.columns) == ["a", "b"]
    assert out_frame["a"].tolist() == [1.0, 2.0, 10.0, 20.0]


def test_augmented_copies_keep_what_transform_made():
    images = np.full((2, 2, 2), 10, dtype=np.uint8)
    darker = AugmentationSampler(lambda im, rng: im.astype(float) - 20)
    out = darker.fit_resample(images, [0, 1])[0]
    assert out.dtype == np.float64 and (out[2:] == -10).all()  # no uint8 wrap-around to 246
    flipped = AugmentationSampler(lambda im, rng: im[::-1]).fit_resample(images, [0, 1])[0]
    assert flipped.dtype == np.uint8  # a uint8 transform keeps the images uint8
    features = np.arange(6).reshape(3, 2)
    jittered = AugmentationSampler(lambda x, rng: x + 0.4).fit_resample(features, [0, 1, 0])[0]
    np.testing.assert_allclose(jittered[3:], features + 0.4)  # not truncated back to ints


def test_augmenting_a_mixed_table_keeps_its_column_dtypes():
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 8, 20),
            "grade": rng.choice(["G1", "G2"], 20),
            "site": pd.Categorical(rng.choice(["oral", "larynx"], 20)),
        }
    )
    y = pd.Series(np.arange(20) % 2, name="recurrence")

    def jitter_age(row, rng):
        row = row.copy()
        row[0] = row[0] + rng.normal()
        return row

    sampler = AugmentationSampler(jitter_age, random_state=0)
    X_res, y_res = sampler.fit_resample(table, y)
    assert X_res.dtypes.to_dict() == table.dtypes.to_dict()
    assert (X_res["grade"].iloc[20:].to_numpy() == table["grade"].to_numpy()).all()
    assert isinstance(y_res, pd.Series) and y_res.name == "recurrence" and len(y_res) == 40
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), make_column_selector(dtype_include="number")),
            ("cat", OneHotEncoder(), make_column_selector(dtype_exclude="number")),
        ]
    )
    pipe = make_pipeline(sampler, encode, LogisticRegression()).fit(table, y)
    assert pipe[-1].n_features_in_ == 1 + 2 + 2  # age scaled, grade and site one-hot
    assert pipe.predict(table.iloc[:3]).shape == (3,)


def test_augmented_tables_keep_every_dtype_their_values_allow():
    table = pd.DataFrame(
        {
            "i32": np.arange(6, dtype=np.int32),
            "u8": np.arange(6, dtype=np.uint8),
            "f32": np.arange(6, dtype=np.float32),
            "Int64": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "boolean": pd.array([True, False, None, True, True, False], dtype="boolean"),
            "site": pd.Categorical(list("abcabc")),
        }
    )
    y = np.arange(6) % 2
    same = AugmentationSampler(lambda x, rng: x).fit_resample(table, y)[0]
    assert same.dtypes.to_dict() == table.dtypes.to_dict()
    pd.testing.assert_frame_equal(same.iloc[6:].reset_index(drop=True), table)
    numbers = table[["i32", "u8", "f32"]]  # one float64 row array goes through transform
    shifted = AugmentationSampler(lambda x, rng: x + 0.5).fit_resample(numbers, y)[0]
    # +0.5 does not fit the integer columns: they become float; float32 holds it exactly
    assert shifted.dtypes.astype(str).tolist() == ["float64", "float64", "float32"]
    np.testing.assert_array_equal(shifted.iloc[6:].to_numpy(), numbers.to_numpy() + 0.5)
    renamed = AugmentationSampler(
        lambda x, rng: np.where(x == "a", "z", x), random_state=0
    ).fit_resample(table[["site"]], y)[0]
    # 'z' is no category: the column is kept as text, not cast to NaN
    assert not isinstance(renamed["site"].dtype, pd.CategoricalDtype)
    assert renamed["site"].iloc[6] == "z" and renamed["site"].notna().all()


def test_augmentation_sampler_refuses_sparse_input_with_the_fix():
    from scipy import sparse

    with pytest.raises(TypeError, match=r"got a SciPy sparse matrix \(csr_matrix\); .* X.toarray"):
        AugmentationSampler(lambda x, rng: x).fit_resample(sparse.csr_matrix(np.eye(3)), [0, 1, 0])


def test_augmentation_sampler_zero_copies_is_identity():
    X = np.eye(3)
    X_res, y_res = AugmentationSampler(lambda x, rng: x * 0, n_copies=0).fit_resample(X, [0, 1, 2])
    np.testing.assert_array_equal(X_res, X)
    assert y_res.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"func": "flip"}, TypeError, "func='flip' is not callable"),
        (
            {"func": lambda x, rng: x, "n_copies": -1},
            ValueError,
            "n_copies=-1 is not a non-negative integer",
        ),
        (
            {"func": lambda x, rng: x[:1]},
            ValueError,
            r"func returned shape \(1,\) for a sample of shape \(2,\)",
        ),
    ],
)
def test_augmentation_sampler_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        AugmentationSampler(**kwargs).fit_resample(np.zeros((2, 2)), [0, 1])


def _shift(x, rng):
    return x + rng.normal(size=x.shape)


def test_augmentation_sampler_stores_func_under_its_own_name():
    sampler = AugmentationSampler(_shift, n_copies=2, random_state=0)
    assert sampler.get_params() == {"func": _shift, "n_copies": 2, "random_state": 0}
    assert sampler.func is _shift
    assert "transform" not in vars(sampler) and not hasattr(sampler, "transform")
    twin = clone(sampler)
    assert twin.func is _shift and twin.get_params() == sampler.get_params()
    X, y = np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1])
    np.testing.assert_array_equal(sampler.fit_resample(X, y)[0], twin.fit_resample(X, y)[0])
    # a pipeline's nested parameters use the new name too
    pipe = make_pipeline(sampler, LogisticRegression())
    assert pipe.set_params(augmentationsampler__func=abs)[0].func is abs


def test_augmentation_sampler_transform_is_a_deprecated_alias_of_func():
    with pytest.warns(FutureWarning) as caught:
        old = AugmentationSampler(transform=_shift, n_copies=2, random_state=0)
    assert [str(w.message) for w in caught] == [
        "AugmentationSampler: the parameter 'transform' was renamed 'func' in pitfalls 0.1; "
        "'transform' will be removed in 0.3. Use 'func' instead."
    ]
    assert old.get_params() == {"func": _shift, "n_copies": 2, "random_state": 0}
    X, y = np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1])
    new = AugmentationSampler(_shift, n_copies=2, random_state=0)
    np.testing.assert_array_equal(old.fit_resample(X, y)[0], new.fit_resample(X, y)[0])
    with pytest.warns(FutureWarning, match="'transform' was renamed 'func'"):
        assert new.set_params(transform=abs).func is abs
    with pytest.warns(FutureWarning, match="attribute 'transform_func' was renamed 'func'"):
        assert new.transform_func is abs
    with pytest.raises(TypeError, match="got both 'func' and its deprecated spelling"):
        AugmentationSampler(func=abs, transform=abs)


def test_augmentation_only_in_fit_inside_pipeline():
    X, y, _ = _imbalanced()
    pipe = make_pipeline(AugmentationSampler(lambda x, rng: x + 100.0), RecordingClassifier())
    pipe.fit(X, y)
    assert len(pipe[-1].seen_X_) == 2 * len(y)
    assert pipe.predict(X).shape == (len(y),)  # predict sees the original rows only


# ---------------------------------------------------------------------- LeakageGuard


def test_guard_reports_count_and_positions():
    X, _, _ = _imbalanced(n_major=20, n_minor=10)
    y = np.arange(30) % 2
    guard = LeakageGuard(LogisticRegression()).fit(X[:20], y[:20])
    X_eval = np.vstack([X[20:], X[[3, 7]]])  # 10 new rows, then 2 training rows
    with pytest.warns(
        LeakageWarning,
        match=r"2 of 12 rows passed to predict were seen in fit .* at positions 10, 11\.",
    ) as caught:
        guard.predict(X_eval)
    assert caught[0].filename == __file__  # the warning points at the caller's line
    np.testing.assert_array_equal(guard.find_leaks(X_eval), [10, 11])
    np.testing.assert_array_equal(guard.predict(X[20:]), guard.estimator_.predict(X[20:]))
    # integer copies of float rows are the same rows
    ints = np.arange(6).reshape(3, 2)
    int_guard = LeakageGuard(DummyClassifier()).fit(ints, [0, 1, 0])
    assert int_guard.find_leaks(ints[1:].astype(float)).tolist() == [0, 1]


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function", "score"]
)
def test_guard_raise_on_every_evaluation_method(method):
    X, y, _ = _imbalanced()
    guard = LeakageGuard(LogisticRegression(), on_leak="raise").fit(X, y)
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(LeakageError, match=f"16 of 16 rows passed to {method} were seen in fit"):
        getattr(guard, method)(*args)


def test_guard_silent_on_clean_data_and_matches_estimator():
    X, y, _ = _imbalanced(n_major=20, n_minor=10)
    guard = LeakageGuard(LogisticRegression()).fit(X[::2], y[::2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = guard.score(X[1::2], y[1::2])
    assert score == LogisticRegression().fit(X[::2], y[::2]).score(X[1::2], y[1::2])


def test_guard_detects_oversampling_before_split():
    X, y, _ = _imbalanced(n_major=40, n_minor=8)
    X_over, y_over = RandomOverSampler(random_state=0).fit_resample(X, y)
    order = np.random.default_rng(0).permutation(len(y_over))
    train, test = order[:50], order[50:]
    guard = LeakageGuard(DecisionTreeClassifier(random_state=0)).fit(X_over[train], y_over[train])
    with pytest.warns(LeakageWarning, match="rows passed to score were seen in fit"):
        guard.score(X_over[test], y_over[test])


def test_guard_dataframe_with_strings_and_bad_on_leak():
    frame = pd.DataFrame({"site": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]})
    guard = LeakageGuard(DummyClassifier()).fit(frame, [0, 1, 0])
    assert guard.find_leaks(pd.DataFrame({"site": ["b", "z"], "x": [2.0, 2.0]})).tolist() == [0]
    with pytest.raises(
        ValueError, match="on_leak='ignore' is not supported; use 'warn' or 'raise'"
    ):
        LeakageGuard(DummyClassifier(), on_leak="ignore").fit(frame, [0, 1, 0])
    guard.set_params(on_leak="ignore")  # after fit: refused when the guard is used
    with pytest.raises(ValueError, match="on_leak='ignore' is not supported"):
        guard.predict(frame)


_TRICKY_FLOATS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, np.inf, -np.inf, 2.0**60])


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.integers(1, 6)),
        elements=st.one_of(_TRICKY_FLOATS, st.floats(-5, 5, width=16)),
    )
)
def test_row_hashes_equal_iff_rows_equal(X):
    h = row_hashes(X)
    _, row_ids = np.unique(
        X.view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))), return_inverse=True
    )
    _, hash_ids = np.unique(h, return_inverse=True)
    # the partition of rows by fingerprint equals the partition by bytes
    assert len(set(zip(row_ids.ravel().tolist(), hash_ids.tolist(), strict=True))) == len(
        set(row_ids.ravel().tolist())
    )
    assert len(set(hash_ids.tolist())) == len(set(row_ids.ravel().tolist()))


def test_row_hashes_sensitive_to_column_order_and_high_bits():
    base = np.array([[1.0, 2.0, 3.0]])
    variants = np.array(
        [
            [2.0, 1.0, 3.0],
            [1.0, 2.0, 3.0 * 2**40],
            [-1.0, 2.0, 3.0],
            [1.0, 2.0, np.nextafter(3.0, 4.0)],
        ]
    )
    assert not np.isin(row_hashes(variants), row_hashes(base)).any()
    # sign-bit flips in two columns used to cancel in the sum (found by hypothesis)
    signs = np.array([[0.0, 0.0], [-0.0, -0.0], [0.0, -0.0], [-0.0, 0.0]])
    assert len(set(row_hashes(signs).tolist())) == 4


def test_row_hashes_distinct_on_structured_variants():
    # one base row and its single-bit flips, two-column sign flips and column swaps
    base = np.random.default_rng(3).normal(size=24)
    base[:4] = [0.0, 1.0, 2.0, -3.0]  # round values: differences only in the high bits
    words = base.view(np.uint64)
    variants = [base]
    for col in range(24):
        for bit in range(64):
            flipped = words.copy()
            flipped[col] ^= np.uint64(1) << np.uint64(bit)
            variants.append(flipped.view(np.float64))
    for a in range(24):
        for b in range(a + 1, 24):
            signs = base.copy()
            signs[[a, b]] = -signs[[a, b]]
            swapped = base.copy()
            swapped[[a, b]] = swapped[[b, a]]
            variants += [signs, swapped]
    rows = np.array(variants)
    unique_rows = np.unique(rows.view(np.uint64), axis=0)
    assert np.unique(row_hashes(rows)).size == len(unique_rows)


_GUARD_DTYPES = st.sampled_from([np.float64, np.float32, np.int16, np.uint8, np.bool_])


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_guard_finds_exactly_the_copied_rows(data):
    # few distinct values: many evaluation rows share the key columns of a training row
    # without being copies, which exercises the full-row check after the key filter
    dtype = data.draw(_GUARD_DTYPES)
    tail = data.draw(st.sampled_from([(1,), (3,), (2, 3), (12,)]))
    n_fit = data.draw(st.integers(1, 40))
    values = {np.float64: _TRICKY_FLOATS, np.bool_: st.booleans()}.get(dtype, st.integers(0, 2))
    width = int(np.prod(tail))
    fit_rows = data.draw(arrays(dtype, (n_fit, *tail), elements=values))
    new_rows = data.draw(arrays(dtype, (data.draw(st.integers(0, 30)), *tail), elements=values))
    copies = data.draw(st.lists(st.integers(0, n_fit - 1), max_size=10))
    order = data.draw(st.permutations(range(len(new_rows) + len(copies))))
    eval_rows = np.concatenate([new_rows, fit_rows[copies]])[list(order)]

    guard = LeakageGuard(DummyClassifier()).fit(fit_rows, np.arange(n_fit) % 2)
    seen = {row.tobytes() for row in fit_rows.astype(np.float64).reshape(n_fit, width)}
    flat = eval_rows.astype(np.float64).reshape(len(eval_rows), width)
    expected = [i for i, row in enumerate(flat) if row.tobytes() in seen]
    assert guard.find_leaks(eval_rows).tolist() == expected
    # the same rows as float64, flattened: numbers compare as float64, images as vectors
    assert guard.find_leaks(flat).tolist() == expected


def test_guard_key_filter_edge_cases():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6))
    X[:, :3] = rng.integers(0, 2, size=(500, 3))  # low-cardinality columns
    guard = LeakageGuard(DummyClassifier()).fit(X, np.arange(500) % 2)
    changed = X[:50].copy()
    changed[:, 5] = np.nextafter(changed[:, 5], np.inf)  # same key columns, other rows
    assert guard.find_leaks(changed).size == 0
    assert guard.find_leaks(X[::-1]).tolist() == list(range(500))
    assert guard.find_leaks(X[:, :5]).size == 0  # other width: no copies possible
    assert guard.find_leaks(pd.DataFrame(X[7:9])).tolist() == [0, 1]
    # a guard pickled by an older pitfalls holds fingerprints of another function
    restored = pickle.loads(pickle.dumps(guard))
    assert restored.find_leaks(X[[3, 1]]).tolist() == [0, 1]
    del restored._fingerprint_scheme
    with pytest.raises(ValueError, match="'splitmix64-per-word' scheme, which cannot be"):
        restored.predict(X[:2])


def _multilinear_reference(row: np.ndarray) -> int:
    """row_hashes of one row, with Python integers: the formula in _hashing's docstring."""
    data = np.ascontiguousarray(row).tobytes()
    data += bytes(-len(data) % 8)
    pieces = [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]
    n_words = len(data) // 8
    keys = [int(key) for key in _odd_keys(2 * n_words - 1)]
    a, b = keys[:n_words], keys[n_words:]
    words = sum(a[j] * (pieces[2 * j] + (pieces[2 * j + 1] << 32)) for j in range(n_words))
    shifted = sum(
        b[j] * (pieces[2 * j + 1] + (pieces[2 * j + 2] << 32)) for j in range(n_words - 1)
    )
    h = (words + shifted) % 2**64
    for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        h = ((h ^ (h >> shift)) * multiplier) % 2**64
    return h ^ (h >> 31)


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((5, 7), np.float64),
        ((4, 1), np.float64),
        ((3, 5), np.float32),
        ((6, 3), np.uint8),
        ((2, 4, 3), np.int16),
        ((3, 2000), np.float64),
        ((4, 8), np.float64),
        ((4, 9), np.float64),
        ((9, 5), np.uint16),
    ],
)
def test_row_hashes_equal_the_multilinear_formula(shape, dtype):
    X = (np.random.default_rng(1).normal(size=shape) * 100).astype(dtype)
    assert row_hashes(X).tolist() == [_multilinear_reference(r) for r in X.reshape(len(X), -1)]


def test_row_hashes_of_column_major_tables_equal_the_row_major_ones():
    # DataFrame values are stored column by column, slices of them with gaps
    X = np.random.default_rng(2).normal(size=(600, 40))
    frame = pd.DataFrame(X)
    tables = [
        np.asfortranarray(X), frame.to_numpy(), frame.iloc[100:400].to_numpy(),
        frame.iloc[::3, 5:].to_numpy(), frame.iloc[:, [2, 9]].to_numpy(), X.T.copy().T[:, :1],
    ]  # fmt: skip
    for table in tables:
        expected = row_hashes(np.ascontiguousarray(table))
        assert row_hashes(table).tolist() == expected.tolist()


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 9), elements=st.floats(allow_nan=False)),
    st.data(),
)
def test_row_hashes_never_collide_on_one_changed_piece(row, data):
    # a difference confined to one 32-bit piece cannot vanish: every piece's key is odd
    pieces = row.copy().view(np.uint32)
    position = data.draw(st.integers(0, pieces.size - 1))
    new_value = data.draw(st.integers(0, 2**32 - 1).filter(lambda v: v != pieces[position]))
    pieces[position] = new_value
    assert row_hashes(row[None])[0] != row_hashes(pieces.view(np.float64)[None])[0]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_sparse_row_hashes_equal_the_dense_rows_hashes(data):
    from scipy import sparse

    n_rows, n_columns = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 12))
    cells = data.draw(st.sets(st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_columns - 1))))
    rows, columns = (np.array(c, dtype=np.int64) for c in zip(*cells, strict=True)) if cells else (
        np.empty(0, np.int64), np.empty(0, np.int64))  # fmt: skip
    values = data.draw(
        arrays(np.float64, len(cells), elements=st.one_of(_TRICKY_FLOATS, st.floats(-9, 9)))
    )
    # explicit zeros and -0.0 are stored: the dense rows read them as 0.0
    matrix = sparse.coo_matrix((values, (rows, columns)), shape=(n_rows, n_columns))
    dense = matrix.toarray()
    for form in (matrix, matrix.tocsr(), matrix.tocsc(), sparse.csr_array(matrix)):
        assert sparse_row_hashes(form).tolist() == row_hashes(dense).tolist()


def test_sparse_row_hashes_add_up_duplicates_and_skip_empty_rows():
    from scipy import sparse

    # duplicates add up as in toarray (whole numbers: the same sum in any order)
    matrix = sparse.coo_matrix(([1.0, 2.0, 5.0, -5.0], ([0, 0, 2, 2], [1, 1, 0, 0])), shape=(4, 3))
    assert sparse_row_hashes(matrix).tolist() == row_hashes(matrix.toarray()).tolist()
    assert sparse_row_hashes(sparse.csr_matrix((0, 5))).shape == (0,)


def test_guard_on_sparse_rows_never_densifies_them():
    from scipy import sparse

    # 2000 x 10 million: 160 GB as dense float64, 20 values per row as stored
    rng = np.random.default_rng(0)
    cells = (np.repeat(np.arange(2000), 20), rng.integers(0, 10_000_000, 40_000))
    wide = sparse.csr_matrix((rng.normal(size=40_000), cells), shape=(2000, 10_000_000))
    guard = LeakageGuard(DummyClassifier()).fit(wide[:1500], rng.integers(0, 2, 1500))
    assert guard.find_leaks(wide[1000:]).tolist() == list(range(500))
    small = sparse.random(30, 6, density=0.4, format="csr", random_state=1)
    guard = LeakageGuard(DummyClassifier()).fit(small[:20], np.arange(20) % 2)
    # copies are found whichever form they come in
    assert guard.find_leaks(small[15:].toarray()).tolist() == list(range(5))
    dense_guard = LeakageGuard(DummyClassifier()).fit(small[:20].toarray(), np.arange(20) % 2)
    assert dense_guard.find_leaks(small[15:]).tolist() == list(range(5))


class _InPlaceDoubler(ClassifierMixin, BaseEstimator):
    """Writes into its input, as estimators with copy=False may."""

    def fit(self, X, y):
        X *= 2.0
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def _large(n_rows=8000, n_columns=50, seed=0):  # 4000 rows are 1.6 MB: a second thread
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_rows, n_columns)), rng.integers(0, 2, n_rows)


def test_guard_on_large_arrays_hands_a_read_only_view_and_finds_the_same_rows():
    X, y = _large()
    guard = LeakageGuard(RecordingClassifier()).fit(X[:4000], y[:4000])
    seen = guard.estimator_.seen_X_
    assert not seen.flags.writeable and np.shares_memory(seen, X)
    assert X.flags.writeable  # the caller's array is untouched
    X_eval = np.vstack([X[4000:], X[[5, 3999, 5]]])
    with pytest.warns(
        LeakageWarning, match=r"3 of 4003 rows passed to predict .* positions 4000, 4001, 4002\."
    ):
        predictions = guard.predict(X_eval)
    assert predictions.shape == (4003,)
    small = LeakageGuard(DummyClassifier()).fit(X[:4000, :10], y[:4000])  # one thread
    assert small.find_leaks(X_eval[:, :10]).tolist() == guard.find_leaks(X_eval).tolist()
    strict = LeakageGuard(LogisticRegression(), on_leak="raise").fit(X[:4000], y[:4000])
    with pytest.raises(LeakageError, match="1 of 4000 rows passed to score"):
        strict.score(np.vstack([X[4001:], X[:1]]), y[4000:])


def test_guard_on_uint8_images_never_makes_a_float64_copy_of_them(monkeypatch):
    import tracemalloc

    from pitfalls.pipeline import _hashing

    monkeypatch.setattr(_hashing, "_CONVERSION_BLOCK_BYTES", 1 << 20)
    images = np.random.default_rng(0).integers(0, 256, (400, 64, 64, 3), dtype=np.uint8)
    labels = np.arange(400) % 2
    tracemalloc.start()
    try:
        guard = LeakageGuard(DummyClassifier()).fit(images[:300], labels[:300])
        leaks = guard.find_leaks(images[200:])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert leaks.tolist() == list(range(100))  # rows 200-299 were fitted
    assert peak < images.nbytes  # a float64 copy of the fitted rows would be 8 times 3.7 MB


def test_guard_works_beside_the_model_on_copy_on_write_dataframes(monkeypatch):
    from pitfalls.pipeline import _guard

    started = []

    class Counted(_guard._Background):
        def __init__(self, func, *args):
            started.append(func.__name__)
            super().__init__(func, *args)

    monkeypatch.setattr(_guard, "_Background", Counted)
    X, y = _large()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    guard = LeakageGuard(LogisticRegression()).fit(frame.iloc[:4000], y[:4000])
    with pytest.warns(LeakageWarning, match="2 of 4002 rows passed to predict"):
        guard.predict(pd.concat([frame.iloc[4000:], frame.iloc[[7, 9]]]))
    assert started == ["_fingerprint_training_rows", "find_leaks"]
    # one dtype per frame only (pandas hands out one block read-only); small ones in line
    mixed = frame.astype({"f0": np.float32})
    LeakageGuard(LogisticRegression()).fit(mixed.iloc[:4000], y[:4000])
    LeakageGuard(LogisticRegression()).fit(frame.iloc[:100], y[:100])
    assert len(started) == 2


def test_guard_on_a_memory_mapped_array_works_beside_the_model(tmp_path):
    X, y = _large()
    mapped = np.memmap(tmp_path / "X.dat", dtype=X.dtype, mode="w+", shape=X.shape)
    mapped[:] = X
    guard = LeakageGuard(RecordingClassifier()).fit(mapped[:4000], y[:4000])
    assert not guard.estimator_.seen_X_.flags.writeable and mapped.flags.writeable
    assert guard.find_leaks(X[3990:4010]).tolist() == list(range(10))


def test_guard_refits_an_estimator_that_writes_into_its_input_on_the_rows_as_passed():
    X, y = _large()
    original = X.copy()
    guard = LeakageGuard(_InPlaceDoubler()).fit(X, y)
    np.testing.assert_array_equal(X, 2 * original)  # it wrote into X itself, once
    assert guard.find_leaks(original).tolist() == list(range(len(X)))


def test_guard_on_large_arrays_raises_the_estimators_error():
    X, _ = _large()
    threads_before = threading.active_count()
    with pytest.raises(ValueError, match="needs samples of at least 2 classes"):
        LeakageGuard(LogisticRegression()).fit(X, np.zeros(len(X)))
    assert threading.active_count() == threads_before


def test_guard_stays_on_one_thread_with_one_cpu(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    X, y = _large()
    guard = LeakageGuard(RecordingClassifier()).fit(X, y)
    assert guard.estimator_.seen_X_.flags.writeable


def test_outer_and_inner_group_cv_with_routing_and_augmentation():
    X, y, groups = _imbalanced(n_major=12, n_minor=12)
    inner_overlaps = []

    class CheckingKFold(GroupKFold):
        def split(self, X, y=None, groups=None):
            for train, test in super().split(X, y, groups):
                inner_overlaps.append(set(groups[train]) & set(groups[test]))
                yield train, test

    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=CheckingKFold(2))
        pipe = make_pipeline(AugmentationSampler(lambda x, rng: x + 0.01, n_copies=2), search)
        scores = cross_val_score(pipe, X, y, cv=GroupKFold(3), params={"groups": groups})
    assert scores.shape == (3,)
    assert len(inner_overlaps) == 3 * 2  # two inner splits in each of the three outer folds
    assert all(not shared for shared in inner_overlaps)
