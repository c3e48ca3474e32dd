"""Tests for LeakageGuard and the row fingerprints it keeps (pitfalls.pipeline._hashing)."""

from __future__ import annotations

import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from imblearn.over_sampling import RandomOverSampler
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from pitfalls.exceptions import LeakageError, LeakageWarning
from pitfalls.pipeline import LeakageGuard
from pitfalls.pipeline._hashing import odd_keys, row_hashes, sparse_row_hashes


def _imbalanced(n_major=12, n_minor=4, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_major + n_minor, n_features))
    y = np.array([0] * n_major + [1] * n_minor)
    return X, y, None


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Keeps the X it was fitted on, to check what the guard handed it."""

    def fit(self, X, y):
        self.seen_X_ = X
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


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


def _float64_bytes(rows: np.ndarray) -> list[bytes]:
    rows = np.asarray(rows, dtype=np.float64)
    flat = rows.reshape(len(rows), int(np.prod(rows.shape[1:])))
    return [row.tobytes() for row in flat]


_NANS = [np.float64(np.nan), -np.float64(np.nan), np.uint64(0x7FF0000000000001).view(np.float64)]


def _adversarial_variant(row: np.ndarray, how: str, a: int, b: int) -> np.ndarray:
    """A row that differs from ``row`` only where fingerprints used to be weak."""
    twin = row.copy()
    if how == "flip two signs":  # multilinear sums over whole words cancel these
        twin[[a, b]] = -twin[[a, b]]
    elif how == "swap two columns":
        twin[[a, b]] = twin[[b, a]]
    elif how == "signed zeros":  # -0.0 == 0.0 by value, not by bytes
        twin[[a, b]] = np.copysign(0.0, -np.copysign(1.0, twin[[a, b]]))
    elif how == "other nan":  # another NaN's bytes
        twin[a] = _NANS[(b % 2) + 1] if np.isnan(twin[a]) else _NANS[0]
    elif how == "one ulp":
        twin[a] = np.nextafter(twin[a], np.inf)
    elif how == "exponent":  # the same mantissa, twice the value
        twin[a] = 2.0 * twin[a] if np.isfinite(twin[a]) and twin[a] != 0 else 3.0
    return twin


_VARIANTS = st.sampled_from(
    ["flip two signs", "swap two columns", "signed zeros", "other nan", "one ulp", "exponent"]
)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_guard_is_exact_on_adversarial_twins_of_training_rows(data):
    # training rows with zeros, NaNs and infinities; evaluation rows: copies, float32 and
    # integer copies where exact, and twins that differ by sign flips, swapped columns,
    # signed zeros, other NaNs, one ulp or an exponent. Exactly the copies are flagged.
    n_columns = data.draw(st.integers(2, 12))
    values = st.one_of(
        st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 3.0, np.nan, np.inf, -np.inf]),
        st.floats(-1e6, 1e6, allow_subnormal=False),
    )
    fit_rows = data.draw(arrays(np.float64, (data.draw(st.integers(1, 25)), n_columns),
                                elements=values))  # fmt: skip
    picks = data.draw(st.lists(st.tuples(st.integers(0, len(fit_rows) - 1), _VARIANTS,
                                         st.integers(0, n_columns - 1),
                                         st.integers(0, n_columns - 1)), max_size=25))  # fmt: skip
    twins = [_adversarial_variant(fit_rows[i], how, a, b) for i, how, a, b in picks]
    copies = fit_rows[data.draw(st.lists(st.integers(0, len(fit_rows) - 1), max_size=5))]
    eval_rows = np.concatenate([np.reshape(twins, (-1, n_columns)), copies])
    seen = set(_float64_bytes(fit_rows))
    expected = [i for i, row in enumerate(_float64_bytes(eval_rows)) if row in seen]

    guard = LeakageGuard(DummyClassifier()).fit(fit_rows, np.arange(len(fit_rows)) % 2)
    assert guard.find_leaks(eval_rows).tolist() == expected
    assert len(expected) >= len(copies)
    # the same rows in other containers: a DataFrame, float32 and int copies where exact
    assert guard.find_leaks(pd.DataFrame(eval_rows)).tolist() == expected
    # a signalling NaN warns when it is cast; a one-ulp twin of inf overflows float32
    with np.errstate(invalid="ignore", over="ignore"):
        as_float32 = eval_rows.astype(np.float32)
    exact32 = [i for i, row in enumerate(_float64_bytes(as_float32)) if row in seen]
    assert guard.find_leaks(as_float32).tolist() == exact32
    with np.errstate(invalid="ignore"):  # a one-ulp twin of inf is beyond int64
        as_int = np.nan_to_num(eval_rows, nan=0.0, posinf=5.0, neginf=-5.0).round().astype(np.int64)
    exact_int = [i for i, row in enumerate(_float64_bytes(as_int)) if row in seen]
    assert guard.find_leaks(as_int).tolist() == exact_int
    # a guard fitted on sparse rows (which store no -0.0: toarray reads 0.0)
    finite = np.nan_to_num(fit_rows, nan=7.0, posinf=8.0, neginf=-8.0)
    sparse_guard = LeakageGuard(DummyClassifier()).fit(
        sparse.csr_matrix(finite), np.arange(len(finite)) % 2
    )
    dense_seen = set(_float64_bytes(sparse.csr_matrix(finite).toarray()))
    finite_eval = np.nan_to_num(eval_rows, nan=7.0, posinf=8.0, neginf=-8.0)
    expected_sparse = [i for i, row in enumerate(_float64_bytes(finite_eval)) if row in dense_seen]
    assert sparse_guard.find_leaks(finite_eval).tolist() == expected_sparse
    assert sparse_guard.find_leaks(sparse.csr_matrix(finite_eval)).tolist() == [
        i
        for i, row in enumerate(_float64_bytes(sparse.csr_matrix(finite_eval).toarray()))
        if row in dense_seen
    ]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_guard_key_columns_shared_by_other_rows_never_make_a_leak(data):
    # many rows agree on every high-cardinality (key) column and differ in one other
    # column, by a sign, an ulp or a swap: they pass the key filter and must be told
    # apart by their full fingerprints
    n_rows = data.draw(st.integers(40, 200))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    X = np.column_stack([rng.normal(size=n_rows), rng.integers(0, 2, n_rows) - 0.5,
                         rng.normal(size=(n_rows, 3))])  # fmt: skip
    guard = LeakageGuard(DummyClassifier()).fit(X, np.arange(n_rows) % 2)
    how = data.draw(st.sampled_from(["sign", "ulp", "swap"]))
    twins = X.copy()
    if how == "sign":
        twins[:, 1] = -twins[:, 1]
    elif how == "ulp":
        twins[:, 1] = np.nextafter(twins[:, 1], np.inf)
    else:
        twins[:, [1, 2]] = twins[:, [2, 1]]
    assert guard.find_leaks(twins).size == 0
    assert guard.find_leaks(np.vstack([twins, X[::7]])).tolist() == list(
        range(n_rows, n_rows + len(X[::7]))
    )


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
    # a guard fitted before the key numbers changed is checked by full fingerprints
    del restored._key_scheme
    assert restored.find_leaks(np.vstack([X[[3, 1]], changed[:2]])).tolist() == [0, 1]
    del restored._fingerprint_scheme
    with pytest.raises(ValueError, match="'splitmix64-per-word' scheme, which cannot be"):
        restored.predict(X[:2])


def _multilinear_reference(row: np.ndarray) -> int:
    """row_hashes of one row, with Python integers: the formula in _hashing's docstring."""
    data = np.ascontiguousarray(row).tobytes()
    data += bytes(-len(data) % 8)
    pieces = [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]
    n_words = len(data) // 8
    keys = [int(key) for key in odd_keys(2 * n_words - 1)]
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


def _large(n_rows=8000, n_columns=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_rows, n_columns)), rng.integers(0, 2, n_rows)


@pytest.fixture
def no_threads(monkeypatch):
    """Make starting a thread an error: estimators must not start threads."""

    def refuse(self):
        raise AssertionError(f"a thread was started: {self.name}")

    monkeypatch.setattr(threading.Thread, "start", refuse)


def test_guard_starts_no_thread_and_hands_the_estimator_x_itself(no_threads):
    X, y = _large()
    guard = LeakageGuard(RecordingClassifier()).fit(X[:4000], y[:4000])
    seen = guard.estimator_.seen_X_
    assert np.shares_memory(seen, X) and seen.flags.writeable  # X itself: no copy, no view
    X_eval = np.vstack([X[4000:], X[[5, 3999, 5]]])
    with pytest.warns(
        LeakageWarning, match=r"3 of 4003 rows passed to predict .* positions 4000, 4001, 4002\."
    ):
        predictions = guard.predict(X_eval)
    assert predictions.shape == (4003,)
    strict = LeakageGuard(LogisticRegression(), on_leak="raise").fit(X[:4000], y[:4000])
    with pytest.raises(LeakageError, match="1 of 4000 rows passed to score"):
        strict.score(np.vstack([X[4001:], X[:1]]), y[4000:])
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    on_frame = LeakageGuard(LogisticRegression()).fit(frame.iloc[:4000], y[:4000])
    with pytest.warns(LeakageWarning, match="2 of 4002 rows passed to predict"):
        on_frame.predict(pd.concat([frame.iloc[4000:], frame.iloc[[7, 9]]]))


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


def test_guard_on_a_read_only_memory_mapped_array(tmp_path, no_threads):
    # joblib hands estimators such arrays in a parallel cross-validation
    X, y = _large()
    X.tofile(tmp_path / "X.dat")
    mapped = np.memmap(tmp_path / "X.dat", dtype=X.dtype, mode="r", shape=X.shape)
    guard = LeakageGuard(RecordingClassifier()).fit(mapped[:4000], y[:4000])
    assert np.shares_memory(guard.estimator_.seen_X_, mapped)
    assert guard.find_leaks(X[3990:4010]).tolist() == list(range(10))
    assert guard.find_leaks(mapped[3990:4010]).tolist() == list(range(10))


def test_guard_fingerprints_the_rows_as_passed_when_the_estimator_writes_into_them():
    X, y = _large()
    original = X.copy()
    guard = LeakageGuard(_InPlaceDoubler()).fit(X, y)
    np.testing.assert_array_equal(X, 2 * original)  # it wrote into X itself, once
    assert guard.find_leaks(original).tolist() == list(range(len(X)))
    assert guard.find_leaks(X[:10]).size == 0  # the doubled rows were never fitted on


def test_guard_on_large_arrays_raises_the_estimators_error():
    X, _ = _large()
    threads_before = threading.active_count()
    with pytest.raises(ValueError, match="needs samples of at least 2 classes"):
        LeakageGuard(LogisticRegression()).fit(X, np.zeros(len(X)))
    assert threading.active_count() == threads_before


def test_guard_raises_the_estimators_validation_error_before_its_own():
    # cells the guard cannot fingerprint: the estimator's own error, when it has one, wins
    cells = np.empty((2, 1), dtype=object)
    cells[0, 0], cells[1, 0] = {"a": 1}, {"b": 2}
    with pytest.raises(TypeError, match=r"float\(\) argument must be") as caught:
        LeakageGuard(LogisticRegression()).fit(cells, [0, 1])
    assert "unhashable" not in repr(caught.value.__context__)  # not raised while handling ours
    with pytest.raises(TypeError, match="unhashable type: 'dict'"):  # it took them: ours
        LeakageGuard(DummyClassifier()).fit(cells, [0, 1])
