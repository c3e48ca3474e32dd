"""train_val_test_split, assign_splits and check_group_disjoint."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.model_selection import GroupShuffleSplit

from pitfalls._manifest import ManifestError
from pitfalls.exceptions import GroupLeakageError, LeakageWarning
from pitfalls.model_selection import assign_splits, check_group_disjoint, train_val_test_split


@st.composite
def grouped_data(draw):
    n_groups = draw(st.integers(3, 40))
    sizes = np.array(draw(st.lists(st.integers(1, 7), min_size=n_groups, max_size=n_groups)))
    n_samples = int(sizes.sum())
    y = np.array(draw(st.lists(st.integers(0, 2), min_size=n_samples, max_size=n_samples)))
    perm = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(n_samples)
    groups = np.repeat(np.arange(n_groups), sizes)[perm]
    val_size = draw(st.sampled_from([0.0, 0.1, 0.15, 0.2, 0.3]))
    test_size = draw(st.sampled_from([0.05, 0.15, 0.25, 0.4]))
    return y, groups, val_size, test_size


@settings(max_examples=60, deadline=None)
@given(data=grouped_data(), stratified=st.booleans(), seed=st.integers(0, 1000))
def test_every_sample_in_one_split_groups_disjoint_sizes_near_request(data, stratified, seed):
    y, groups, val_size, test_size = data
    idx = np.arange(y.size)
    kwargs = dict(
        groups=groups,
        stratify=y if stratified else None,
        val_size=val_size,
        test_size=test_size,
        random_state=seed,
    )
    train, val, test = train_val_test_split(idx, **kwargs)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val, test])), idx)
    check_group_disjoint(groups, train, val, test)
    # sizes are fractions of samples, missed by less than one (largest) group, unless a
    # split's target is below one group: every requested split still gets a group.
    largest = np.bincount(groups).max()
    parts = ((val, val_size), (test, test_size), (train, 1 - val_size - test_size))
    for part, size in parts:
        assert part.size > 0 or size == 0
    if all(size == 0 or size * y.size >= largest for _, size in parts):
        for part, size in parts:
            assert abs(part.size - size * y.size) <= largest
    if val_size == 0:
        assert val.size == 0
    again = train_val_test_split(idx, **kwargs)
    for a, b in zip((train, val, test), again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_state_changes_the_split():
    groups = np.repeat(np.arange(50), 2)
    splits = {
        tuple(train_val_test_split(np.arange(100), groups=groups, random_state=s)[2])
        for s in range(5)
    }
    assert len(splits) == 5


def test_stratification_beats_an_unstratified_group_split():
    rng = np.random.default_rng(0)
    sizes = 1 + rng.poisson(4, 300)
    groups = np.repeat(np.arange(300), sizes)
    y = np.repeat(rng.choice(3, 300, p=[0.7, 0.2, 0.1]), sizes)
    overall = np.bincount(y) / y.size

    def worst_share_gap(parts):
        return max(np.abs(np.bincount(y[p], minlength=3) / p.size - overall).max() for p in parts)

    ours = worst_share_gap(
        train_val_test_split(np.arange(y.size), groups=groups, stratify=y, random_state=0)
    )
    # reference: two GroupShuffleSplit draws (test, then val), the usual hand-written way
    outer = GroupShuffleSplit(n_splits=1, test_size=0.15, random_state=0)
    rest, test = next(outer.split(y, y, groups))
    inner = GroupShuffleSplit(n_splits=1, test_size=0.15 / 0.85, random_state=0)
    tr, va = next(inner.split(rest, y[rest], groups[rest]))
    reference = worst_share_gap([rest[tr], rest[va], test])
    assert ours < 0.01
    assert ours < reference


def test_keeps_input_types_and_row_order():
    df = pd.DataFrame({"a": range(10)}, index=[f"r{i}" for i in range(10)])
    series = pd.Series(range(10), name="y")
    as_list = list(range(10))
    matrix = sparse.csr_matrix(np.eye(10))
    groups = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    out = train_val_test_split(df, series, as_list, matrix, groups=groups, random_state=0)
    assert len(out) == 12
    assert all(isinstance(part, pd.DataFrame) for part in out[0:3])
    assert all(isinstance(part, pd.Series) for part in out[3:6])
    assert all(isinstance(part, list) for part in out[6:9])
    assert all(sparse.issparse(part) for part in out[9:12])
    for df_part, list_part in zip(out[0:3], out[6:9], strict=True):
        assert df_part["a"].tolist() == list_part == sorted(list_part)
        assert list(df_part.index) == [f"r{i}" for i in list_part]


def test_val_size_zero_gives_an_empty_validation_split_of_the_input_type():
    X = np.arange(12).reshape(6, 2)
    X_train, X_val, X_test = train_val_test_split(
        X, groups=[1, 1, 2, 2, 3, 3], val_size=0, test_size=0.3, random_state=0
    )
    assert X_val.shape == (0, 2)
    assert X_train.shape[0] + X_test.shape[0] == 6
    assert X_test.shape[0] == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "msg"),
    [
        (
            {"test_size": 1.2},
            ValueError,
            "test_size=1.2 should be in [0, 1); it is the fraction of samples (not of groups)",
        ),
        ({"val_size": -0.1}, ValueError, "val_size=-0.1 should be in [0, 1)"),
        (
            {"val_size": 0.5, "test_size": 0.5},
            ValueError,
            "val_size + test_size = 1 should be less than 1 so that the training split is "
            "not empty; got val_size=0.5, test_size=0.5.",
        ),
        (
            {"test_size": "0.2"},
            TypeError,
            "test_size must be a float in [0, 1), the fraction of samples; got '0.2'.",
        ),
        ({"groups": None}, ValueError, "The 'groups' parameter should not be None"),
        ({"groups": [1, 2, 3]}, ValueError, "groups has 3 entries but X has 6 samples"),
        ({"groups": [1, 1, 2, None, 3, 3]}, ValueError, "groups has 1 missing value(s)"),
        (
            {"groups": [1, 1, 1, 2, 2, 2]},
            ValueError,
            "groups has 2 distinct group(s), fewer than the 3 non-empty splits requested "
            "(train, val, test); every split needs at least one group.",
        ),
        ({"stratify": [0, 1, 0]}, ValueError, "stratify has 3 entries but X has 6 samples"),
        (
            {"stratify": ["a", "b", None, "a", "b", "a"]},
            ValueError,
            "stratify has 1 missing value(s) (at positions 2)",
        ),
    ],
)
def test_train_val_test_split_errors(kwargs, error, msg):
    args = {"groups": [1, 1, 2, 2, 3, 3], **kwargs}
    with pytest.raises(error, match=re.escape(msg)):
        train_val_test_split(np.zeros((6, 2)), **args)


def test_train_val_test_split_needs_arrays_of_one_length():
    with pytest.raises(ValueError, match=re.escape("At least one array required as input.")):
        train_val_test_split(groups=[1, 2])
    with pytest.raises(ValueError, match=re.escape("array 0 has 4 samples but array 1 has 3")):
        train_val_test_split(np.zeros(4), np.zeros(3), groups=[1, 2, 3, 4])


@pytest.fixture
def manifest():
    rng = np.random.default_rng(0)
    n_patients = 60
    sizes = 1 + rng.poisson(3, n_patients)
    patients = np.repeat([f"p{i:02d}" for i in range(n_patients)], sizes)
    label = np.repeat(rng.choice(["benign", "malignant"], n_patients, p=[0.7, 0.3]), sizes)
    site = np.repeat(np.array(["A", "B", "C"])[np.arange(n_patients) % 3], sizes)
    index = pd.RangeIndex(100, 100 + patients.size)
    return pd.DataFrame({"patient": patients, "label": label, "site": site}, index=index)


def test_assign_splits_writes_a_consistent_split_column(manifest):
    split = assign_splits(manifest, group="patient", label="label", random_state=0)
    assert split.name == "split"
    assert split.index.equals(manifest.index)
    assert set(split) == {"train", "val", "test"}
    assert manifest.assign(split=split).groupby("patient")["split"].nunique().max() == 1
    largest = manifest["patient"].value_counts().max()
    fractions = split.value_counts()
    for name, size in zip(("train", "val", "test"), (0.7, 0.15, 0.15), strict=True):
        assert abs(fractions[name] - size * len(manifest)) <= largest
    # same seed, same column; the array API gives the same partition
    pd.testing.assert_series_equal(
        split, assign_splits(manifest, group="patient", label="label", random_state=0)
    )
    tr, va, te = train_val_test_split(
        np.arange(len(manifest)),
        groups=manifest["patient"],
        stratify=manifest["label"],
        random_state=0,
    )
    assert (split.to_numpy()[tr] == "train").all()
    assert (split.to_numpy()[va] == "val").all()
    assert (split.to_numpy()[te] == "test").all()


def test_assign_splits_custom_names_and_sizes(manifest):
    split = assign_splits(
        manifest, group="patient", sizes=(0.5, 0.5), names=("dev", "holdout"), random_state=1
    )
    assert set(split) == {"dev", "holdout"}


def test_holdout_sites_form_the_external_split(manifest):
    split = assign_splits(
        manifest,
        group="patient",
        label="label",
        site="site",
        holdout_sites=["C"],
        random_state=0,
    )
    external = manifest["site"] == "C"
    assert (split[external] == "external").all()
    assert (split[~external] != "external").all()
    # the remaining sites are spread over every split, not confined to one
    crosstab = pd.crosstab(manifest["site"][~external], split[~external])
    assert (crosstab > 0).all().all()


def test_holdout_site_given_as_a_scalar_and_custom_external_name(manifest):
    split = assign_splits(
        manifest, group="patient", site="site", holdout_sites="A", external_name="site_A"
    )
    assert (split[manifest["site"] == "A"] == "site_A").all()


def test_assign_splits_reads_a_csv_file(manifest, tmp_path):
    path = tmp_path / "manifest.csv"
    manifest.to_csv(path, index=False)
    split = assign_splits(path, group="patient", label="label", random_state=0)
    assert len(split) == len(manifest)
    assert split.index.equals(pd.RangeIndex(len(manifest)))


def test_patient_in_a_held_out_site_and_another_site_is_leakage(manifest):
    leaky = manifest.copy()
    first_c = leaky.index[leaky["site"] == "C"][0]
    patient = leaky.loc[first_c, "patient"]
    leaky.loc[leaky.index[leaky["site"] == "A"][0], "patient"] = patient
    with pytest.raises(
        GroupLeakageError,
        match=re.escape(
            f"1 group(s) have rows both in a held-out site and in another site: {patient!r}"
        ),
    ) as info:
        assign_splits(leaky, group="patient", site="site", holdout_sites="C")
    assert info.value.shared_groups == [patient]


@pytest.mark.parametrize(
    ("kwargs", "error", "msg"),
    [
        ({"group": "subject"}, ManifestError, "group='subject' is not a column of the manifest"),
        (
            {"sizes": (0.7, 0.2, 0.2)},
            ValueError,
            "sizes=(0.7, 0.2, 0.2) should be fractions in [0, 1) that sum to 1; they sum to 1.1.",
        ),
        ({"sizes": (1.0,)}, ValueError, "sizes must list at least two fractions; got (1.0,)."),
        (
            {"sizes": (0.5, 0.5)},
            ValueError,
            "names has 3 entries but sizes has 2; give one name per split.",
        ),
        (
            {"names": ("a", "a", "b")},
            ValueError,
            "names must be distinct; got ['a', 'a', 'b'].",
        ),
        (
            {"holdout_sites": "A"},
            ValueError,
            "holdout_sites needs site=, the column that names each row's site.",
        ),
        (
            {"site": "site", "holdout_sites": ["Z"]},
            ValueError,
            "holdout_sites 'Z' not found in column 'site'; its sites are 'A', 'B', 'C'.",
        ),
        (
            {"site": "site", "holdout_sites": "A", "external_name": "test"},
            ValueError,
            "external_name='test' is also one of names ['train', 'val', 'test']",
        ),
    ],
)
def test_assign_splits_errors(manifest, kwargs, error, msg):
    args = {"group": "patient", **kwargs}
    with pytest.raises(error, match=re.escape(msg)):
        assign_splits(manifest, **args)


def test_assign_splits_rejects_missing_group_ids(manifest):
    broken = manifest.copy()
    broken.loc[broken.index[3], "patient"] = None
    with pytest.raises(ManifestError, match=re.escape("group column 'patient' has 1 missing")):
        assign_splits(broken, group="patient")


# --- check_group_disjoint ---------------------------------------------------------------


def test_disjoint_splits_pass_and_masks_are_accepted():
    groups = np.array(["a", "a", "b", "c", "c"])
    assert check_group_disjoint(groups, [0, 1], [2], [3, 4]) is None
    mask = np.array([True, True, False, False, False])
    assert check_group_disjoint(groups, mask, ~mask) is None
    assert check_group_disjoint(groups, np.array([], dtype=int), [0, 1, 2, 3, 4]) is None


def test_pandas_masks_and_nullable_indices_are_accepted():
    df = pd.DataFrame({"patient": ["a", "a", "b", "c"], "split": ["tr", "tr", "te", "te"]})
    df["split"] = df["split"].astype("string")
    masks = [df["split"] == v for v in ("tr", "te")]
    assert check_group_disjoint(df["patient"], *masks) is None
    nullable = [pd.array([0, 1], dtype="Int64"), pd.array([2, 3], dtype="Int64")]
    assert check_group_disjoint(df["patient"], *nullable) is None
    leaky = pd.array([True, False, True, False], dtype="boolean")
    with pytest.raises(GroupLeakageError):
        check_group_disjoint(df["patient"], leaky, ~leaky)
    with pytest.raises(
        ValueError, match=re.escape("index_arrays[0] is a boolean mask with missing")
    ):
        check_group_disjoint(
            df["patient"], pd.array([True, None, False, False], dtype="boolean"), [3]
        )


def test_names_at_most_ten_shared_groups_and_counts_them_all():
    groups = np.repeat([f"p{i:02d}" for i in range(15)], 2)
    train, test = np.arange(0, 30, 2), np.arange(1, 30, 2)  # every patient on both sides
    shown = ", ".join(repr(f"p{i:02d}") for i in range(10))
    msg = f"15 group(s) have samples in more than one split: {shown} (and 5 more). "
    with pytest.raises(GroupLeakageError, match=re.escape(msg)) as info:
        check_group_disjoint(groups, train, test)
    assert info.value.shared_groups == [f"p{i:02d}" for i in range(15)]


def test_a_group_shared_by_the_second_and_third_split_is_found():
    groups = np.array([1, 2, 3, 3])
    with pytest.raises(GroupLeakageError, match=re.escape("1 group(s) have samples")) as info:
        check_group_disjoint(groups, [0], [1, 2], [3])
    assert info.value.shared_groups == [3]


@settings(max_examples=40, deadline=None)
@given(
    groups=st.lists(st.integers(0, 6), min_size=1, max_size=30),
    data=st.data(),
)
def test_raises_exactly_when_a_group_is_on_two_sides(groups, data):
    n = len(groups)
    side = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    parts = [np.flatnonzero(side == s) for s in range(3)]
    group_arr = np.array(groups)
    sets = [set(group_arr[p].tolist()) for p in parts]
    shared = (sets[0] & sets[1]) | (sets[0] & sets[2]) | (sets[1] & sets[2])
    if shared:
        with pytest.raises(GroupLeakageError) as info:
            check_group_disjoint(group_arr, *parts)
        assert set(info.value.shared_groups) == shared
    else:
        check_group_disjoint(group_arr, *parts)


@pytest.mark.parametrize(
    ("arrays", "msg"),
    [
        (
            ([0, 1],),
            "check_group_disjoint needs at least two index arrays (e.g. train and test); got 1.",
        ),
        (([0, 5], [1]), "index_arrays[0] has position(s) 5 outside [0, 3) for 3 samples."),
        (([0], [-1]), "index_arrays[1] has position(s) -1 outside [0, 3) for 3 samples."),
        (
            ([0.0, 1.0], [2]),
            "index_arrays[0] must hold integer positions or booleans; got dtype float64.",
        ),
        (
            ([True, False], [2]),
            "index_arrays[0] is a boolean mask of length 2 but groups has 3 entries",
        ),
        (([[0]], [1]), "index_arrays[0] must be 1-D (integer positions or a boolean mask)"),
    ],
)
def test_check_group_disjoint_errors(arrays, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_group_disjoint(["a", "b", "c"], *arrays)


def test_check_group_disjoint_rejects_missing_groups():
    with pytest.raises(ValueError, match=re.escape("groups has 1 missing value(s)")):
        check_group_disjoint(["a", None, "c"], [0], [1])


# ----------------------------------------------------- sites= and temporal splits (issue 14)


def test_train_val_test_split_with_sites_spreads_every_site(manifest):
    index = np.arange(len(manifest))
    kwargs = dict(groups=manifest["patient"], stratify=manifest["label"], random_state=3)
    parts = train_val_test_split(index, sites=manifest["site"], **kwargs)
    for part in parts:
        assert set(manifest["site"].to_numpy()[part]) == {"A", "B", "C"}
    check_group_disjoint(manifest["patient"], *parts)
    share = [np.mean(manifest["site"].to_numpy()[part] == "A") for part in parts]
    overall = np.mean(manifest["site"] == "A")
    assert max(abs(s - overall) for s in share) < 0.1
    with pytest.raises(ValueError, match=re.escape("sites has 2 entries but X has")):
        train_val_test_split(index, sites=["A", "B"], **kwargs)


@pytest.fixture
def longitudinal(manifest):
    """The manifest with exam dates: each patient a first visit in 2018-2021, follow-ups later."""
    rng = np.random.default_rng(1)
    first = pd.Series(
        pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, 60), unit="D"),
        index=[f"p{i:02d}" for i in range(60)],
    )
    days_after_first = np.where(
        manifest["patient"].duplicated(), rng.integers(0, 200, len(manifest)), 0
    )
    dates = first[manifest["patient"]].to_numpy() + pd.to_timedelta(days_after_first, unit="D")
    return manifest.assign(date=dates)


def test_external_and_temporal_test_splits_in_one_call(longitudinal):
    df = longitudinal
    with pytest.warns(LeakageWarning, match=r"development patient\(s\) have exams on or after"):
        split = assign_splits(
            df, group="patient", label="label", site="site", holdout_sites="C",
            time="date", test_after="2021-01-01", random_state=0,
        )  # fmt: skip
    first = df.groupby("patient")["date"].min()
    patient_split = df.assign(split=split).groupby("patient")["split"].agg(set)
    assert patient_split.map(len).max() == 1  # one split per patient
    external = df["site"] == "C"
    assert (split[external] == "external").all()
    temporal_patients = set(df["patient"][split == "temporal"])
    expected = set(first[first >= pd.Timestamp("2021-01-01")].index) - set(df["patient"][external])
    assert temporal_patients == expected and expected
    # later exams stay with their patient: a temporal patient's every exam is temporal
    assert (split[df["patient"].isin(temporal_patients)] == "temporal").all()
    developing = ~split.isin(["external", "temporal"])
    assert set(split[developing]) == {"train", "val", "test"}
    check_group_disjoint(df["patient"], *(split == name for name in set(split)))


def test_temporal_split_with_numeric_times_and_custom_name(longitudinal):
    df = longitudinal.assign(day=(longitudinal["date"] - pd.Timestamp("2018-01-01")).dt.days)
    df = df[~df["patient"].duplicated()]  # one exam per patient: nothing to warn about
    split = assign_splits(df, group="patient", time="day", test_after=3 * 365,
                          temporal_name="2021+", random_state=0)  # fmt: skip
    np.testing.assert_array_equal(split == "2021+", df["day"] >= 3 * 365)


@pytest.mark.parametrize(
    ("kwargs", "error", "msg"),
    [
        ({"time": "date"}, ValueError, "time= needs test_after= too"),
        ({"test_after": "2021-01-01"}, ValueError, "test_after= needs time= too"),
        ({"time": "when", "test_after": "2021-01-01"}, ManifestError,
         "time='when' is not a column of the manifest"),
        ({"time": "date", "test_after": "2030-01-01"}, ValueError,
         "test_after='2030-01-01' leaves the temporal test split empty: patients' first exams "
         "(outside held-out sites) run from 2018-"),
        ({"time": "date", "test_after": "2010-01-01"}, ValueError,
         "test_after='2010-01-01' leaves the development data empty"),
        ({"time": "date", "test_after": 5}, ValueError,
         "test_after=5 and the time column 'date' must both be dates or both numbers; the "
         "column holds dates."),
        ({"time": "date", "test_after": "2021-01-01", "temporal_name": "val"}, ValueError,
         "temporal_name='val' is also one of names ['train', 'val', 'test']"),
        ({"time": "date", "test_after": "2021-01-01", "site": "site", "holdout_sites": "A",
          "temporal_name": "external"}, ValueError,
         "external_name and temporal_name are both 'external'; use distinct names."),
    ],
)  # fmt: skip
def test_temporal_split_errors(longitudinal, kwargs, error, msg):
    with pytest.raises(error, match=re.escape(msg)):
        assign_splits(longitudinal, group="patient", **kwargs)


def test_missing_exam_times_are_a_manifest_error(longitudinal):
    df = longitudinal.copy()
    df.loc[df.index[3], "date"] = pd.NaT
    with pytest.raises(ManifestError, match=re.escape("time column 'date' has 1 missing value(s)")):
        assign_splits(df, group="patient", time="date", test_after="2021-01-01")
