"""Audit findings a person can act on: complete records, ids as written, every rendering agreeing.

Also: exact duplicates are always reported, patient-level statistics, the time column,
the HTML report on volumes and masks, and the deprecated names.
"""

from __future__ import annotations

import html.parser
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy.ndimage import gaussian_filter

from pitfalls._manifest import ManifestError
from pitfalls.audit import AFFECTED_COLUMNS, CHECKS, audit
from pitfalls.audit._html import cell_text, display_thumbnail
from pitfalls.batch_effects import confounding_test


def smooth_image(seed, size=96):
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 16)
    return (30 + 190 * (field - field.min()) / np.ptp(field)).astype(np.uint8)


def codes(report):
    return report.findings["code"].tolist()


def finding(report, code):
    rows = report.findings[report.findings.code == code]
    assert len(rows) == 1, codes(report)
    return rows.iloc[0]


@pytest.fixture
def leaky(tmp_path):
    """Images and features with every kind of finding, and more items than examples shown.

    12 patients in train and test (PF101), a re-saved copy under another patient
    (PF102), a brightened copy (PF104, coarse hash distance 0), a copied feature row
    (PF103), 4 sites confounded with the label (PF201) and an imbalanced label (PF301).
    """
    root = tmp_path / "img"
    root.mkdir()
    rows = []
    for i in range(40):
        name = f"im{i:03d}.png"
        Image.fromarray(smooth_image(i)).save(root / name)
        split = "train" if i % 2 == 0 else "test"
        patient = f"{i // 2 if i < 24 else i:04d}"  # patients 0000-0011 in both splits
        rows.append({"image_id": f"IMG-{i:03d}", "patient": patient, "split": split, "path": name})
    Image.fromarray(smooth_image(0)).save(root / "copy.png", compress_level=0)
    bright = np.clip(smooth_image(4).astype(int) + 25, 0, 255).astype(np.uint8)
    Image.fromarray(bright).save(root / "bright.png")
    rows.append({"image_id": "IMG-copy", "patient": "9001", "split": "test", "path": "copy.png"})
    rows.append(
        {"image_id": "IMG-bright", "patient": "9002", "split": "test", "path": "bright.png"}
    )
    df = pd.DataFrame(rows)
    rng = np.random.default_rng(0)
    df["f1"] = rng.normal(size=len(df)).round(6)
    df.loc[df.index[-1], "f1"] = df.loc[2, "f1"]  # a feature row copied into test
    df["y"] = np.where(np.arange(len(df)) % 5 == 0, "sick", "healthy")
    df["site"] = np.where(
        df.y == "sick", "S1", np.array(["S2", "S3", "S4"])[np.arange(len(df)) % 3]
    )
    return root, df


KW = {"group": "patient", "split": "split", "label": "y", "site": "site", "image": "path"}


def _report(leaky, **extra):
    root, df = leaky
    return audit(df, **KW, root=root, features=["f1"], id="image_id", **extra)


# --- ids are text ---------------------------------------------------------------------


def test_ids_from_a_csv_keep_leading_zeros_and_stay_distinct(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("pid,split,site\n00000165,train,01\n00000165,test,01\n007,train,1\n7,test,1\n")
    report = audit(path, group="pid", split="split", site="site")
    assert report.summary["n_groups"] == 3
    assert report.to_frame("PF101")["group"].tolist() == ["00000165", "00000165"]
    assert report.site_by_split.columns.tolist() == ["01", "1"]  # two sites, as written
    doc = json.loads(report.to_json())
    assert doc["findings"][0]["affected"][0]["group"] == "00000165"


def test_dataframe_ids_are_used_as_given():
    text = pd.DataFrame({"pid": ["007", "7", "007"], "split": ["train", "test", "test"]})
    report = audit(text, group="pid", split="split")
    assert report.to_frame("PF101")["group"].tolist() == ["007", "007"]  # '7' is another patient
    numbers = pd.DataFrame({"pid": [7, 7, 8], "split": ["train", "test", "test"]})
    groups = audit(numbers, group="pid", split="split").to_frame("PF101")["group"]
    assert groups.tolist() == [7, 7] and all(isinstance(g, int | np.integer) for g in groups)
    floats = pd.DataFrame({"pid": [7.0, 7.0, 8.0], "split": ["train", "test", "test"]})
    assert audit(floats, group="pid", split="split").to_frame("PF101")["group"].tolist() == [
        7.0,
        7.0,
    ]


def test_id_column_names_rows_and_must_be_unique(leaky):
    report = _report(leaky)
    exact = report.to_frame("PF102")
    assert exact[["row", "split"]].values.tolist() == [["IMG-000", "train"], ["IMG-copy", "test"]]
    _, df = leaky
    df.loc[3, "image_id"] = "IMG-000"
    with pytest.raises(
        ManifestError, match=r"id column 'image_id' repeats 1 value\(s\) \('IMG-000'\)"
    ):
        audit(df, group="patient", split="split", id="image_id")


def test_rows_are_named_by_the_index_or_position():
    df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"]})
    assert audit(df.set_axis([10, 20, 30]), group="pid", split="split").to_frame("PF101")[
        "row"
    ].tolist() == [10, 20]
    repeated_index = df.set_axis([5, 5, 6])
    assert audit(repeated_index, group="pid", split="split").to_frame("PF101")["row"].tolist() == [
        0,
        1,
    ]


# --- complete records, and every rendering agreeing -------------------------------------


class _ItemTables(html.parser.HTMLParser):
    """Cells of the <details id="items-CODE"> tables of the HTML report."""

    def __init__(self):
        super().__init__()
        self.tables, self._code, self._row, self._cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details" and attrs.get("id", "").startswith("items-"):
            self._code = attrs["id"][len("items-") :]
            self.tables[self._code] = []
        elif tag == "tr" and self._code:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._code].append(self._row)
            self._row = None
        elif tag == "details":
            self._code = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _as_text(frame):
    return [[cell_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]


def test_every_rendering_lists_the_same_complete_items(leaky, tmp_path):
    report = _report(leaky)
    assert {"PF101", "PF102", "PF103", "PF104", "PF201", "PF301"} <= set(codes(report))
    doc = json.loads(report.to_json())
    text, md = report.to_text(color=False), report.to_markdown()
    details = pd.read_csv(
        io.StringIO(report.to_frame().to_csv(index=False)), dtype=str, keep_default_na=False
    )
    assert details.columns.tolist() == ["code", *AFFECTED_COLUMNS]
    parser = _ItemTables()
    parser.feed(report.to_html())
    for f in doc["findings"]:
        code = f["code"]
        frame = report.to_frame(code)
        own = frame.drop(columns="code")
        # JSON records == to_frame(code) == CSV details == the HTML table
        assert [list(r.values()) for r in f["affected"]] == _as_json_like(own), code
        assert list(f["affected"][0]) == own.columns.tolist() if f["affected"] else True
        csv_part = details[details.code == code][own.columns].reset_index(drop=True)
        assert csv_part.values.tolist() == _as_text(own), code
        if f["affected"]:
            header, *cells = parser.tables[code]
            assert header == own.columns.tolist() and cells == _as_text(own), code
        # n_items and the examples: the first 5 items, then "and K more"
        assert f["n_items"] == (own["item"].nunique() if len(own) else 0)
        assert f["examples"] == finding(report, code).examples
        shown = len(f["examples"])
        more = f["n_items"] - shown
        for rendering in (text, md):
            for example in f["examples"]:
                assert example.replace("|", "\\|") in rendering
            if more > 0:
                assert f"and {more} more " in rendering
    # PF101 lists every row of the 12 patients, not 5 examples.
    pf101 = report.to_frame("PF101")
    assert pf101.groupby("item").group.first().tolist() == [f"{p:04d}" for p in range(12)]
    assert len(pf101) == 24 and finding(report, "PF101").n_affected == 24
    assert "and 7 more patients" in text


def _as_json_like(frame):
    out = []
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for v in row:
            if isinstance(v, np.generic):
                v = v.item()
            cells.append(
                None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
            )
        out.append(cells)
    return out


def test_pair_records_name_both_sides_and_what_was_measured(leaky):
    report = _report(leaky)
    pair = report.to_frame("PF104").set_index("other_row").loc["IMG-bright"]
    assert (pair.row, pair.split, pair.group, pair.other_split, pair.other_group) == (
        "IMG-004",
        "train",
        "0002",
        "test",
        "9002",
    )
    assert pair.path.endswith("im004.png") and pair.other_path.endswith("bright.png")
    assert pair.distance == 0  # a brightened copy: the coarse hash cannot tell
    assert pair.rule in {"fine detail", "grey levels"}
    assert "identical" not in pair.measure and "correlation" in pair.measure
    detail = finding(report, "PF104").detail
    # The text names both rules that admit a pair.
    assert "fine detail correlated at 0.75 or more" in detail
    assert "grey levels correlated at 0.9 or more" in detail


def test_to_frame_of_a_check_without_finding_and_of_an_unknown_code(leaky):
    report = _report(leaky)
    empty = report.to_frame("PF111")
    assert empty.empty and "code" in empty.columns
    with pytest.raises(ValueError, match=r"code='PF999' is not a check code; use one of PF101"):
        report.to_frame("PF999")


def test_every_check_declares_its_unit():
    units = {"patient", "duplicate set", "pair", "row", "site", "class", "split"}
    assert {check.unit for check in CHECKS.values()} <= units


# --- exact duplicates are exact ------------------------------------------------------------


def test_identical_low_information_texture_across_splits_is_pf102(tmp_path):
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (512, 512)).astype(np.uint8)  # noise: low information
    Image.fromarray(texture).save(tmp_path / "a.png")
    Image.fromarray(texture).save(tmp_path / "b.png", compress_level=0)
    rows = [{"pid": "p1", "split": "train", "path": "a.png"}]
    rows.append({"pid": "p2", "split": "test", "path": "b.png"})
    for i in range(4):
        Image.fromarray(smooth_image(i)).save(tmp_path / f"{i}.png")
        rows.append({"pid": f"q{i}", "split": ["train", "test"][i % 2], "path": f"{i}.png"})
    report = audit(pd.DataFrame(rows), group="pid", split="split", image="path", root=tmp_path)
    assert finding(report, "PF108").n_affected == 1 + 1  # classed low-information ...
    row = finding(report, "PF102")  # ... and reported all the same
    assert row.severity == "high" and row.n_affected == 2
    assert report.to_frame("PF102").note.tolist() == ["(nearly) blank image"] * 2
    assert not report.passed


# --- patients are the unit ------------------------------------------------------------------


def random_sites_per_patient():
    """40 patients, label and site drawn independently per patient, 1-24 images each."""
    rng = np.random.default_rng(13)
    n = 40
    label = np.arange(n) % 2
    site = rng.choice(["A", "B"], n)
    rows = np.repeat(np.arange(n), rng.integers(1, 25, n))
    return pd.DataFrame(
        {
            "patient": [f"p{p}" for p in rows],
            "split": np.where(rows % 3 == 0, "test", "train"),
            "y": label[rows],
            "site": site[rows],
        }
    )


def test_site_label_confounding_is_tested_on_patients():
    df = random_sites_per_patient()
    by_rows = confounding_test(df.y, df.site, warn=False)
    assert by_rows.pvalue < 0.05 and by_rows.cramers_v >= 0.1  # a row-level test would report
    report = audit(df, group="patient", split="split", label="y", site="site")
    assert "PF201" not in codes(report)
    # One image per patient: the same table, so the same decision as on rows.
    single = df.drop_duplicates("patient")
    by_patients = confounding_test(single.y, single.site, warn=False)
    assert by_patients.pvalue > 0.05


def test_confounding_finding_counts_patients_with_several_sites():
    df = random_sites_per_patient()
    df["site"] = np.where(df.y == 1, "A", "B")
    df.loc[df.index[:3], "site"] = "A"  # patient p0 (label 0) also seen at site A
    row = finding(audit(df, group="patient", split="split", label="y", site="site"), "PF201")
    assert "from 40 patients" in row.detail
    assert "patients at several sites: 1, with several labels: 0" in row.detail
    items = audit(df, group="patient", split="split", label="y", site="site").to_frame("PF201")
    reference = df.groupby(["site", "y"]).patient.nunique()
    for record in items.itertuples():
        assert record.n_groups == reference.get((record.site, record.label), 0)
        assert record.n_rows == ((df.site == record.site) & (df.y == record.label)).sum()


def test_class_findings_count_patients_as_well_as_rows():
    df = pd.DataFrame(
        {
            "pid": [f"p{i // 4}" for i in range(40)] + [f"s{i}" for i in range(5)],
            "split": ["train"] * 20 + ["test"] * 20 + ["train"] * 5,
            "y": ["healthy"] * 40 + ["sick"] * 5,
        }
    )
    report = audit(df, group="pid", split="split", label="y")
    assert finding(report, "PF301").examples == [
        "'healthy': 40 rows, 10 patients",
        "'sick': 5 rows, 5 patients",
    ]
    assert (
        "8.0 times the smallest in rows (2.0 times in patients)" in finding(report, "PF301").detail
    )
    assert finding(report, "PF302").examples == ["test has no 'sick' (20 rows, 5 patients)"]
    classes = report.to_frame("PF301")
    assert classes[["label", "n_rows", "n_groups"]].values.tolist() == [
        ["healthy", 40, 10],
        ["sick", 5, 5],
    ]


# --- time ---------------------------------------------------------------------------------


def test_numeric_time_and_temporal_test_set():
    df = pd.DataFrame(
        {
            "pid": [f"p{i}" for i in range(8)],
            "split": ["train"] * 4 + ["test"] * 4,
            "day": [1, 2, 3, 10, 4, 11, 12, 13],
            "site": ["A", "B"] * 4,
        }
    )
    report = audit(df, group="pid", split="split", site="site", time="day")
    older = report.to_frame("PF111")
    assert older[["row", "time"]].values.tolist() == [[4, "4"]]
    assert (
        "Nor is the test set later than training in time (column 'day'"
        in finding(report, "PF204").detail
    )
    df.loc[4, "day"] = 14
    later = audit(df, group="pid", split="split", site="site", time="day")
    assert "PF111" not in codes(later)
    assert "The test set does come after training in time" in finding(later, "PF204").detail


# --- HTML ---------------------------------------------------------------------------------


def test_html_pairs_of_volumes_and_masks_render(tmp_path):
    rng = np.random.default_rng(1)
    volume = gaussian_filter(rng.normal(size=(12, 48, 48)), 3)
    mask = gaussian_filter(rng.normal(size=(48, 48)), 4) > 0
    np.save(tmp_path / "v1.npy", volume)
    np.save(tmp_path / "v2.npy", volume)
    np.save(tmp_path / "m1.npy", mask)
    np.save(tmp_path / "m2.npy", mask)
    df = pd.DataFrame(
        {
            "pid": ["a", "b", "c", "d"],
            "split": ["train", "test", "train", "test"],
            "path": ["v1.npy", "v2.npy", "m1.npy", "m2.npy"],
        }
    )
    report = audit(df, group="pid", split="split", image="path", root=tmp_path)
    assert report.to_frame("PF102").item.nunique() == 2
    page = report.to_html()
    assert page.count("<div class='pair'>") == 2
    assert "not available" not in page
    assert report.thumbnails["0"].ndim == 2 and report.thumbnails["2"].max() == 255


@pytest.mark.parametrize(
    ("pixels", "shape"),
    [
        (np.zeros((5, 40, 30), np.float32), (40, 30)),  # a volume: middle slice
        (np.zeros((2, 5, 40, 30, 3), np.uint16), (40, 30, 3)),
        (np.ones((400, 200), bool), (160, 80)),
        (np.zeros((20, 20, 4), np.uint8), (20, 20, 3)),
        (np.zeros((20, 20, 1), np.int32), (20, 20)),
        (np.full((20, 20), np.nan), (20, 20)),
    ],
)
def test_display_thumbnail_handles_any_array(pixels, shape):
    out = display_thumbnail(pixels)
    assert out.dtype == np.uint8 and out.shape == shape


def test_html_has_a_site_by_label_figure_with_the_confounding_finding(leaky):
    page = _report(leaky).to_html()
    figure = re.search(
        r"<figure><img alt='Classes per site'[^>]*><figcaption>(.*?)</figcaption>", page
    )
    assert figure and "PF201 high" in figure[1]
    assert "the label mix differs between sites, tested on patients" in figure[1]


# --- deprecated names -----------------------------------------------------------------------


def test_deprecated_parameters_and_attributes_warn_and_still_work():
    df = pd.DataFrame({"pid": ["a", "a", "b"], "split": ["train", "test", "test"]})
    with pytest.warns(FutureWarning, match=r"audit\(random_state=\) is deprecated and unused"):
        audit(df, group="pid", split="split", random_state=0)
    with pytest.warns(FutureWarning, match="audit: the parameter 'progress' was renamed 'verbose'"):
        report = audit(df, group="pid", split="split", progress=False)
    with pytest.warns(FutureWarning, match=r"finding_list is deprecated"):
        assert [f.code for f in report.finding_list] == codes(report)
    with pytest.warns(FutureWarning, match=r"passes\(fail_on\) is deprecated"):
        assert report.passes("never") and not report.passes("high")
    with pytest.raises(ManifestError, match=r"fail_on='sometimes' is not one of 'high'"):
        audit(df, group="pid", split="split", fail_on="sometimes")


def test_fail_on_sets_the_verdict_of_every_rendering():
    df = pd.DataFrame({"pid": list("abcd"), "split": ["train", "train", "val", "val"]})
    strict = audit(df, group="pid", split="split", fail_on="medium")
    assert not strict.passed and strict.to_text(color=False).startswith("pitfalls audit: FAILED")
    assert json.loads(strict.to_json())["passed"] is False
    assert audit(df, group="pid", split="split").passed


# --- properties on random manifests ---------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 40))
def test_records_match_pandas_references_on_random_manifests(data, n):
    draw = lambda values: data.draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))  # noqa: E731
    df = pd.DataFrame(
        {
            "patient": draw(["01", "1", "002", "3", "x"]),
            "split": draw(["train", "val", "test"]),
            "y": draw(["a", "b", "c"]),
            "site": draw(["S", "T"]),
            "f": draw([0.5, 1.5]),
        }
    )
    report = audit(df, group="patient", split="split", label="y", site="site", features=["f"])
    # PF101: exactly the rows of patients in more than one split, ids as given.
    n_splits = df.groupby("patient").split.nunique()
    leaked = df[df.patient.map(n_splits) > 1]
    pf101 = report.to_frame("PF101")
    assert sorted(pf101.row.tolist()) == leaked.index.tolist()
    assert set(pf101.group) == set(leaked.patient)
    assert pf101.groupby("item").group.nunique().eq(1).all()
    # PF103: every row whose feature value occurs in more than one split.
    spread = df.groupby("f").split.nunique()
    assert sorted(report.to_frame("PF103").row.tolist()) == df.index[df.f.map(spread) > 1].tolist()
    # PF301 counts classes in rows and patients.
    pf301 = report.to_frame("PF301")
    for record in pf301.itertuples():
        assert record.n_rows == (df.y == record.label).sum()
        assert record.n_groups == df[df.y == record.label].patient.nunique()
    # The JSON lists the same records as to_frame, finding by finding.
    for f in json.loads(report.to_json())["findings"]:
        own = report.to_frame(f["code"]).drop(columns="code")
        assert [list(r.values()) for r in f["affected"]] == _as_json_like(own)
        assert f["n_affected"] >= 0 and f["n_items"] == (own.item.nunique() if len(own) else 0)


def test_html_caption_of_a_brightened_copy_says_what_was_measured(leaky):
    page = _report(leaky).to_html()
    captions = re.findall(r"<div class='pair'>.*?<br>(.*?)</div>", page)
    bright = [c for c in captions if "IMG-bright" in c]
    assert len(bright) == 1
    assert "hash distance 0/64" in bright[0] and "correlation" in bright[0]
    assert "identical" not in bright[0]
    exact = [c for c in captions if "IMG-copy" in c]
    assert exact == ["rows IMG-000 (train) / IMG-copy (test): identical decoded pixels"]
