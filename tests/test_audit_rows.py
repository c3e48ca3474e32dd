"""Near-duplicate feature rows and embeddings across splits (PF109, find_near_duplicate_rows).

Before PF109, a test row equal to a training row plus 1e-4 noise passed the audit.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from pitfalls.audit import NearDuplicateRows, audit, find_near_duplicate_rows
from pitfalls.cli import main


def planted(n_train, n_test, n_features, n_copies, noise=1e-4, seed=0):
    """Features on very different scales; the first n_copies test rows copy training rows."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.integers(-3, 4, n_features)
    train = rng.normal(size=(n_train, n_features)) * scales
    test = rng.normal(size=(n_test, n_features)) * scales
    sources = rng.choice(n_train, n_copies, replace=False)
    test[:n_copies] = train[sources] + rng.normal(0, noise, (n_copies, n_features)) * scales
    return train, test, sources


@pytest.mark.parametrize("n_features", [4, 16, 64])
def test_noise_copies_are_found_and_independent_rows_are_not(n_features):
    train, test, sources = planted(5000, 1000, n_features, 20)
    pairs = find_near_duplicate_rows(train, test)
    assert pairs.test_index.tolist() == list(range(20))
    assert pairs.train_index.tolist() == sources.tolist()
    # The standardised distance of a copy with noise 1e-4 x std: about 1e-4 sqrt(d).
    assert np.all(pairs.distance < 1e-4 * math.sqrt(n_features) * 3)


@pytest.mark.parametrize("n_features", [1, 2, 3, 8, 64])
def test_independent_rows_make_no_pairs(n_features):
    rng = np.random.default_rng(n_features)
    pairs = find_near_duplicate_rows(
        rng.normal(size=(20_000, n_features)), rng.normal(size=(5000, n_features))
    )
    assert len(pairs) == 0, pairs


def test_calibration_follows_the_documented_rule():
    rng = np.random.default_rng(3)
    train, test = rng.normal(size=(3000, 3)), rng.normal(size=(400, 3))
    pairs = find_near_duplicate_rows(train, test, n_calibration=500)
    z = (train - train.mean(axis=0)) / train.std(axis=0)
    sample = np.unique(np.linspace(0, 2999, 500).round().astype(int))
    d = cdist(z[sample], z)
    d[d == 0] = np.inf
    nearest = d.min(axis=1)
    q25, typical = np.quantile(nearest, [0.25, 0.5])
    dimension = math.log(math.log(4 / 3) / math.log(2)) / math.log(q25 / typical)
    fraction = min(0.05, (0.01 / (math.log(2) * 400)) ** (1 / dimension))
    assert pairs.typical_distance == pytest.approx(typical, rel=1e-9)
    assert pairs.intrinsic_dimension == pytest.approx(dimension, rel=1e-9)
    assert pairs.fraction == pytest.approx(fraction, rel=1e-9)
    assert pairs.threshold == pytest.approx(fraction * typical, rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    n_features=st.sampled_from([1, 3, 17, 40]),
    seed=st.integers(0, 10_000),
    threshold=st.floats(0.0, 3.0),
)
def test_search_is_exact_against_all_pairs(n_features, seed, threshold):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, n_features)) * 3  # clustered: many close pairs
    train = centres[rng.integers(0, 5, 150)] + rng.normal(size=(150, n_features)) * 0.5
    test = centres[rng.integers(0, 5, 60)] + rng.normal(size=(60, n_features)) * 0.5
    test[:5] = train[:5]  # identical rows are at distance 0
    pairs = find_near_duplicate_rows(train, test, threshold=threshold)
    mean, std = train.mean(axis=0), train.std(axis=0)
    distances = cdist((test - mean) / std, (train - mean) / std)
    expected_test, expected_train = np.nonzero(distances <= threshold)
    found = set(zip(pairs.test_index.tolist(), pairs.train_index.tolist(), strict=True))
    expected = set(zip(expected_test.tolist(), expected_train.tolist(), strict=True))
    # Pairs exactly at the threshold may fall either side of it by rounding.
    at_edge = {p for p in found ^ expected if abs(distances[p] - threshold) < 1e-9}
    assert found ^ expected == at_edge
    np.testing.assert_allclose(pairs.distance, distances[pairs.test_index, pairs.train_index])


def test_result_protocol():
    train, test, _ = planted(500, 50, 6, 2)
    pairs = find_near_duplicate_rows(train, test)
    assert isinstance(pairs, NearDuplicateRows) and len(pairs) == 2
    frame = pairs.to_frame()
    assert frame.columns.tolist() == ["train", "test", "distance"] and frame.shape == (2, 3)
    assert pairs.to_markdown().splitlines()[0] == "| train | test | distance |"
    assert repr(pairs).startswith("NearDuplicateRows(2 pairs within ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X_test": np.full((2, 3), np.nan)}, r"X_test has 2 row\(s\) with NaN or infinity"),
        ({"X_test": np.zeros((2, 4))}, r"X_train has 3 features but X_test has 4"),
        ({"threshold": -1.0}, r"threshold=-1.0 must be a finite distance >= 0"),
        ({"max_fraction": 1.5}, r"max_fraction=1.5 must be in \(0, 1\)"),
        ({"expected_false_pairs": 0}, r"expected_false_pairs=0 must be > 0"),
        ({"n_calibration": 1}, r"n_calibration=1 must be an integer >= 2"),
        ({"X_train": np.zeros((1, 3))}, r"X_train has 1 row; calibrating the threshold needs"),
    ],
)
def test_bad_input_is_refused_with_the_fix(kwargs, message):
    arguments = {
        "X_train": np.random.default_rng(0).normal(size=(20, 3)),
        "X_test": np.zeros((2, 3)),
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        find_near_duplicate_rows(**arguments)


# --- the audit check ----------------------------------------------------------------------


def manifest_with_rows(n_features=8, n_copies=3, seed=0):
    train, test, sources = planted(400, 100, n_features, n_copies, seed=seed)
    values = np.vstack([train, test])
    df = pd.DataFrame(values, columns=[f"f{i}" for i in range(n_features)])
    df.insert(0, "patient", [f"p{i:04d}" for i in range(len(df))])
    df.insert(1, "split", ["train"] * 400 + ["test"] * 100)
    return df, sources


def finding(report, code):
    rows = report.findings.set_index("code")
    return rows.loc[code] if code in rows.index else None


def test_audit_reports_noise_copies_of_training_rows_as_pf109():
    df, sources = manifest_with_rows()
    features = [c for c in df.columns if c.startswith("f")]
    report = audit(df, group="patient", split="split", features=features)
    pf109 = finding(report, "PF109")
    assert pf109 is not None and pf109["severity"] == "medium" and pf109["n_affected"] == 6
    assert finding(report, "PF103") is None  # no row is identical
    records = report.to_frame("PF109")
    pairs = set(zip(records["row"].astype(int), records["other_row"].astype(int), strict=True))
    assert pairs == {(int(s), 400 + k) for k, s in enumerate(sources)}
    closest = records.loc[records["row_distance"].idxmin()]
    assert set(records["split"]) == {"train"} and set(records["other_split"]) == {"test"}
    assert pf109["examples"][0] == (
        f"rows {closest['row']} (train) and {closest['other_row']} (test), "
        f"distance {closest['row_distance']:.3g}"
    )


def test_audit_passes_independent_rows_and_leaves_identical_ones_to_pf103():
    df, _ = manifest_with_rows(n_copies=0)
    features = [c for c in df.columns if c.startswith("f")]
    assert finding(audit(df, group="patient", split="split", features=features), "PF109") is None
    df.loc[450, features] = df.loc[3, features].to_numpy()  # an exact copy
    report = audit(df, group="patient", split="split", features=features)
    assert finding(report, "PF103") is not None and finding(report, "PF109") is None


def test_audit_takes_an_embeddings_array():
    df, _ = manifest_with_rows(n_features=32)
    features = [c for c in df.columns if c.startswith("f")]
    embeddings = df[features].to_numpy()
    report = audit(df[["patient", "split"]], group="patient", split="split", features=embeddings)
    assert finding(report, "PF109")["n_affected"] == 6
    with pytest.raises(ValueError, match=r"features is an array of 499 rows but the manifest"):
        audit(df[["patient", "split"]], group="patient", split="split", features=embeddings[1:])


def test_rows_with_missing_values_and_text_columns_are_left_out(capsys):
    df, _ = manifest_with_rows()
    df.loc[[0, 401], "f2"] = np.nan
    df["ward"] = "A"
    features = [c for c in df.columns if c.startswith("f")] + ["ward"]
    pf109 = finding(audit(df, group="patient", split="split", features=features), "PF109")
    assert "Rows with NaN or infinity, not compared: 2." in pf109["detail"]
    text_only = audit(df, group="patient", split="split", features=["ward"])
    assert "PF109" in text_only.checks_run and finding(text_only, "PF109") is None


def test_cli_features_reports_pf109_in_json(tmp_path, capsys):
    df, _ = manifest_with_rows()
    path = tmp_path / "m.csv"
    df.to_csv(path, index=False)
    features = [c for c in df.columns if c.startswith("f")]
    argv = ["audit", str(path), "--group", "patient", "--split", "split", "--format", "json"]
    status = main([*argv, "--features", *features, "--fail-on", "medium"])
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert "PF109" in [f["code"] for f in report["findings"]]
