"""Tests for pitfalls.pipeline: Pipeline and AugmentationSampler (LeakageGuard: its own file)."""

from __future__ import annotations

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
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from pitfalls.pipeline import AugmentationSampler, Pipeline, make_pipeline
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
            assert source == nearest[0]  # however many tie
    as_sparse = source_indices(
        _NoIndicesSampler(), sparse.csr_matrix(X_in), y_in, sparse.csr_matrix(X_out), y_out
    )
    np.testing.assert_array_equal(as_sparse, sources)


def _first_nearest_oracle(X_in, y_in, X_out, y_out):
    """Brute force: the first row of the class at the smallest distance (to 1e-9)."""
    sources = []
    for row, label in zip(X_out, y_out, strict=True):
        same_class = np.flatnonzero(y_in == label)
        distances = np.linalg.norm(X_in[same_class] - row, axis=1)
        limit = distances.min() * (1 + 1e-9) + 1e-12
        sources.append(same_class[distances <= limit][0])
    return np.array(sources)


@pytest.mark.parametrize("n_duplicates", [0, 6, 20])
def test_nearest_sources_are_the_first_of_any_number_of_tied_rows(n_duplicates):
    from scipy import sparse

    rng = np.random.default_rng(n_duplicates)
    X_in = rng.integers(0, 3, size=(60, 30)).astype(float) * (rng.random((60, 30)) < 0.15)
    X_in[5 : 5 + n_duplicates] = X_in[40]  # many equally near rows, the first at 5 or 40
    y_in = np.arange(60) % 2
    y_in[5 : 5 + n_duplicates] = y_in[40]
    picks, mates = rng.integers(0, 60, 200), rng.integers(0, 60, 200)
    mates = np.where(y_in[mates] == y_in[picks], mates, picks)
    steps = rng.choice([0.1, 0.5, 0.9], 200)[:, None]
    X_out = X_in[picks] + steps * (X_in[mates] - X_in[picks])
    X_out[:20] = X_in[40] + 0.25  # equally near to every copy of row 40
    y_out = y_in[picks]
    y_out[:20] = y_in[40]
    expected = _first_nearest_oracle(X_in, y_in, X_out, y_out)
    equal = np.flatnonzero((X_out[:, None, :] == X_in[None]).all(axis=2).any(axis=1))
    keep = np.setdiff1d(np.arange(200), equal)  # rows equal to an input row: rule 2
    dense = source_indices(_NoIndicesSampler(), X_in, y_in, X_out[keep], y_out[keep])
    as_sparse = source_indices(_NoIndicesSampler(), sparse.csr_matrix(X_in), y_in,
                               sparse.csr_matrix(X_out[keep]), y_out[keep])  # fmt: skip
    np.testing.assert_array_equal(dense, expected[keep])
    np.testing.assert_array_equal(as_sparse, expected[keep])


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
    assert scores.shape == (3,)
    # RandomOverSampler reports its rows; SMOTE's were not searched (nothing followed them)
    assert hasattr(ours, "sample_indices_") == isinstance(sampler, RandomOverSampler)


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


class _GroupedLR(LogisticRegression):
    """A final step that takes groups (as a group-aware search does) and ignores them."""

    def fit(self, X, y, groups=None):
        self.seen_groups_ = groups
        return super().fit(X, y)


@pytest.mark.parametrize("as_sparse", [False, True], ids=["dense", "sparse"])
def test_sources_are_searched_only_when_metadata_follows_the_rows(monkeypatch, as_sparse):
    from scipy import sparse

    from pitfalls.pipeline import _provenance

    X, y, groups = _imbalanced(n_major=40, n_minor=12, n_features=4)
    X = sparse.csr_matrix(X) if as_sparse else X
    searches = []
    real_search = _provenance.source_indices

    def counted(*args):
        searches.append(1)
        return real_search(*args)

    monkeypatch.setattr(_provenance, "source_indices", counted)
    reference = ImbPipeline([("smote", SMOTE(random_state=0)), ("lr", LogisticRegression())])
    reference.fit(X, y)
    bare = Pipeline([("smote", SMOTE(random_state=0)), ("lr", LogisticRegression())]).fit(X, y)
    assert searches == []  # nothing had to follow the rows: no search
    assert not hasattr(bare, "sample_indices_")
    with pytest.raises(AttributeError, match=r"SMOTE does not report where the rows .* Pass"):
        bare.sample_indices_  # noqa: B018
    grouped = Pipeline([("smote", SMOTE(random_state=0)), ("lr", _GroupedLR())])
    grouped.fit(X, y, lr__groups=groups)
    assert searches == [1]
    np.testing.assert_array_equal(grouped[-1].seen_groups_, groups[grouped.sample_indices_])
    # the same model either way, and the same as imbalanced-learn's
    np.testing.assert_array_equal(bare[-1].coef_, reference[-1].coef_)
    np.testing.assert_array_equal(grouped[-1].coef_, reference[-1].coef_)


def test_only_metadata_for_steps_after_a_sampler_makes_rows_followed():
    from pitfalls.pipeline._provenance import rows_must_follow

    X, y, groups = _imbalanced()
    weights = np.ones(len(y))
    steps = [("scale", StandardScaler()), ("smote", SMOTE(k_neighbors=2)), ("lr", _GroupedLR())]
    assert not rows_must_follow(steps, {"scale": {"fit": {"sample_weight": weights}}}, len(y))
    assert not rows_must_follow(steps, {"lr": {"fit": {"groups": groups[:3]}}}, len(y))
    assert not rows_must_follow(steps, {"lr": {"fit": {"C": 1.0}}}, len(y))
    assert not rows_must_follow(steps, None, len(y))
    assert rows_must_follow(steps, {"lr": {"fit": {"groups": groups}}}, len(y))
    assert not rows_must_follow(steps[::2], {"lr": {"fit": {"groups": groups}}}, len(y))
    # a scaler's weights before SMOTE: fitted like imbalanced-learn's, nothing traced
    pipe = Pipeline(steps).fit(X, y, scale__sample_weight=weights)
    assert not hasattr(pipe, "sample_indices_")
    with sklearn.config_context(enable_metadata_routing=True):  # EmptyRequest: no metadata
        routed = Pipeline([("smote", SMOTE(k_neighbors=2)), ("lr", LogisticRegression())])
        assert not hasattr(routed.fit(X, y), "sample_indices_")
    with pytest.raises(AttributeError, match="set by fit; this Pipeline is not fitted"):
        Pipeline(steps).sample_indices_  # noqa: B018


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


# -------------------------------------------------- the one fit loop (pipeline/_fit_steps)


class _Recorder(ClassifierMixin, BaseEstimator):
    """A final step that keeps the rows it was fitted on."""

    def fit(self, X, y):
        self.X_, self.y_ = X, y
        return self


def _fit_loop_steps():
    from sklearn.feature_selection import SelectKBest

    return [
        ("scale", StandardScaler()),
        ("skip", "passthrough"),
        ("smote", SMOTE(k_neighbors=2, random_state=0)),
        ("kbest", SelectKBest(k=3)),
        ("ros", RandomOverSampler(random_state=1)),
    ]


def test_fit_steps_gives_the_model_the_rows_imblearns_pipeline_gives_it():
    from pitfalls.pipeline._fit_steps import fit_steps, trace_rows, transform_steps

    X, y, _ = _imbalanced(n_major=20, n_minor=8, n_features=5)
    reference = ImbPipeline([*_fit_loop_steps(), ("model", _Recorder())]).fit(X, y)
    steps = list(((i, name, step) for i, (name, step) in enumerate(_fit_loop_steps())))
    fitted = fit_steps(steps, X, y, follow=trace_rows)
    np.testing.assert_array_equal(fitted.X, reference[-1].X_)
    np.testing.assert_array_equal(fitted.y, reference[-1].y_)
    assert [(position, name) for position, name, _ in fitted.steps] == [
        (0, "scale"), (2, "smote"), (3, "kbest"), (4, "ros"),
    ]  # fmt: skip
    assert all(step is original for (_, _, step), (_, _, original) in zip(
        fitted.steps, [s for s in steps if s[2] != "passthrough"], strict=True
    ))  # fmt: skip  # no memory: fitted in place
    np.testing.assert_array_equal(
        transform_steps(fitted.steps, X), reference[:4].transform(X)
    )  # samplers skipped at prediction time, as imbalanced-learn does
    # origin: the row of X each model row comes from (SMOTE keeps the originals first)
    assert fitted.origin.shape == (fitted.X.shape[0],)
    np.testing.assert_array_equal(y[fitted.origin], fitted.y)
    assert fit_steps(steps, X, y).origin is None  # follow=None: no map kept


def test_fit_steps_with_memory_fits_cached_clones_and_leaves_the_steps_alone(tmp_path):
    from sklearn.utils.validation import check_memory

    from pitfalls.pipeline._fit_steps import fit_steps

    X, y, _ = _imbalanced()
    scaler = StandardScaler()
    memory = check_memory(str(tmp_path))
    first = fit_steps([(0, "scale", scaler)], X, y, memory=memory)
    second = fit_steps([(0, "scale", scaler)], X, y, memory=memory)
    assert not hasattr(scaler, "mean_")  # the user's step stays unfitted
    assert first.steps[0][2] is not scaler
    np.testing.assert_array_equal(first.steps[0][2].mean_, second.steps[0][2].mean_)
    assert any(tmp_path.rglob("*.pkl"))  # the second fit came from the cache


def test_the_three_fit_loops_are_one(monkeypatch):
    """Pipeline, nested_cross_validate and leakage_gap all fit their steps with fit_steps."""
    import pitfalls.experiments._gap as gap
    import pitfalls.model_selection._nested as nested
    import pitfalls.pipeline._fit_steps as fit_loop
    import pitfalls.pipeline._pipeline as pipeline
    from pitfalls.experiments import leakage_gap
    from pitfalls.model_selection import nested_cross_validate

    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return fit_loop.fit_steps(*args, **kwargs)

    for module in (gap, nested, pipeline):
        monkeypatch.setattr(module, "fit_steps", counting)
    X, y, _ = _imbalanced(n_major=24, n_minor=12)
    pipe = make_pipeline(RandomOverSampler(random_state=0), DecisionTreeClassifier(random_state=0))
    pipe.fit(X, y)
    assert len(calls) == 1
    nested_cross_validate(
        pipe, X, y, param_grid={"decisiontreeclassifier__max_depth": [1, 2]}, outer_cv=2,
        inner_cv=2,
    )  # fmt: skip
    assert len(calls) == 1 + 2 * 2 + 2  # one per inner split, one per refit's Pipeline.fit
    before = len(calls)
    leakage_gap(pipe, X, y, pitfall="oversampling", n_repeats=2, cv=2, random_state=0)
    # per repeat: the hoisted sampler once, then the correct protocol's 2 folds (the
    # leaky protocol cross-validates the model alone: no steps left to fit)
    assert len(calls) - before == 2 * (1 + 2)
