"""Tests for pitfalls.datasets.load_radiomics_csv."""

import numpy as np
import pandas as pd
import pytest

from pitfalls._manifest import ManifestError
from pitfalls.datasets import load_radiomics_csv, make_radiomics_cohort


@pytest.fixture
def tables(tmp_path):
    X, _, manifest = make_radiomics_cohort(
        12, 30, n_informative=1, return_manifest=True, random_state=0
    )
    features = X.reset_index()
    features.insert(1, "Image", [f"{p}.nrrd" for p in features["patient_id"]])
    features.insert(2, "diagnostics_Versions_PyRadiomics", "v3.0.1")
    features.insert(3, "diagnostics_Mask-original_VoxelNum", 100)
    clinical = manifest.rename(columns={"patient_id": "TCIA code"}).sample(frac=1, random_state=0)
    clinical["Local Recurrence"] = np.where(clinical["local_recurrence"] == 1, "Yes", "No")
    features_path, clinical_path = tmp_path / "features.csv", tmp_path / "clinical.csv"
    features.to_csv(features_path, index=False)
    clinical.to_csv(clinical_path, index=False)
    return X, manifest, features_path, clinical_path


def test_round_trip_from_csv_files(tables):
    X, manifest, features_path, clinical_path = tables
    X_loaded, y = load_radiomics_csv(
        features_path,
        clinical_path,
        id_column="patient_id",
        clinical_id_column="TCIA code",
        endpoint="Local Recurrence",
    )
    pd.testing.assert_frame_equal(X_loaded, X, check_exact=False, rtol=1e-12)
    assert y.name == "Local Recurrence" and y.dtype == np.int64
    assert y.tolist() == manifest["local_recurrence"].tolist()
    assert y.index.equals(X_loaded.index)


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        ([0, 1, 1], None, [0, 1, 1]),
        ([True, False, True], None, [1, 0, 1]),
        (["no", "YES", "No"], None, [0, 1, 0]),
        (["alive", "dead", "dead"], "dead", [0, 1, 1]),
        ([2, 1, 2], 1, [0, 1, 0]),
    ],
)
def test_endpoint_encodings(values, positive, expected):
    features = pd.DataFrame({"id": ["a", "b", "c"], "f": [1.0, 2.0, 3.0]})
    clinical = pd.DataFrame({"id": ["a", "b", "c"], "e": values})
    _, y = load_radiomics_csv(features, clinical, id_column="id", endpoint="e", positive=positive)
    assert y.tolist() == expected


def test_missing_clinical_rows_raise_or_drop():
    features = pd.DataFrame({"id": ["a", "b", "c", "d"], "f": [1.0, 2.0, 3.0, 4.0]})
    clinical = pd.DataFrame({"id": ["a", "b", "c"], "e": [0, 1, None]})
    with pytest.raises(
        ManifestError, match=r"2 case\(s\) have no 'e' value in the clinical table: 'c', 'd'"
    ):
        load_radiomics_csv(features, clinical, id_column="id", endpoint="e")
    X, y = load_radiomics_csv(features, clinical, id_column="id", endpoint="e", dropna=True)
    assert X.index.tolist() == y.index.tolist() == ["a", "b"]


@pytest.mark.parametrize(
    ("clinical", "kwargs", "match"),
    [
        ({"id": ["a", "b"], "e": [0, 1]}, {"endpoint": "E"}, r"endpoint='E' is not a column"),
        (
            {"pid": ["a", "b"], "e": [0, 1]},
            {"endpoint": "e"},
            r"clinical_id_column='id' is not a column",
        ),
        (
            {"id": ["a", "a"], "e": [0, 1]},
            {"endpoint": "e"},
            r"clinical table repeats patient id\(s\) 'a'",
        ),
        (
            {"id": ["a", "b"], "e": [0, 0]},
            {"endpoint": "e"},
            r"has 1 distinct value\(s\) \('0'\); a binary endpoint needs 2",
        ),
        (
            {"id": ["a", "b"], "e": ["x", "z"]},
            {"endpoint": "e"},
            r"cannot tell which value .* pass positive=",
        ),
        (
            {"id": ["a", "b"], "e": ["x", "z"]},
            {"endpoint": "e", "positive": "q"},
            r"positive='q' is not a value",
        ),
    ],
)
def test_errors(clinical, kwargs, match):
    features = pd.DataFrame({"id": ["a", "b"], "f": [1.0, 2.0]})
    with pytest.raises(ManifestError, match=match):
        load_radiomics_csv(features, pd.DataFrame(clinical), id_column="id", **kwargs)


def test_no_numeric_features():
    features = pd.DataFrame({"id": ["a", "b"], "Image": ["a.nrrd", "b.nrrd"]})
    clinical = pd.DataFrame({"id": ["a", "b"], "e": [0, 1]})
    with pytest.raises(ManifestError, match="no numeric feature columns"):
        load_radiomics_csv(features, clinical, id_column="id", endpoint="e")
