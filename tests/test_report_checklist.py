"""The study report's checklist: guideline items as data, one rule per item, the CLI.

Sections are built by hand (``pitfalls.report.Section``) with the ``data`` keys the
shared spec documents; every rule that can evidence its item is driven once to
``evidenced`` and once to ``failed`` or ``needs_author``, and the sentence must carry
the number it rests on.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pitfalls.audit import CHECKLIST, format_checklist
from pitfalls.cli import main
from pitfalls.report import (
    GUIDELINE_ITEMS,
    GUIDELINES,
    RULES,
    SECTION_KEYS,
    STATUSES,
    VERDICTS,
    ReportTable,
    Section,
    fill_checklist,
    format_guideline,
    guideline_items,
)

# ------------------------------------------------------------------ a complete report


def _metric(value, low, high, majority=0.5, stratified=0.5):
    return {
        "value": value,
        "low": low,
        "high": high,
        "majority": majority,
        "stratified": stratified,
    }


def _metrics(shift: float = 0.0) -> dict[str, Any]:
    return {
        "accuracy": _metric(0.8 - shift, 0.72, 0.86, 0.6, 0.52),
        "balanced_accuracy": _metric(0.81 - shift, 0.73, 0.88),
        "precision": _metric(0.7 - shift, 0.6, 0.8, 0.0, 0.4),
        "recall": _metric(0.75 - shift, 0.62, 0.86, 0.0, 0.4),
        "specificity": _metric(0.84 - shift, 0.76, 0.9, 1.0, 0.6),
        "f1": _metric(0.72 - shift, 0.62, 0.8, 0.0, 0.4),
        "roc_auc": _metric(0.87 - shift, 0.8, 0.93),
    }


BASE: dict[str, dict[str, Any]] = {
    "cohort": {
        "n_samples": 200,
        "n_patients": 100,
        "n_sites": 3,
        "splits": [
            {
                "split": "train",
                "role": "train",
                "samples": 140,
                "patients": 70,
                "classes": {"0": 40, "1": 30},
                "sites": {"A": 100, "B": 40},
            },
            {
                "split": "test",
                "role": "test",
                "samples": 40,
                "patients": 20,
                "classes": {"0": 12, "1": 8},
                "sites": {"A": 30, "B": 10},
            },
            {
                "split": "external",
                "role": "external",
                "samples": 20,
                "patients": 10,
                "classes": {"0": 6, "1": 4},
                "sites": {"C": 20},
            },
        ],
        "patients_in_several_splits": [],
        "missing": {"pid": 0, "label": 0, "split": 0, "site": 0, "score": 0},
        "label_counts": {"0": 116, "1": 84},
    },
    "audit": {"passed": True, "codes": {}, "n_findings": 0},
    "performance": {
        "unit": "patient",
        "confidence": 0.95,
        "n_bootstraps": 1000,
        "pos_label": "1",
        "evaluation_splits": ["test", "external"],
        "splits": {
            "test": {"samples": 40, "patients": 20, "metrics": _metrics(), "beats_baselines": True},
            "external": {
                "samples": 20,
                "patients": 10,
                "metrics": _metrics(0.13),
                "beats_baselines": True,
            },
        },
    },
    "curves": {"splits": {"test": {"roc_auc": {"value": 0.87, "low": 0.8, "high": 0.93}}}},
    "calibration": {
        "splits": {
            "test": {
                "brier": 0.18,
                "ece": 0.05,
                "slope": 0.93,
                "slope_low": 0.7,
                "slope_high": 1.2,
                "intercept": -0.05,
                "intercept_low": -0.4,
                "intercept_high": 0.3,
                "n_bins": 10,
            },
        },
    },
    "subgroups": {
        "columns": {
            "site": {
                "metric": "roc_auc",
                "levels": {
                    "A": {"patients": 15, "samples": 30, "value": 0.88, "low": 0.8, "high": 0.95},
                    "B": {"patients": 5, "samples": 10, "value": 0.83, "low": 0.6, "high": 1.0},
                    "C": {"patients": 10, "samples": 20, "value": 0.74, "low": 0.6, "high": 0.86},
                },
                "test": {"name": "Cochran's Q", "statistic": 7.2, "df": 2, "pvalue": 0.027},
            },
            "sex": {
                "metric": "roc_auc",
                "levels": {
                    "F": {"patients": 14, "samples": 28, "value": 0.85, "low": 0.77, "high": 0.92},
                    "M": {"patients": 16, "samples": 32, "value": 0.8, "low": 0.7, "high": 0.89},
                },
                "test": {"name": "Cochran's Q", "statistic": 0.6, "df": 1, "pvalue": 0.44},
            },
        }
    },
    "external": {
        "internal": {"split": "test", "metric": "roc_auc", "value": 0.87, "low": 0.8, "high": 0.93},
        "external": [{"split": "external", "value": 0.74, "low": 0.6, "high": 0.86}],
        "gap": 0.13,
        "source": "splits",
    },
    "leakage": {
        "results": [
            {
                "pitfall": "oversampling",
                "metric": "roc_auc",
                "leaky_mean": 0.91,
                "correct_mean": 0.83,
                "inflation": 0.08,
                "pvalue": 0.001,
                "n_repeats": 10,
            },
            {
                "pitfall": "augmentation",
                "metric": "roc_auc",
                "leaky_mean": 0.9,
                "correct_mean": 0.79,
                "inflation": 0.11,
                "pvalue": 0.002,
                "n_repeats": 10,
            },
            {
                "pitfall": "feature_selection",
                "metric": "roc_auc",
                "leaky_mean": 0.88,
                "correct_mean": 0.77,
                "inflation": 0.11,
                "pvalue": 0.004,
                "n_repeats": 10,
            },
        ]
    },
}


def sections(
    edit: Callable[[dict[str, Any]], None] | None = None, unavailable: tuple[str, ...] = ()
) -> dict[str, Section]:
    """The complete report's sections, edited, some of them not available."""
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data)
    return {
        key: Section(
            key,
            key.title(),
            "not_available" if key in unavailable else "ok",
            data={} if key in unavailable else value,
        )
        for key, value in data.items()
    }


def verdict_of(report: dict[str, Section], guideline: str, item: str) -> dict[str, Any]:
    rows = fill_checklist(report).data["items"]
    (row,) = [r for r in rows if (r["guideline"], r["item"]) == (guideline, item)]
    return row


# ------------------------------------------------------------------ edits that break a rule


def _codes(*codes: str) -> Callable[[dict[str, Any]], None]:
    def edit(data):
        data["audit"]["codes"] = {code: "high" for code in codes}
        data["audit"]["n_findings"] = len(codes)
        data["audit"]["passed"] = False

    return edit


def _crossing(data):
    data["cohort"]["patients_in_several_splits"] = ["p1", "p2"]


def _keep_metrics(*names: str) -> Callable[[dict[str, Any]], None]:
    def edit(data):
        for result in data["performance"]["splits"].values():
            result["metrics"] = {k: v for k, v in result["metrics"].items() if k in names}

    return edit


def _each_metric(**values: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data):
        for result in data["performance"]["splits"].values():
            for entry in result["metrics"].values():
                entry.update(values)

    return edit


def _no_sites(data):
    data["cohort"]["n_sites"] = None
    for split in data["cohort"]["splits"]:
        split["sites"] = None


def _missing_scores(data):
    data["cohort"]["missing"]["score"] = 5


def _one_split(data):
    data["cohort"]["splits"] = data["cohort"]["splits"][:1]


def _only_external(data):
    del data["performance"]["splits"]["test"]


def _both(*edits):
    def edit(data):
        for one in edits:
            one(data)

    return edit


NONE = "Write:"  # a needs_author sentence says what to write

# (guideline, item): (expected in the evidenced sentence, edit, unavailable sections,
# verdict after the edit, expected in that sentence)
CASES: dict[tuple[str, str], tuple[str, Any, tuple[str, ...], str, str]] = {
    ("Table 4", "1"): ("0.83", _codes("PF103"), (), "failed", "PF103"),
    ("Table 4", "2"): ("0.79", _codes("PF104"), (), "failed", "1 finding code"),
    ("Table 4", "3"): ("0.77", None, ("leakage",), "needs_author", NONE),
    ("Table 4", "4"): ("0 of 100 patients", _crossing, (), "failed", "2 of 100 patients"),
    ("Table 4", "5"): (
        "balanced_accuracy 0.81",
        _both(_keep_metrics("accuracy", "precision"), _codes("PF301")),
        (),
        "failed",
        "4 metrics",
    ),
    ("Table 4", "6"): ("Precision 0.7", _keep_metrics("accuracy"), (), "failed", "2 metrics"),
    ("Table 4", "7"): (
        "2 of 2 evaluation split",
        _each_metric(majority=None, stratified=None),
        (),
        "failed",
        "None of the 14 metrics",
    ),
    ("Table 4", "8"): ("0.74", None, ("external",), "needs_author", NONE),
    ("Table 4", "9"): ("3 sites", _codes("PF201", "PF202"), (), "failed", "2 site finding"),
    ("CLAIM 2024", "7"): ("A=130, B=50, C=20", _no_sites, (), "needs_author", NONE),
    ("CLAIM 2024", "12"): (
        "0 values are missing in the 5",
        _missing_scores,
        (),
        "needs_author",
        "5 value(s) are missing",
    ),
    ("CLAIM 2024", "19"): ("'train' 70 patients (70%", None, ("cohort",), "needs_author", NONE),
    ("CLAIM 2024", "20"): ("0 of 100 patients", _codes("PF101"), (), "failed", "PF101"),
    ("CLAIM 2024", "28"): ("7 metrics on 2", None, ("performance",), "needs_author", NONE),
    ("CLAIM 2024", "29"): (
        "14 metrics carry patient-level",
        _each_metric(low=None, high=None),
        (),
        "failed",
        "None of the 14 metrics",
    ),
    ("CLAIM 2024", "32"): ("20 patients held out", _only_external, (), "needs_author", NONE),
    ("CLAIM 2024", "33"): ("gap 0.13", None, ("external",), "needs_author", NONE),
    ("CLAIM 2024", "37"): (
        "0.87 (95% CI 0.8 to 0.93)",
        _each_metric(low=None),
        (),
        "failed",
        "roc_auc 0.87 on split 'test'",
    ),
    ("CLAIM 2024", "38"): (
        "Sensitivity 0.75 (95% CI 0.62 to 0.86)",
        _each_metric(high=None),
        (),
        "failed",
        "Sensitivity 0.75 and specificity 0.84",
    ),
    ("TRIPOD+AI", "6a"): ("3 site(s) contribute 200 samples", _no_sites, (), "needs_author", NONE),
    ("TRIPOD+AI", "11"): ("0 values are missing", _missing_scores, (), "needs_author", "score=5"),
    ("TRIPOD+AI", "12a"): ("3 partition(s)", None, ("cohort",), "needs_author", NONE),
    ("TRIPOD+AI", "12d"): (
        "statistic 7.2, df 2, p = 0.027",
        None,
        ("subgroups",),
        "needs_author",
        NONE,
    ),
    ("TRIPOD+AI", "12e"): (
        "Brier score 0.18",
        None,
        ("calibration",),
        "needs_author",
        "Calibration was not computed",
    ),
    ("TRIPOD+AI", "20a"): ("100 patients (200 samples)", None, ("cohort",), "needs_author", NONE),
    ("TRIPOD+AI", "20c"): (
        "'train' 43% (30 of 70 patients)",
        _one_split,
        (),
        "needs_author",
        "1 split(s)",
    ),
    ("TRIPOD+AI", "21"): (
        "'test' 20 patients (0=12, 1=8)",
        None,
        ("cohort",),
        "needs_author",
        NONE,
    ),
    ("TRIPOD+AI", "23a"): (
        "site='A' roc_auc 0.88",
        _each_metric(low=None, high=None),
        (),
        "failed",
        "None of the 14 metrics",
    ),
    ("TRIPOD+AI", "23b"): ("across the 3 levels of site", _no_sites, (), "needs_author", NONE),
}

EVIDENCEABLE = {(i.guideline, i.item) for i in GUIDELINE_ITEMS if i.evidence}
AUTHOR_ONLY = [(i.guideline, i.item) for i in GUIDELINE_ITEMS if not i.evidence]


def test_every_item_has_one_rule_and_every_evidenceable_rule_is_exercised():
    keys = [(i.guideline, i.item) for i in GUIDELINE_ITEMS]
    assert len(keys) == len(set(keys))
    assert set(RULES) == set(keys)
    assert set(CASES) == EVIDENCEABLE


@pytest.mark.parametrize("key", sorted(CASES), ids="-".join)
def test_rule_evidences_the_complete_report(key):
    expected = CASES[key][0]
    row = verdict_of(sections(), *key)
    assert row["verdict"] == "evidenced", row
    assert expected in row["evidence"], row["evidence"]
    assert row["source"] in SECTION_KEYS
    assert row["evidence"].endswith(f"[{row['source']}]")


@pytest.mark.parametrize("key", sorted(CASES), ids="-".join)
def test_rule_fails_or_asks_the_author_when_the_data_do_not_show_it(key):
    _, edit, unavailable, verdict, expected = CASES[key]
    row = verdict_of(sections(edit, unavailable), *key)
    assert row["verdict"] == verdict, row
    assert expected in row["evidence"], row["evidence"]
    if verdict == "needs_author":
        item = next(i for i in GUIDELINE_ITEMS if (i.guideline, i.item) == key)
        assert row["evidence"].split(" [")[0].endswith(f"Write: {item.author}.")


@pytest.mark.parametrize("key", AUTHOR_ONLY, ids="-".join)
@pytest.mark.parametrize("unavailable", [(), tuple(BASE)], ids=["complete", "empty"])
def test_items_only_the_author_can_answer_always_need_the_author(key, unavailable):
    row = verdict_of(sections(unavailable=unavailable), *key)
    assert row["verdict"] == "needs_author"
    assert "Write: " in row["evidence"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (("CLAIM 2024", "21"), "100 patients (200 samples)"),
        (("CLAIM 2024", "36"), "'external' 0=6, 1=4"),
        (("TRIPOD+AI", "13"), "0=116, 1=84"),
        (("TRIPOD+AI", "14"), "2 subgroup column(s)"),
    ],
)
def test_author_items_still_give_the_numbers_the_data_hold(key, expected):
    assert expected in verdict_of(sections(), *key)["evidence"]


@pytest.mark.parametrize(
    ("key", "edit", "unavailable", "verdict", "expected"),
    [
        # a patient crossing splits fails even when only the audit saw it
        (("Table 4", "4"), _codes("PF101"), ("cohort",), "failed", "PF101"),
        (("Table 4", "4"), _crossing, ("cohort",), "needs_author", NONE),
        (("Table 4", "1"), None, ("leakage",), "needs_author", "oversampling"),
        (("Table 4", "3"), _codes("PF102", "PF103"), (), "evidenced", "0.77"),
        (("Table 4", "5"), _keep_metrics("accuracy"), (), "evidenced", "no PF301 among"),
        (("Table 4", "5"), _keep_metrics("accuracy"), ("audit",), "needs_author", NONE),
        (("Table 4", "9"), _no_sites, (), "needs_author", "No site column"),
        (("Table 4", "9"), None, ("audit",), "needs_author", "3 sites, but the audit"),
        (("CLAIM 2024", "38"), _keep_metrics("roc_auc"), (), "needs_author", NONE),
        (("TRIPOD+AI", "23a"), None, ("subgroups",), "needs_author", "no subgroup"),
        (("TRIPOD+AI", "23a"), None, ("performance",), "needs_author", NONE),
        (("CLAIM 2024", "12"), lambda d: d["cohort"].update(missing={}), (), "needs_author", NONE),
        # the share is of the performance section's positive label when it names one
        (
            ("TRIPOD+AI", "20c"),
            lambda d: d["performance"].update(pos_label="0"),
            (),
            "evidenced",
            "'train' 57% (40 of 70 patients)",
        ),
        (("TRIPOD+AI", "20c"), None, ("performance",), "evidenced", "class '1'"),
    ],
)
def test_other_branches_of_the_rules(key, edit, unavailable, verdict, expected):
    row = verdict_of(sections(edit, unavailable), *key)
    assert row["verdict"] == verdict, row
    assert expected in row["evidence"], row["evidence"]


def test_external_splits_are_not_internal_testing():
    # the cohort's role marks 'external'; without a test split nothing internal is left
    row = verdict_of(sections(_only_external, ("external",)), "CLAIM 2024", "32")
    assert row["verdict"] == "needs_author" and "Only external" in row["evidence"]


# ------------------------------------------------------------------ the section


def test_section_shape_status_and_counts():
    checklist = fill_checklist(sections())
    assert checklist.key == "checklist"
    assert checklist.status == "attention"  # the author-only items remain
    (table,) = checklist.tables
    assert isinstance(table, ReportTable) and table.key == "items"
    frame = table.frame
    assert list(frame.columns) == ["guideline", "item", "topic", "verdict", "evidence", "source"]
    assert frame[["guideline", "item"]].apply(tuple, axis=1).tolist() == [
        (i.guideline, i.item) for i in GUIDELINE_ITEMS
    ]
    assert frame.to_dict("records") == checklist.data["items"]
    counts = checklist.data["counts"]
    assert counts == {v: int((frame.verdict == v).sum()) for v in VERDICTS}
    assert counts == {"evidenced": len(CASES), "failed": 0, "needs_author": len(AUTHOR_ONLY)}
    assert checklist.text[0] == (
        f"{len(GUIDELINE_ITEMS)} guideline items: {len(CASES)} evidenced by the data, 0 failed, "
        f"{len(AUTHOR_ONLY)} need the author."
    )
    json.dumps(checklist.data)  # the JSON report carries it as is


def test_one_failure_fails_the_section_and_is_named():
    checklist = fill_checklist(sections(_crossing))
    assert checklist.status == "failed"
    assert checklist.data["counts"]["failed"] == 2  # Table 4 item 4 and CLAIM 2024 item 20
    assert checklist.text[-1] == (
        "Failed: Table 4 item 4 (patients not across splits); "
        "CLAIM 2024 item 20 (partitions disjoint by patient)."
    )


def test_status_ok_only_when_every_item_is_evidenced(monkeypatch):
    def evidenced(_sections):
        return RULES[("TRIPOD+AI", "20a")](sections())

    for key in AUTHOR_ONLY:
        monkeypatch.setitem(RULES, key, evidenced)
    assert fill_checklist(sections()).status == "ok"


def test_missing_sections_and_the_checklist_itself_are_ignored():
    previous = fill_checklist(sections())
    with_itself = fill_checklist({**sections(), "checklist": previous})
    assert with_itself.data == previous.data
    empty = fill_checklist({})
    assert empty.data["counts"] == {"evidenced": 0, "failed": 0, "needs_author": len(RULES)}
    assert empty.data == fill_checklist(sections(unavailable=tuple(BASE))).data


def test_only_the_documented_keys_are_read():
    # an unknown key changes nothing; a section's text and tables are never read
    def extra(data):
        for value in data.values():
            value["undocumented"] = {"x": 1}

    noisy = {
        key: Section(key, "t", s.status, text=("99 patients",), data=s.data)
        for key, s in sections(extra).items()
    }
    assert fill_checklist(noisy).data == fill_checklist(sections()).data


# ------------------------------------------------------------------ random section data

_ids = st.text(alphabet="ab01", min_size=1, max_size=2)
_count = st.integers(0, 40)
_real = st.one_of(st.none(), st.floats(0, 1))
_metric_names = st.sampled_from(
    ["accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1", "roc_auc"]
)
_interval = st.fixed_dictionaries({"value": _real, "low": _real, "high": _real})
_split = st.fixed_dictionaries(
    {
        "split": _ids,
        "role": st.sampled_from(["train", "val", "test", "external", None]),
        "samples": _count,
        "patients": _count,
        "classes": st.dictionaries(_ids, _count, max_size=3),
        "sites": st.one_of(st.none(), st.dictionaries(_ids, _count, max_size=3)),
    }
)
_DATA = {
    "cohort": st.fixed_dictionaries(
        {
            "n_samples": _count,
            "n_patients": _count,
            "n_sites": st.one_of(st.none(), st.integers(1, 4)),
            "splits": st.lists(_split, max_size=3),
            "patients_in_several_splits": st.lists(_ids, max_size=3),
            "missing": st.dictionaries(_ids, _count, max_size=3),
            "label_counts": st.dictionaries(_ids, _count, max_size=3),
        }
    ),
    "audit": st.fixed_dictionaries(
        {
            "passed": st.booleans(),
            "codes": st.dictionaries(
                st.sampled_from(["PF101", "PF102", "PF103", "PF104", "PF201", "PF202", "PF301"]),
                st.sampled_from(["high", "medium", "low", "info"]),
            ),
            "n_findings": _count,
        }
    ),
    "performance": st.fixed_dictionaries(
        {
            "unit": st.sampled_from(["patient", "sample"]),
            "confidence": st.just(0.95),
            "n_bootstraps": _count,
            "pos_label": _ids,
            "evaluation_splits": st.lists(_ids, max_size=2),
            "splits": st.dictionaries(
                _ids,
                st.fixed_dictionaries(
                    {
                        "samples": _count,
                        "patients": _count,
                        "metrics": st.dictionaries(
                            _metric_names,
                            st.fixed_dictionaries(
                                {
                                    "value": _real,
                                    "low": _real,
                                    "high": _real,
                                    "majority": _real,
                                    "stratified": _real,
                                }
                            ),
                        ),
                        "beats_baselines": st.booleans(),
                    }
                ),
                max_size=2,
            ),
        }
    ),
    "calibration": st.fixed_dictionaries(
        {
            "splits": st.dictionaries(
                _ids,
                st.fixed_dictionaries(
                    {
                        k: _real
                        for k in (
                            "brier",
                            "ece",
                            "slope",
                            "slope_low",
                            "slope_high",
                            "intercept",
                            "intercept_low",
                            "intercept_high",
                        )
                    }
                ),
                max_size=2,
            )
        }
    ),
    "subgroups": st.fixed_dictionaries(
        {
            "columns": st.dictionaries(
                _ids,
                st.fixed_dictionaries(
                    {
                        "metric": st.just("roc_auc"),
                        "levels": st.dictionaries(_ids, _interval, max_size=3),
                        "test": st.fixed_dictionaries(
                            {
                                "name": st.just("Cochran's Q"),
                                "statistic": _real,
                                "df": _count,
                                "pvalue": _real,
                            }
                        ),
                    }
                ),
                max_size=2,
            )
        }
    ),
    "external": st.fixed_dictionaries(
        {
            "internal": st.fixed_dictionaries(
                {
                    "split": _ids,
                    "metric": st.just("roc_auc"),
                    "value": _real,
                    "low": _real,
                    "high": _real,
                }
            ),
            "external": st.lists(
                st.fixed_dictionaries({"split": _ids, "value": _real, "low": _real, "high": _real}),
                max_size=2,
            ),
            "gap": _real,
            "source": st.sampled_from(["splits", "leakage_gap"]),
        }
    ),
    "leakage": st.fixed_dictionaries(
        {
            "results": st.lists(
                st.fixed_dictionaries(
                    {
                        "pitfall": st.sampled_from(
                            ["oversampling", "augmentation", "feature_selection", "site"]
                        ),
                        "metric": st.just("roc_auc"),
                        "leaky_mean": _real,
                        "correct_mean": _real,
                        "inflation": _real,
                        "pvalue": _real,
                        "n_repeats": _count,
                    }
                ),
                max_size=3,
            )
        }
    ),
}


@st.composite
def random_sections(draw):
    out = {}
    for key, strategy in _DATA.items():
        status = draw(st.sampled_from([*STATUSES, "absent"]))
        if status != "absent":
            out[key] = Section(key, key, status, data=draw(strategy))
    return out


@settings(max_examples=150, deadline=None)
@given(random_sections())
def test_random_sections_give_every_item_exactly_one_verdict(report):
    checklist = fill_checklist(report)
    rows = checklist.data["items"]
    assert [(r["guideline"], r["item"]) for r in rows] == [
        (i.guideline, i.item) for i in GUIDELINE_ITEMS
    ]
    assert all(r["verdict"] in VERDICTS and r["evidence"] for r in rows)
    counts = checklist.data["counts"]
    assert sum(counts.values()) == len(GUIDELINE_ITEMS)
    assert counts == {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    expected = "failed" if counts["failed"] else "attention" if counts["needs_author"] else "ok"
    assert checklist.status == expected
    # a not-available section evidences nothing
    unavailable = {k for k, s in report.items() if s.status == "not_available"}
    assert all(r["source"] not in unavailable for r in rows if r["verdict"] == "evidenced")
    json.dumps(checklist.data)


# ------------------------------------------------------------------ the items as data

# TRIPOD+AI's items and sub-items as the BMJ checklist numbers them (Collins et al. 2024).
TRIPOD_AI_NUMBERS = {
    "1",
    "2",
    "3a",
    "3b",
    "3c",
    "4",
    "5a",
    "5b",
    "6a",
    "6b",
    "6c",
    "7",
    "8a",
    "8b",
    "8c",
    "9a",
    "9b",
    "9c",
    "10",
    "11",
    "12a",
    "12b",
    "12c",
    "12d",
    "12e",
    "12f",
    "12g",
    "13",
    "14",
    "15",
    "16",
    "17",
    "18a",
    "18b",
    "18c",
    "18d",
    "18e",
    "18f",
    "19",
    "20a",
    "20b",
    "20c",
    "21",
    "22",
    "23a",
    "23b",
    "24",
    "25",
    "26",
    "27a",
    "27b",
    "27c",
}


def test_item_numbers_exist_in_their_guideline():
    claim = [int(i.item) for i in guideline_items("claim")]
    assert all(1 <= n <= 44 for n in claim) and claim == sorted(claim)
    assert {i.item for i in guideline_items("tripod-ai")} <= TRIPOD_AI_NUMBERS
    assert [i.item for i in guideline_items("table4")] == [str(c.number) for c in CHECKLIST]


def test_table4_items_read_the_papers_wording_from_the_audit_checklist():
    assert [i.text for i in guideline_items("table4")] == [c.text for c in CHECKLIST]


def test_items_say_what_to_write_and_what_they_read():
    for item in GUIDELINE_ITEMS:
        assert item.author and item.text and item.topic
        assert set(item.sections) <= set(SECTION_KEYS)
        assert item.guideline in {g.name for g in GUIDELINES.values()}
        if item.evidence:
            assert item.sections


def test_guideline_arguments_are_checked():
    with pytest.raises(ValueError, match=r"guideline='stard' is not one of 'table4'"):
        guideline_items("stard")
    with pytest.raises(ValueError, match=r"guideline='stard'"):
        format_guideline("stard")
    with pytest.raises(ValueError, match=r"fmt='pdf' is not one of 'text', 'markdown', 'json'"):
        format_guideline("claim", "pdf")


# ------------------------------------------------------------------ the CLI


def test_default_guideline_keeps_todays_output(capsys):
    for fmt in ("text", "md", "json"):
        assert main(["checklist", "--format", fmt]) == 0
        default = capsys.readouterr().out
        assert main(["checklist", "--format", fmt, "--guideline", "table4"]) == 0
        assert capsys.readouterr().out == default == format_checklist(fmt)


@pytest.mark.parametrize(
    ("guideline", "expected"),
    [
        ("claim", ["CLAIM 2024:", "  20  partitions disjoint by patient", "10.1148/ryai.240300"]),
        ("tripod-ai", ["TRIPOD+AI:", " 23a  performance with CIs", "bmj-2023-078378"]),
        ("all", ["Table 4:", "CLAIM 2024:", "TRIPOD+AI:", "   4  patients not across splits"]),
    ],
)
def test_checklist_guideline_text(capsys, guideline, expected):
    assert main(["checklist", "--guideline", guideline]) == 0
    out = capsys.readouterr().out
    for line in expected:
        assert line in out
    assert out.count("      pitfalls: ") == len(guideline_items(guideline))
    assert "needs the author: describe how each label" in out or guideline == "tripod-ai"


def test_checklist_guideline_markdown_and_json(capsys):
    assert main(["checklist", "--guideline", "all", "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.count("| --- | --- | --- | --- |") == 3 and "| 12e |" in md
    assert main(["checklist", "--guideline", "all", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [g["name"] for g in doc["guidelines"]]
    assert names == ["Table 4", "CLAIM 2024", "TRIPOD+AI"]
    items = [(g["name"], i["item"]) for g in doc["guidelines"] for i in g["items"]]
    assert items == [(i.guideline, i.item) for i in GUIDELINE_ITEMS]
    frame = pd.DataFrame([i for g in doc["guidelines"] for i in g["items"]])
    assert {"item", "topic", "text", "evidence", "author", "sections"} <= set(frame.columns)


def test_checklist_bad_guideline_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["checklist", "--guideline", "stard"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--guideline: invalid choice: 'stard'" in err
