"""pitfalls.audit on tables: group leakage, duplicate rows, sites, classes, reports."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency

from pitfalls._manifest import ManifestError
from pitfalls.audit import CHECKLIST, CHECKS, AuditReport, audit, format_checklist, split_role
from pitfalls.batch_effects import confounding_test


def clean_manifest(n_patients=60, seed=0, sites=("A", "B", "C")):
    """Two rows per patient, split by patient, balanced labels, sites mixed in every split."""
    rng = np.random.default_rng(seed)
    patients = np.arange(n_patients)
    split_of = np.array(["train", "val", "test"])[np.arange(n_patients) % 3]
    label_of = (np.arange(n_patients) // 3) % 2
    site_of = np.array(sites)[(np.arange(n_patients) // 6) % len(sites)]
    rows = np.repeat(patients, 2)
    return pd.DataFrame(
        {
            "patient": [f"p{p}" for p in rows],
            "split": split_of[rows],
            "y": np.where(label_of[rows] == 1, "pneumonia", "normal"),
            "site": site_of[rows],
            "f1": rng.normal(size=rows.size),
            "f2": rng.normal(size=rows.size),
        }
    )


def codes(report):
    return report.findings["code"].tolist()


def finding(report, code):
    rows = report.findings[report.findings.code == code]
    assert len(rows) == 1, codes(report)
    return rows.iloc[0]


KW = {"group": "patient", "split": "split", "label": "y", "site": "site"}


def test_clean_manifest_passes_every_level():
    report = audit(clean_manifest(), **KW, features=["f1", "f2"])
    assert report.passed
    # Only the informational "no external test site" note remains.
    assert codes(report) == ["PF204"]
    assert audit(clean_manifest(), **KW, fail_on="low").passed
    assert not audit(clean_manifest(), **KW, fail_on="info").passed
    assert set(report.checks_run) == set(CHECKS) - {"PF102", "PF104", "PF105", "PF108", "PF111"}


def test_group_in_several_splits_counts_rows_and_names_patients():
    df = clean_manifest()
    df.loc[0, "split"] = "test"  # p0 now has a row in train and one in test
    df.loc[2, "split"] = "val"  # p1 is a val patient: no change
    report = audit(df, **KW)
    row = finding(report, "PF101")
    assert row.severity == "high"
    assert row.n_affected == 2
    assert row.examples == ["'p0': train (1), test (1)"]
    assert "1 of 60 groups in column 'patient'" in row.detail
    assert not report.passed


@settings(max_examples=40, deadline=None)
@given(
    groups=st.lists(st.integers(0, 8), min_size=1, max_size=40),
    data=st.data(),
)
def test_group_check_matches_pandas_reference(groups, data):
    splits = data.draw(
        st.lists(
            st.sampled_from(["train", "val", "test"]), min_size=len(groups), max_size=len(groups)
        )
    )
    df = pd.DataFrame({"patient": groups, "split": splits})
    report = audit(df, group="patient", split="split")
    n_splits = df.groupby("patient")["split"].nunique()
    leaked = n_splits[n_splits > 1].index
    expected_rows = int(df["patient"].isin(leaked).sum())
    got = report.findings[report.findings.code == "PF101"]
    if len(leaked) == 0:
        assert got.empty
    else:
        assert got.n_affected.item() == expected_rows
        assert f"{len(leaked)} of {df.patient.nunique()} groups" in got.detail.item()


def test_duplicate_feature_rows_across_and_within_splits():
    df = clean_manifest()
    test_row = df.index[df.split == "test"][0]
    train_rows = df.index[df.split == "train"][:2]
    df.loc[test_row, ["f1", "f2"]] = df.loc[train_rows[0], ["f1", "f2"]].to_numpy()
    df.loc[train_rows[1], ["f1", "f2"]] = df.loc[train_rows[0], ["f1", "f2"]].to_numpy()
    report = audit(df, **KW, features=["f1", "f2"])
    across = finding(report, "PF103")
    assert across.severity == "high"
    assert across.n_affected == 3  # the three identical rows, two of them in train
    assert (
        "sets of identical feature rows found in more than one split: 1 (3 rows)" in across.detail
    )
    assert "sets spanning different patients, which the group check cannot see: 1." in across.detail
    within = finding(report, "PF106")
    assert within.severity == "low"
    assert within.n_affected == 2
    assert within.examples == [f"split 'train': rows {train_rows[0]}, {train_rows[1]}"]


def test_all_missing_feature_rows_are_not_duplicates():
    df = clean_manifest()
    df.loc[[0, 10], ["f1", "f2"]] = np.nan
    report = audit(df, **KW, features=["f1", "f2"])
    assert "PF103" not in codes(report)


def test_oversampling_before_split_is_caught_by_duplicate_rows():
    # The paper's first pitfall: random oversampling before splitting copies minority
    # rows, which then land in train and test.
    rng = np.random.default_rng(1)
    df = clean_manifest()
    minority = df[df.y == "pneumonia"]
    copies = minority.sample(20, random_state=1).copy()
    copies["patient"] = [f"copy{i}" for i in range(len(copies))]
    over = pd.concat([df, copies], ignore_index=True)
    over["split"] = rng.choice(["train", "test"], size=len(over))
    report = audit(over, group="patient", split="split", features=["f1", "f2"])
    assert "PF103" in codes(report)
    table = report.checklist()
    assert table.loc[table.item == 1, "status"].item() == "issue found"


def test_conflicting_labels_on_identical_rows():
    df = clean_manifest()
    df.loc[1, ["f1", "f2"]] = df.loc[0, ["f1", "f2"]].to_numpy()  # same patient, same split
    df.loc[1, "y"] = "pneumonia" if df.loc[0, "y"] == "normal" else "normal"
    report = audit(df, **KW, features=["f1", "f2"])
    row = finding(report, "PF107")
    assert row.n_affected == 2
    assert row.severity == "medium"


def test_site_label_confounding_uses_confounding_test():
    df = clean_manifest(n_patients=90)
    df["site"] = np.where(df.y == "pneumonia", "pediatric", "adult")
    flip = df.index[:6]
    df.loc[flip, "site"] = "pediatric"
    report = audit(df, **KW)
    row = finding(report, "PF201")
    # Tested on patients: each counts once per (site, label) it has.
    reference = confounding_test(df.y, df.site, groups=df.patient, warn=False)
    assert f"Cramér's V = {reference.cramers_v:.2f}" in row.detail
    assert f"p = {reference.pvalue:.2g}" in row.detail
    assert f"balanced accuracy {reference.label_from_site_score:.2f}" in row.detail
    assert f"{reference.n_samples} patient counts from 90 patients" in row.detail
    assert row.severity == "high"
    assert row.leakage_types == ["L2", "L3.3"]
    per_patient = df.drop_duplicates(["patient", "site", "y"])
    shares = pd.crosstab(per_patient.site, per_patient.y, normalize="index")
    assert row.examples[0] == (
        f"site 'adult': 'normal' {shares.loc['adult', 'normal']:.0%}, "
        f"'pneumonia' {shares.loc['adult', 'pneumonia']:.0%} of patients"
    )


def test_site_mix_differs_between_splits_matches_scipy():
    df = clean_manifest(n_patients=300)
    # Most site-A patients go to train, most site-B patients to test.
    df.loc[(df.site == "A") & (df.split == "test"), "split"] = "train"
    df.loc[(df.site == "B") & (df.split == "train"), "split"] = "test"
    df.loc[df.index[:4], "site"] = "B"  # keep B in train too, so it is not held out
    report = audit(df, group="patient", split="split", site="site")
    row = finding(report, "PF202")
    # On patients: each counts once per (split, site) it has.
    per_patient = df.drop_duplicates(["patient", "split", "site"])
    table = pd.crosstab(per_patient.split, per_patient.site)
    expected_p = chi2_contingency(table.to_numpy(), correction=False)[1]
    assert f"p = {expected_p:.2g}" in row.detail
    assert f"over {len(per_patient)} patient counts" in row.detail
    assert row.severity in {"medium", "low"}
    items = report.to_frame("PF202")
    crosstab_rows = pd.crosstab(df.split, df.site)
    for record in items.itertuples():
        assert record.n_rows == crosstab_rows.loc[record.split, record.site]
        assert record.n_groups == table.loc[record.split, record.site]


def test_site_only_in_test_is_an_external_test_set():
    df = clean_manifest()
    df.loc[df.split == "test", "site"] = "external"
    report = audit(df, **KW)
    row = finding(report, "PF203")
    assert row.severity == "info"
    assert "site 'external' only in test" in row.examples[0]
    assert "PF204" not in codes(report)
    table = report.checklist()
    assert table.loc[table.item == 8, "status"].item() == "review"


def test_site_only_in_train_is_low():
    df = clean_manifest()
    df.loc[df.index[(df.split == "train")][:6], "site"] = "Z"
    row = finding(audit(df, **KW), "PF203")
    assert row.severity == "low"


@pytest.mark.parametrize(("n_minority", "severity"), [(60, None), (30, "low"), (10, "medium")])
def test_class_imbalance_severity_and_baseline(n_minority, severity):
    n = 120
    y = np.array(["sick"] * n_minority + ["healthy"] * (n - n_minority))
    df = pd.DataFrame(
        {"patient": np.arange(n), "split": np.tile(["train", "test"], n // 2), "y": y}
    )
    report = audit(df, group="patient", split="split", label="y")
    got = report.findings[report.findings.code == "PF301"]
    if severity is None:
        assert got.empty
        return
    assert got.severity.item() == severity
    major_share = (y[1::2] == "healthy").mean()  # the test split is every second row
    assert f"test {major_share:.2f}" in got.detail.item()


def test_class_missing_from_split_and_tiny_split():
    df = clean_manifest()
    df.loc[(df.split == "val") & (df.y == "pneumonia"), "y"] = "normal"
    report = audit(df, **KW)
    row = finding(report, "PF302")
    n_val = (df.split == "val").sum()
    assert row.examples == [f"val has no 'pneumonia' ({n_val} rows, {n_val // 2} patients)"]
    tiny = audit(df.iloc[:12], **KW)
    assert finding(tiny, "PF303").severity == "medium"
    assert finding(tiny, "PF303").n_affected == 12  # every split of 12 rows is tiny
    assert finding(report, "PF302").n_affected == (df.split == "val").sum()


def test_missing_labels_and_continuous_label():
    df = clean_manifest()
    df["y"] = df["y"].astype(object)
    df.loc[[3, 4], "y"] = None
    row = finding(audit(df, **KW), "PF304")
    assert row.n_affected == 2
    df["y"] = np.linspace(0.5, 99.5, len(df))
    report = audit(df, **KW)
    assert not {"PF301", "PF302", "PF201"} & set(codes(report))
    assert report.checks_skipped["PF301"] == "label 'y' looks continuous (a regression target)"


@pytest.mark.parametrize(
    ("splits", "severity"),
    [
        (["train"] * 4, "high"),
        (["train", "train", "val", "val"], "medium"),
        (["0", "0", "1", "1"], "info"),
    ],
)
def test_no_test_split(splits, severity):
    df = pd.DataFrame({"patient": list("abcd"), "split": splits})
    assert finding(audit(df, group="patient", split="split"), "PF110").severity == severity


def test_test_splits_argument_names_the_test_set():
    df = pd.DataFrame({"patient": list("abcd"), "split": ["0", "0", "1", "1"]})
    report = audit(df, group="patient", split="split", test_splits=["1"])
    assert "PF110" not in codes(report)
    assert report.summary["split_roles"] == {"0": None, "1": "test"}
    with pytest.raises(ManifestError, match=r"test_splits='2' not found in split column 'split'"):
        audit(df, group="patient", split="split", test_splits=["2"])


def test_temporal_check():
    df = clean_manifest()
    df["date"] = "2020-01-01"
    df.loc[df.split == "train", "date"] = "2021-06-01"
    row = finding(audit(df, **KW, time="date"), "PF111")
    assert row.n_affected == (df.split == "test").sum()
    assert row.leakage_types == ["L3.1"]
    with pytest.warns(FutureWarning, match="audit: the parameter 'date' was renamed 'time'"):
        old = audit(df, **KW, date="date")
    pd.testing.assert_frame_equal(old.to_frame(), audit(df, **KW, time="date").to_frame())
    df.loc[0, "date"] = "not a date"
    with pytest.raises(
        ManifestError, match=r"time column 'date' has 1 value\(s\) that are not dates"
    ):
        audit(df, **KW, time="date")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group": "nope", "split": "split"}, r"group='nope' is not a column"),
        ({"group": "patient", "split": "split", "site": "where"}, r"site='where' is not a column"),
        (
            {"group": "patient", "split": "split", "features": ["f1", "f9"]},
            r"features='f9' is not a column",
        ),
        (
            {"group": "patient", "split": "split", "near_threshold": 40},
            r"near_threshold=40 is outside",
        ),
        (
            {"group": "patient", "split": "split", "near_orientations": "sideways"},
            r"near_orientations='sideways' is not one of 'flip', 'all', 'none'",
        ),
        (
            {"group": "patient", "split": "split", "near_detail_threshold": 200},
            r"near_detail_threshold=200 is outside \[0, 128\]",
        ),
        (
            {"group": "patient", "split": "split", "near_min_correlation": 0},
            r"near_min_correlation=0 is outside \(0, 1\]; use e.g. 0.75.",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ManifestError, match=message):
        audit(clean_manifest(), **kwargs)


def test_missing_group_ids_are_an_error():
    df = clean_manifest()
    df["patient"] = df["patient"].astype(object)
    df.loc[5, "patient"] = None
    with pytest.raises(
        ManifestError, match=r"group column 'patient' has 1 missing value\(s\) \(rows 5\)"
    ):
        audit(df, group="patient", split="split")
    with pytest.raises(ManifestError, match="no rows"):
        audit(df.iloc[:0], group="patient", split="split")


def test_reads_csv_and_parquet_paths(tmp_path):
    df = clean_manifest()
    df.loc[0, "split"] = "test"
    df.to_csv(tmp_path / "m.csv", index=False)
    names = ["m.csv", "semicolon.csv", "tab.csv", "pipe.csv"]
    if importlib.util.find_spec("pyarrow") is not None:  # Parquet needs the io extra
        df.to_parquet(tmp_path / "m.parquet")
        names.append("m.parquet")
    from_frame = audit(df, **KW).findings
    # spreadsheets saved in a ';' locale (and tab or '|' separated files named .csv)
    for sep, name in ((";", "semicolon.csv"), ("\t", "tab.csv"), ("|", "pipe.csv")):
        df.to_csv(tmp_path / name, index=False, sep=sep)
    for name in names:
        pd.testing.assert_frame_equal(audit(tmp_path / name, **KW).findings, from_frame)


def test_ids_labels_and_sites_from_a_file_are_read_as_text(tmp_path):
    # Leading zeros kept; a label column with a gap is not turned into 0.0 / 1.0.
    pd.DataFrame(
        {
            "pid": ["00000165", "00000165", "7", "007"],
            "y": ["1", "0", None, "1"],
            "split": ["train", "test"] * 2,
        }
    ).to_csv(tmp_path / "ids.csv", index=False)
    report = audit(tmp_path / "ids.csv", group="pid", split="split", label="y")
    assert report.summary["n_groups"] == 3  # '7' and '007' are two patients
    assert finding(report, "PF101").examples == ["'00000165': train (1), test (1)"]
    assert report.to_frame("PF101")["group"].tolist() == ["00000165", "00000165"]
    assert "train has no '0' (1 row, 1 patient)" in finding(report, "PF302").examples


def test_findings_frame_schema_and_order():
    df = clean_manifest()
    df.loc[0, "split"] = "test"
    df.loc[(df.split == "val") & (df.y == "pneumonia"), "y"] = "normal"
    findings = audit(df, **KW).findings
    assert list(findings.columns[:6]) == [
        "code",
        "severity",
        "title",
        "detail",
        "n_affected",
        "examples",
    ]
    ranks = findings.severity.map({"high": 0, "medium": 1, "low": 2, "info": 3})
    assert ranks.is_monotonic_increasing
    assert findings.n_affected.dtype == np.int64


def test_every_registered_check_maps_to_checklist_items_and_leakage_types():
    valid_types = {"L1.1", "L1.2", "L1.3", "L1.4", "L2", "L3.1", "L3.2", "L3.3"}
    for code, check in CHECKS.items():
        assert code == check.code and code.startswith("PF")
        assert check.severity in {"high", "medium", "low", "info"}
        assert set(check.leakage_types) <= valid_types
        assert set(check.checklist) <= {item.number for item in CHECKLIST}
    for item in CHECKLIST:
        assert set(item.audit_codes) <= set(CHECKS)
        for code in item.audit_codes:
            assert item.number in CHECKS[code].checklist


def test_text_markdown_json_renderings():
    df = clean_manifest()
    df.loc[0, "split"] = "test"
    report = audit(df, **KW)
    text = report.to_text(color=False)
    assert text.startswith("pitfalls audit: FAILED (1 high")
    assert "[HIGH] PF101 group-in-several-splits" in text
    assert "\033[" not in text
    assert "\033[1;31m[HIGH]" in report.to_text(color=True)
    md = report.to_markdown()
    for section in ("## Findings", "## Classes per split", "## Sites per split", "## Checklist"):
        assert section in md
    doc = json.loads(report.to_json())
    assert doc["schema"] == "pitfalls.audit" and doc["schema_version"] == 2
    assert doc["summary"]["n_rows"] == len(df)
    assert doc["distributions"]["label_by_split"]["train"] == {
        k: int(v) for k, v in df[df.split == "train"].y.value_counts().sort_index().items()
    }
    assert [f["code"] for f in doc["findings"]] == codes(report)
    assert {c["status"] for c in doc["checklist"]} <= {
        "issue found",
        "review",
        "no issue found",
        "not checked",
        "manual check",
    }
    assert isinstance(report, AuditReport) and "FAILED" in repr(report)


def test_checklist_statuses_without_images():
    table = audit(clean_manifest(), **KW).checklist()
    status = dict(zip(table.item, table.status, strict=True))
    assert status[4] == "no issue found"
    assert status[2] == "not checked"  # needs image=
    assert status[3] == "manual check"
    assert status[9] == "no issue found"
    assert len(table) == 9


def test_format_checklist_has_all_nine_items():
    text = format_checklist()
    assert sum(line[:3].strip().rstrip(".").isdigit() for line in text.splitlines()) == 9
    doc = json.loads(format_checklist("json", status={4: "issue found"}))
    assert len(doc["items"]) == 9 and doc["items"][3]["status"] == "issue found"
    assert "| 9 |" in format_checklist("md")


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("train", "train"),
        (" Validation ", "val"),
        ("TEST", "test"),
        ("external", "test"),
        ("fold1", None),
    ],
)
def test_split_role(name, role):
    assert split_role(name) == role


def test_numeric_values_are_shown_as_written():
    df = pd.DataFrame(
        {"patient": [1, 1, 2, 3], "split": ["train", "test", "train", "test"], "y": [0, 1, 1, 0]}
    )
    report = audit(df, group="patient", split="split", label="y")
    text = report.to_text(color=False)
    assert "np.int64" not in text
    assert "e.g. 1: train (1), test (1)" in text
    assert "e.g. test: 2 rows, 2 patients; only 1 of class 0; only 1 of class 1" in text
