"""StudyReport's renderings on hand-built reports: text, Markdown, JSON, HTML, tables, plot.

Every format must show every section and every number of every table; JSON must be
plain data matching the schema documented in docs/report.rst; the HTML page must be
self-contained (no external reference, one embedded PNG per figure) and escape what
it shows.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pitfalls.audit import Finding, audit
from pitfalls.audit._report import finding_json
from pitfalls.report import SECTION_KEYS, ReportFigure, ReportTable, Section, StudyReport
from pitfalls.report._findings import REPORT_CHECKS, report_finding

DOCS = Path(__file__).resolve().parents[1] / "docs" / "report.rst"
NASTY = "<script>alert('x')</script> & <b>"

# value in a table -> how every text format writes it
NUMBERS = {0.8123: "0.812", 0.0004: "4.0e-04", 12: "12", -0.25: "-0.250", 1.0: "1.000"}


def _draw_line():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([0, 1], [0, 0.5])
    return figure


def _draw_with_pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(3, 2))
    figure.add_subplot().bar([0, 1], [2, 3])
    return figure


def _section(index, key):
    """A section whose table holds the numbers of NUMBERS (one per row, by position)."""
    values = list(NUMBERS)
    value = values[index % len(values)]
    other = values[(index + 1) % len(values)]
    table = pd.DataFrame(
        {"estimate": [value, float("nan")], "count": [index + 1, 40 + index]},
        index=pd.Index([f"split{index}", NASTY], name="split"),
    )
    second = pd.DataFrame({"metric": ["roc_auc"], "value": [other]})
    figures = ()
    if index % 3 == 0:
        draw = _draw_with_pyplot if index == 3 else _draw_line
        figures = (ReportFigure(f"fig{index}", f"Figure of {key} & <more>.", draw),)
    return Section(
        key,
        f"{key.title()} & <{index}>",
        ("ok", "attention", "failed", "not_available")[index % 4],
        text=(f"Sentence about {key} with {NASTY}.",),
        tables=(
            ReportTable("main", f"Main table of {key}.", table),
            ReportTable("second", f"Second table of {key}.", second),
        ),
        figures=figures,
        data={
            "value": np.float64(value),
            "missing": np.float64("nan"),
            "infinite": float("inf"),
            "count": np.int64(index),
            "flag": np.bool_(True),
            "ids": np.array(["007", "7"]),
            "nested": {"low": np.float32(0.5), "high": None, 3: (1, np.nan)},
        },
    )


def _finding(code="PF101", severity="high"):
    affected = pd.DataFrame(
        {"item": [1, 1], "row": [NASTY, "r2"], "group": ["p&<1>"] * 2, "split": ["train", "test"]}
    )
    return Finding(
        code,
        "group-in-several-splits",
        severity,
        "Patient (group) in more than one split",
        "1 of 3 groups has rows in two splits",
        2,
        examples=[f"'{NASTY}': train (1), test (1)"],
        checklist=(4,),
        leakage_types=("L1.4",),
        unit="patient",
        affected=affected,
    )


@pytest.fixture
def report():
    sections = [_section(i, key) for i, key in enumerate(SECTION_KEYS)]
    settings = {"group": "pid", "n_bootstraps": np.int64(200), "evaluation_splits": ("test",)}
    return StudyReport(sections, [_finding()], fail_on="high", settings=settings)


def _figures(report):
    return [f for s in report.sections.values() for f in s.figures]


# --- every format shows every section and number --------------------------------------------


def test_every_format_shows_every_section_title_and_table_number(report):
    text, markdown, page = report.to_text(), report.to_markdown(), report.to_html()
    doc = json.loads(report.to_json())
    for key, section in report.sections.items():
        assert section.title in text
        assert section.title.replace("<", "\\<").replace(">", "\\>") in markdown
        assert html.escape(section.title) in page
        assert doc["sections"][key]["title"] == section.title
        for table in section.tables:
            assert table.caption in text and table.caption in markdown
            assert html.escape(table.caption) in page
            values = [v for column in table.frame for v in table.frame[column].tolist()]
            for value in values:
                if isinstance(value, float) and math.isnan(value):
                    shown = "n/a"
                else:
                    shown = NUMBERS.get(value, str(value))
                assert re.search(rf"(^|  ){re.escape(shown)}(  |$)", text, re.M), (key, shown)
                assert f"| {shown} |" in markdown, (key, shown)
                assert f"<td>{shown}</td>" in page, (key, shown)
            records = doc["sections"][key]["tables"]
            record_values = [v for t in records for r in t["records"] for v in r.values()]
            assert [v for v in values if v == v] == [v for v in values if v in record_values]


def test_figures_are_captions_in_text_and_markdown_and_images_in_html(report):
    figures = _figures(report)
    assert len(figures) == 3
    for figure in figures:
        assert f"Figure (in the HTML report): {figure.caption}" in report.to_text()
        assert "<more\\>" in report.to_markdown()
    assert "<img" not in report.to_markdown()


def test_verdict_and_findings_in_every_format(report):
    assert report.to_text().startswith("pitfalls study report: FAILED (1 high) - 9 sections: ")
    assert report.to_markdown().startswith("# pitfalls study report: FAILED\n")
    assert 'pitfalls study report: <span class="failed">FAILED</span>' in report.to_html()
    for rendering in (report.to_text(), report.to_markdown(), report.to_html()):
        assert "PF101" in rendering and "group-in-several-splits" in rendering
    passing = StudyReport(list(report.sections.values()), [_finding()], fail_on="never")
    assert passing.to_text().startswith(
        "pitfalls study report: PASSED (1 high, failing on never) - 9 sections: 3 ok, "
        "2 attention, 2 failed, 2 not available\n"
    )


# --- tables ------------------------------------------------------------------------------------


def test_to_frame_lists_the_sections(report):
    frame = report.to_frame()
    assert list(frame.columns) == ["key", "title", "status", "n_tables", "n_figures"]
    assert list(frame.key) == list(SECTION_KEYS)
    assert list(frame.n_tables) == [2] * 9
    assert list(frame.n_figures) == [1, 0, 0, 1, 0, 0, 1, 0, 0]
    assert frame.n_tables.dtype == np.int64


def test_to_frame_of_a_section_stacks_its_tables(report):
    main = report.sections["cohort"].tables[0].frame
    pd.testing.assert_frame_equal(report.to_frame("cohort", "main"), main)
    stacked = report.to_frame("cohort")
    assert list(stacked.columns) == ["table", "split", "estimate", "count", "metric", "value"]
    assert list(stacked.table) == ["main", "main", "second"]
    assert list(stacked.split[:2]) == ["split0", NASTY]
    assert stacked.metric.iloc[2] == "roc_auc" and stacked.value.iloc[2] == 0.0004
    assert stacked.estimate.isna().tolist() == [False, True, True]


def test_to_frame_of_a_one_table_section_is_that_table():
    frame = pd.DataFrame({"n": [1, 2]}, index=pd.Index(["a", "b"], name="split"))
    section = Section("cohort", "Cohort", "ok", tables=(ReportTable("t", "T.", frame),))
    result = StudyReport([section], []).to_frame("cohort")
    pd.testing.assert_frame_equal(result, frame)
    result.iloc[0, 0] = 99  # a copy: the report is not changed through it
    assert frame.iloc[0, 0] == 1
    empty = StudyReport([Section("leakage", "Leakage", "not_available")], [])
    assert list(empty.to_frame("leakage").columns) == ["table"] and empty.to_frame("leakage").empty


def test_to_frame_errors(report):
    small = StudyReport([Section("cohort", "Cohort", "ok")], [])
    with pytest.raises(ValueError, match=r"^section='curves' is not a section of this report; "):
        small.to_frame("curves")
    with pytest.raises(ValueError, match=r"use one of cohort\.$"):
        small.to_frame("curves")
    with pytest.raises(
        ValueError,
        match=r"^table='roc' is not a table of section 'cohort'; use one of main, second",
    ):
        report.to_frame("cohort", "roc")
    with pytest.raises(ValueError, match=r"^table='main' was given without a section; use "):
        report.to_frame(table="main")


def test_findings_frame_is_the_audits_plus_section():
    manifest = pd.DataFrame(
        {"pid": ["a", "a", "b", "c", "d"], "split": ["train", "test", "train", "test", "val"]}
    )
    audited = audit(manifest, group="pid", split="split")
    assert len(audited.findings) >= 2
    objects = audited._findings  # the audit's Finding objects (no public accessor)
    slope = report_finding(
        "PF404", "slope 0.4", n_affected=9, examples=["test"], affected={"item": [1]}
    )
    unknown = _finding("PF999", "info")
    report = StudyReport([], [unknown, slope, *reversed(objects)])
    frame = report.findings
    assert list(frame.columns) == [*audited.findings.columns, "section"]
    n = len(objects)
    pd.testing.assert_frame_equal(frame.iloc[:n, :-1], audited.findings)  # most severe first
    assert list(frame.code[n:]) == ["PF404", "PF999"]
    assert list(frame.section) == ["audit"] * n + ["calibration", None]
    doc = report.to_dict()
    for f, record in zip(objects, doc["findings"], strict=False):
        assert record == {**json.loads(json.dumps(finding_json(f))), "section": "audit"}
    assert doc["findings"][n]["section"] == "calibration"


def test_every_report_check_names_a_section():
    assert {check.section for check in REPORT_CHECKS.values()} <= set(SECTION_KEYS) - {
        "audit",
        "cohort",
        "checklist",
    }


# --- JSON ----------------------------------------------------------------------------------


def _documented_keys():
    """The JSON schema's keys as docs/report.rst lists them: {path: [keys]}."""
    text = DOCS.read_text(encoding="utf-8")
    block = text.split(".. begin json schema", 1)[1].split(".. end json schema", 1)[0]
    tree: dict[tuple[str, ...], list[str]] = {}
    stack: list[tuple[int, str]] = []
    for indent, key in re.findall(r"^( *)- ``(\w+)``", block, re.M):
        depth = len(indent)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        tree.setdefault(tuple(name for _, name in stack), []).append(key)
        stack.append((depth, key))
    return tree


def _is_plain(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or type(value) in (bool, int, str)


def test_json_round_trips_and_has_the_documented_keys(report):
    doc = report.to_dict()
    assert json.loads(report.to_json()) == doc
    assert json.loads(report.to_json(indent=None)) == doc and "\n" not in report.to_json(
        indent=None
    )
    assert _is_plain(doc)
    documented = _documented_keys()
    assert list(doc) == documented[()]
    for section in doc["sections"].values():
        assert list(section) == documented[("sections",)]
        for table in section["tables"]:
            assert list(table) == documented[("sections", "tables")]
        for figure in section["figures"]:
            assert list(figure) == documented[("sections", "figures")]
    assert list(doc["findings"][0]) == documented[("findings",)]
    assert doc["schema"] == "pitfalls.report" and doc["schema_version"] == 1
    assert (doc["passed"], doc["fail_on"]) == (False, "high")
    assert doc["counts"] == {"high": 1, "medium": 0, "low": 0, "info": 0}
    assert doc["settings"] == {"group": "pid", "n_bootstraps": 200, "evaluation_splits": ["test"]}
    assert list(doc["sections"]) == list(SECTION_KEYS)


def test_json_writes_nan_and_infinity_as_null_and_numpy_as_plain(report):
    data = report.to_dict()["sections"]["performance"]["data"]
    assert data == {
        "value": 12.0,
        "missing": None,
        "infinite": None,
        "count": 2,
        "flag": True,
        "ids": ["007", "7"],
        "nested": {"low": 0.5, "high": None, "3": [1, None]},
    }
    table = report.to_dict()["sections"]["cohort"]["tables"][0]
    assert table["columns"] == ["split", "estimate", "count"]
    assert table["records"][1] == {"split": NASTY, "estimate": None, "count": 40}
    assert "NaN" not in report.to_json() and "Infinity" not in report.to_json()


def test_json_of_affected_items_keeps_ids_as_text():
    finding = _finding()
    doc = StudyReport([], [finding]).to_dict()
    assert doc["findings"][0]["affected"][0] == {
        "item": 1,
        "row": NASTY,
        "group": "p&<1>",
        "split": "train",
    }
    assert doc["findings"][0]["section"] == "audit"


# --- HTML ----------------------------------------------------------------------------------


def test_html_is_self_contained_with_one_image_per_figure(report, tmp_path):
    page = report.to_html(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == page
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page and "@import" not in page
    sources = re.findall(r"""src=['"]([^'"]*)""", page)
    assert len(sources) == len(_figures(report)) == page.count("<img")
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(href.startswith("#") for href in re.findall(r"""href=['"]([^'"]*)""", page))
    for key in report.sections:
        assert f'<section id="{key}">' in page and f'<a href="#{key}">' in page


def test_html_escapes_ids_sentences_and_captions(report):
    page = report.to_html()
    escaped = html.escape(NASTY)
    assert NASTY not in page and "<script" not in page and page.count(escaped) >= 10
    assert f"<td>{escaped}</td>" in page  # a table cell
    assert f"Sentence about cohort with {escaped}." in page  # a sentence
    assert html.escape("p&<1>") in page  # an affected item of a finding


def test_html_contents_show_each_section_status(report):
    contents = re.search(r'<nav id="contents">(.*?)</nav>', report.to_html(), re.S)[1]
    for key, section in report.sections.items():
        status = section.status.replace("_", " ")
        assert re.search(
            rf'href="#{key}">[^<]*</a> <span class="status status-{section.status}">{status}<',
            contents,
        )


def test_figures_drawn_with_pyplot_are_closed_after_rendering(report):
    import matplotlib.pyplot as plt

    plt.close("all")
    report.to_html()
    assert plt.get_fignums() == []


# --- plot and exit status -------------------------------------------------------------------


def test_plot_draws_the_first_figure_of_a_section(report):
    figure = report.plot("cohort")
    assert figure.axes[0].lines[0].get_ydata().tolist() == [0, 0.5]
    assert report.plot().axes[0].lines  # the first section with a figure: cohort
    with pytest.raises(
        ValueError, match=r"^section='audit' has no figure; sections with figures: cohort, curves, "
    ):
        report.plot("audit")
    with pytest.raises(ValueError, match=r"^section='nope' is not a section of this report"):
        report.plot("nope")
    assert StudyReport([Section("cohort", "Cohort", "ok")], []).plot() is None


@pytest.mark.parametrize(
    ("severity", "fail_on", "expected"),
    [
        ("high", "high", 1),
        ("high", "never", 0),
        ("medium", "high", 0),
        ("medium", "medium", 1),
        ("low", "medium", 0),
        ("info", "info", 1),
    ],
)
def test_exit_code_follows_fail_on(severity, fail_on, expected):
    report = StudyReport([], [_finding(severity=severity)], fail_on=fail_on)
    assert report.exit_code() == expected
    assert report.passed is (expected == 0)
    assert StudyReport([], [], fail_on=fail_on).exit_code() == 0


def test_repr_is_one_line(report):
    text = repr(report)
    assert text.startswith("StudyReport(cohort=ok, audit=attention,") and "\n" not in text
    assert text.endswith("1 findings, passed=False)")


def _documented_data_keys():
    """Every ``name`` the guide's list of section data mentions, by section key."""
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("The ``data`` of each section", 1)[1].split("\n.. _", 1)[0]
    found: dict[str, set[str]] = {}
    for term, body in re.findall(r"^``(\w+)``\n((?:    .*\n?)+)", block, re.M):
        found[term] = set(re.findall(r"``(\w+)``", body))
    return found


def test_the_data_of_computed_sections_is_documented():
    from pitfalls.report import study_report

    rng = np.random.default_rng(0)
    n = 48
    manifest = pd.DataFrame(
        {
            "pid": [f"p{i // 2}" for i in range(n)],
            "split": np.where(np.arange(n) // 2 % 3 == 0, "test", "train"),
            "y": np.arange(n) // 2 % 2,
            "site": np.where(np.arange(n) // 4 % 2 == 0, "A", "B"),
        }
    )
    manifest.loc[manifest.pid.isin(["p0", "p1", "p2", "p3"]), "split"] = "external"
    manifest["score"] = np.clip(0.3 + 0.4 * manifest.y + rng.normal(0, 0.2, n), 0, 1)
    report = study_report(
        manifest, group="pid", split="split", label="y", site="site", score="score",
        n_bootstraps=20,
    )  # fmt: skip
    documented = _documented_data_keys()
    assert set(documented) == set(SECTION_KEYS)
    computed = [s for s in report.sections.values() if s.status != "not_available"]
    assert {"cohort", "performance", "calibration", "subgroups", "external"} <= {
        s.key for s in computed
    }
    for section in computed:
        data = report.to_dict()["sections"][section.key]["data"]
        assert set(data) <= documented[section.key], section.key
        records = [
            v[0] for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)
        ]
        for record in records:
            assert set(record) <= documented[section.key], section.key
