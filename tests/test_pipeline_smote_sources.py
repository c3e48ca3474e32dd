"""Sources of SMOTE's synthetic rows found from its replayed draws (issue 12).

The search for a synthetic row's source (its nearest input row of its class, the first
of equally near ones) starts from the seed row SMOTE grew it from and the step it took,
replayed from SMOTE's draws by ``pitfalls._compat.smote_seed_rows``, and proves each
answer from the rows within the radius the step implies around the seed; rows it
cannot prove are searched among all rows of the class.
These tests pin that the answers are those of a brute-force search whatever the seeds
say, that the replayed draws are SMOTE's (they rebuild its rows bit for bit, so a
release of imbalanced-learn that draws differently fails here), and that the fast
path is the one taken on ordinary data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from pitfalls import _compat
from pitfalls._compat import smote_seed_rows
from pitfalls.pipeline import Pipeline, _provenance
from pitfalls.pipeline._provenance import source_indices


class _NoIndicesSampler:
    """Stands for a sampler that does not say where its rows came from (no seeds)."""


class _GroupedLR(LogisticRegression):
    def fit(self, X, y, groups=None):
        self.seen_groups_ = groups
        return super().fit(X, y)


def _oracle(X_in, y_in, X_out, y_out):
    """Brute force: an equal row of the class, else the first nearest (to 1e-9)."""
    sources = []
    for row, label in zip(X_out, y_out, strict=True):
        same_class = np.flatnonzero(y_in == label)
        equal = same_class[(X_in[same_class] == row).all(axis=1)]
        if equal.size:
            sources.append(equal[0])
            continue
        distances = np.linalg.norm(X_in[same_class] - row, axis=1)
        limit = distances.min() * (1 + 1e-9) + 1e-12
        sources.append(same_class[distances <= limit][0])
    return np.array(sources)


def _counting_fallback(monkeypatch):
    """Count the rows searched among all rows of their class (not proved from a seed)."""
    searched = []
    real = _provenance._first_nearest

    def counted(reference, queries):
        searched.append(queries.shape[0])
        return real(reference, queries)

    monkeypatch.setattr(_provenance, "_first_nearest", counted)
    return searched


def _rebuilt(smote, X, y):
    """SMOTE's synthetic rows rebuilt from the replayed draws and its neighbour search."""
    seeds = smote_seed_rows(smote, y)
    parts = []
    for draws in seeds.classes:
        X_class = X[y == draws.label]
        search = clone(smote.nn_k_).fit(X_class)
        neighbours = search.kneighbors(X_class, return_distance=False)[:, 1:]
        towards = X_class[neighbours[draws.rows, draws.columns]]
        parts.append(X_class[draws.rows] + draws.steps[:, None] * (towards - X_class[draws.rows]))
    return np.vstack(parts)


# ------------------------------------------------------------------ the replayed draws


@pytest.mark.parametrize(
    ("n_classes", "k_neighbors", "random_state"),
    [(2, 5, 0), (2, 1, 7), (3, 3, 123), (4, 2, np.int64(5))],
)
def test_replayed_draws_rebuild_smote_rows_bit_for_bit(n_classes, k_neighbors, random_state):
    rng = np.random.default_rng(k_neighbors)
    sizes = [60, 9, 14, 7][:n_classes]
    y = np.repeat(np.arange(n_classes), sizes)
    X = rng.normal(size=(y.size, 4))
    smote = SMOTE(k_neighbors=k_neighbors, random_state=random_state)
    X_res, y_res = smote.fit_resample(X, y)
    seeds = smote_seed_rows(smote, y)
    assert seeds.n_neighbors == k_neighbors + 1
    assert [draws.label for draws in seeds.classes] == [
        label for label, n in smote.sampling_strategy_.items() if n > 0
    ]
    # bit for bit: a release of imbalanced-learn that draws otherwise fails here
    np.testing.assert_array_equal(_rebuilt(smote, X, y), X_res[y.size :])
    expected_labels = np.concatenate([np.full(d.rows.size, d.label) for d in seeds.classes])
    np.testing.assert_array_equal(y_res[y.size :], expected_labels)


def test_a_class_with_nothing_to_make_is_skipped_as_smote_skips_it():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], [30, 30, 8])  # class 1 is as large as the majority
    X = rng.normal(size=(y.size, 3))
    smote = SMOTE(k_neighbors=3, random_state=2)
    X_res, _ = smote.fit_resample(X, y)
    assert [draws.label for draws in smote_seed_rows(smote, y).classes] == [2]
    np.testing.assert_array_equal(_rebuilt(smote, X, y), X_res[y.size :])


def test_the_installed_imbalanced_learn_is_one_whose_draws_were_checked():
    import imblearn

    major, minor = (int(part) for part in imblearn.__version__.split(".")[:2])
    assert (major, minor) in _compat.SMOTE_DRAWS_CHECKED_ON, (
        f"imbalanced-learn {imblearn.__version__}: check that SMOTE still draws as "
        "pitfalls._compat.smote_seed_rows replays (the tests above), then add it to "
        "SMOTE_DRAWS_CHECKED_ON; until then its synthetic rows are searched without seeds"
    )


@pytest.mark.parametrize(
    "sampler",
    [
        SMOTE(k_neighbors=2),  # random_state=None: the global stream, spent
        SMOTE(k_neighbors=2, random_state=np.random.RandomState(0)),  # spent too
        BorderlineSMOTE(k_neighbors=2, random_state=0),  # a subclass draws otherwise
        ADASYN(n_neighbors=2, random_state=0),
        RandomOverSampler(random_state=0),
    ],
    ids=["none", "random-state-object", "borderline", "adasyn", "ros"],
)
def test_draws_that_cannot_be_replayed_give_no_seeds(sampler):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    sampler.fit_resample(X, y)
    assert smote_seed_rows(sampler, y) is None


def test_an_unchecked_release_gives_no_seeds_and_the_same_sources(monkeypatch):
    import imblearn

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = np.r_[np.zeros(60, int), np.ones(20, int)]
    smote = SMOTE(k_neighbors=3, random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    seeded = source_indices(smote, X, y, X_res, y_res)
    monkeypatch.setattr(imblearn, "__version__", "0.99.0")
    assert smote_seed_rows(smote, y) is None
    np.testing.assert_array_equal(source_indices(smote, X, y, X_res, y_res), seeded)


# --------------------------------------------------------- sources: exact either way


def _smote_case(kind):
    rng = np.random.default_rng(len(kind))
    if kind == "normal":
        X = rng.normal(size=(400, 6))
    elif kind == "integers":  # many equal distances: ties everywhere
        X = rng.integers(0, 3, size=(400, 4)).astype(float)
    elif kind == "duplicates":  # minority rows repeated, some more than k times
        X = rng.normal(size=(400, 5))
        X[340:352] = X[339]
        X[360:363] = X[359]
    elif kind == "offset":  # large values, small differences: rounding matters
        X = 1e6 + rng.normal(size=(400, 5))
    elif kind == "clusters":  # tight clusters far apart: float32 products too coarse
        X = rng.choice([-1e3, 1e3], size=(400, 5)) + 1e-4 * rng.normal(size=(400, 5))
    else:  # float32 rows
        X = rng.normal(size=(400, 5)).astype(np.float32)
    y = np.r_[np.zeros(330, int), np.ones(70, int)]
    return X, y


@pytest.mark.parametrize(
    "kind", ["normal", "integers", "duplicates", "offset", "clusters", "float32"]
)
@pytest.mark.parametrize("k_neighbors", [1, 5, 15])
def test_seeded_sources_are_the_brute_force_nearest_rows(kind, k_neighbors):
    X, y = _smote_case(kind)
    smote = SMOTE(k_neighbors=k_neighbors, random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    assert smote_seed_rows(smote, y) is not None
    seeded = source_indices(smote, X, y, X_res, y_res)
    np.testing.assert_array_equal(seeded, _oracle(X, y, X_res, y_res))
    # and the same as the search without seeds
    np.testing.assert_array_equal(seeded, source_indices(_NoIndicesSampler(), X, y, X_res, y_res))


def test_a_class_of_k_plus_one_rows_is_proved_like_any_other():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(36, 3))
    y = np.r_[np.zeros(30, int), np.ones(6, int)]  # k + 1 = 6 rows, the fewest SMOTE takes
    smote = SMOTE(k_neighbors=5, random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    np.testing.assert_array_equal(
        source_indices(smote, X, y, X_res, y_res), _oracle(X, y, X_res, y_res)
    )


def test_k_neighbors_larger_than_the_class_fails_as_in_imbalanced_learn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 2))
    y = np.r_[np.zeros(20, int), np.ones(4, int)]
    groups = np.arange(24) // 2
    with pytest.raises(ValueError) as imblearn_error:
        ImbPipeline(
            [("smote", SMOTE(k_neighbors=5, random_state=0)), ("lr", LogisticRegression())]
        ).fit(X, y)
    pipe = Pipeline([("smote", SMOTE(k_neighbors=5, random_state=0)), ("lr", _GroupedLR())])
    with pytest.raises(ValueError) as ours:
        pipe.fit(X, y, lr__groups=groups)
    assert str(ours.value) == str(imblearn_error.value)


@settings(max_examples=60, deadline=None)
@given(
    n_columns=st.integers(1, 4),
    n_values=st.integers(2, 6),
    seeds=st.lists(st.integers(-1, 39), min_size=30, max_size=30),
    hinted_steps=st.lists(
        st.sampled_from([0.0, 1e-9, 0.1, 0.5, 0.9, 1.0]), min_size=30, max_size=30
    ),
    seed=st.integers(0, 2**16),
)
def test_wrong_seeds_or_steps_cost_time_never_a_wrong_source(
    n_columns, n_values, seeds, hinted_steps, seed
):
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, n_values, size=(40, n_columns)).astype(float)
    picks, mates = rng.integers(0, 40, 30), rng.integers(0, 40, 30)
    steps = rng.choice([0.1, 0.25, 0.5, 0.75], 30)
    queries = reference[picks] + steps[:, None] * (reference[mates] - reference[picks])
    proved = _provenance._first_nearest_from_seeds(
        reference, queries, np.array(seeds), np.array(hinted_steps)
    )
    expected = _oracle(reference, np.zeros(40, int), queries, np.zeros(30, int))
    # every answer given is the brute-force one; the rest (-1) is searched in full
    np.testing.assert_array_equal(proved[proved >= 0], expected[proved >= 0])
    assert (proved[np.array(seeds) < 0] == -1).all()


def test_true_seeds_and_steps_prove_the_nearest_rows_even_among_ties():
    rng = np.random.default_rng(4)
    reference = rng.integers(0, 3, size=(60, 3)).astype(float)
    picks, mates = rng.integers(0, 60, 200), rng.integers(0, 60, 200)
    steps = rng.uniform(size=200)
    queries = reference[picks] + steps[:, None] * (reference[mates] - reference[picks])
    proved = _provenance._first_nearest_from_seeds(reference, queries, picks, steps)
    expected = _oracle(reference, np.zeros(60, int), queries, np.zeros(200, int))
    np.testing.assert_array_equal(proved[proved >= 0], expected[proved >= 0])
    assert (proved >= 0).mean() > 0.5  # most are proved, though equal rows abound


def test_rows_equal_on_most_columns_are_told_apart_by_the_rest():
    # a row off the segment from the seed (row 0) to its neighbour (row 1) is nearer
    reference = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 0.0, 0.05], [1.0, 0.0, -0.05]])
    queries = np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.0]])  # steps 0.5 and 0.25
    proved = _provenance._first_nearest_from_seeds(
        reference, queries, np.array([0, 0]), np.array([0.5, 0.25])
    )
    expected = _oracle(reference, np.zeros(4, int), queries, np.zeros(2, int))
    assert expected.tolist() == [2, 0]  # the first of two equally near rows, 2 and 3
    np.testing.assert_array_equal(proved, expected)


def test_a_seed_with_many_equal_rows_is_searched_among_all_rows(monkeypatch):
    reference = np.vstack([np.zeros((100, 2)), np.eye(2)])  # 100 equal rows: not listed
    queries = np.array([[0.25, 0.0], [0.0, 0.5]])
    searched = _counting_fallback(monkeypatch)
    sources = _provenance._nearest_same_class(
        reference,
        np.zeros(102, int),
        queries,
        np.zeros(2, int),
        np.arange(2),
        _provenance._SeedHints(np.array([100, 101]), np.array([0.75, 0.5])),
    )
    assert sources.tolist() == [0, 0]  # the first of the 100 equal rows
    assert sum(searched) >= 1


# ------------------------------------------------------------- the fast path is taken


def test_ordinary_data_is_proved_from_the_seeds_without_a_full_search(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 20))
    y = (rng.random(3000) < 0.1).astype(int)
    smote = SMOTE(random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    searched = _counting_fallback(monkeypatch)
    sources = source_indices(smote, X, y, X_res, y_res)
    assert sum(searched) == 0
    np.testing.assert_array_equal(sources, _oracle(X, y, X_res, y_res))


def test_multiclass_table_groups_follow_their_nearest_rows_in_the_pipeline(monkeypatch):
    rng = np.random.default_rng(2)
    n = 300
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = pd.Series(np.repeat(["none", "mild", "severe"], [200, 60, 40]), index=np.arange(n) + 1000)
    groups = np.array([f"{i // 3:03d}" for i in range(n)])
    searched = _counting_fallback(monkeypatch)
    pipe = Pipeline([("smote", SMOTE(k_neighbors=4, random_state=3)), ("lr", _GroupedLR())])
    pipe.fit(X, y, lr__groups=groups)
    reference = ImbPipeline(
        [("smote", SMOTE(k_neighbors=4, random_state=3)), ("lr", LogisticRegression())]
    )
    reference.fit(X, y)
    np.testing.assert_array_equal(pipe[-1].coef_, reference[-1].coef_)  # the same model
    X_res, y_res = SMOTE(k_neighbors=4, random_state=3).fit_resample(X, y)
    expected = _oracle(X.to_numpy(), y.to_numpy(), X_res.to_numpy(), y_res.to_numpy())
    np.testing.assert_array_equal(pipe.sample_indices_, expected)
    np.testing.assert_array_equal(pipe[-1].seen_groups_, groups[expected])
    assert sum(searched) == 0
