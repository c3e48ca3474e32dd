"""study_report: input validation, the predictions join, the evaluation plan, the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pitfalls.exceptions import ManifestError
from pitfalls.report import SECTION_KEYS, Section, StudyReport, study_report

KW = dict(group="pid", split="split", label="y", sample_id="img", n_bootstraps=20)


def _manifest(splits=("train", "train", "test", "test", "test", "test", "external", "external")):
    return pd.DataFrame(
        {
            "img": ["a1", "a2", "b1", "c1", "d1", "e1", "f1", "g1"],
            "pid": ["007", "007", "7", "c", "d", "e", "f", "g"],
            "split": list(splits),
            "y": [0, 1, 0, 1, 0, 1, 0, 1],
        }
    )


def _predictions():
    return pd.DataFrame(
        {"img": ["b1", "c1", "d1", "e1", "f1", "g1"], "p": [0.2, 0.8, 0.3, 0.6, 0.1, 0.9]}
    )


def _message(**kwargs):
    arguments = {**KW, **kwargs}
    manifest = arguments.pop("manifest", _manifest())
    with pytest.raises(ValueError) as caught:
        study_report(manifest, **arguments)
    return str(caught.value)


# --- errors -----------------------------------------------------------------------------


def test_missing_columns_are_named():
    assert _message(group="patient") == (
        "group='patient' is not a column of the manifest; available columns: 'img', 'pid', "
        "'split', 'y'."
    )
    assert _message(subgroups=["age"]).startswith("subgroups='age' is not a column")
    assert _message(predictions=_predictions(), score="prob") == (
        "score='prob' is not a column of the predictions; available columns: 'img', 'p'."
    )
    assert _message(predictions=_predictions()).startswith(
        "predictions were given without score= or prediction=;"
    )
    assert _message(predictions=_predictions().rename(columns={"img": "id"}), score="p").startswith(
        "sample_id='img' is not a column of the predictions; available columns: 'id', 'p'."
    )


def test_missing_extra_and_repeated_ids_are_errors_naming_them():
    assert _message(predictions=_predictions().iloc[:3], score="p") == (
        "predictions lack 3 sample id(s) of the evaluation splits (test, external): 'e1', "
        "'f1', 'g1'; give a prediction for every sample of the splits evaluated, or name the "
        "splits to evaluate with evaluation_splits=."
    )
    extra = pd.concat([_predictions(), pd.DataFrame({"img": ["zz", "A1"], "p": [0.5, 0.5]})])
    assert _message(predictions=extra, score="p") == (
        "predictions hold 2 sample id(s) that are not in the manifest: 'zz', 'A1'; predictions "
        "are keyed by the manifest's sample id, compared as text ('007' is not '7')."
    )
    repeated = pd.concat([_predictions(), _predictions().iloc[[1, 0]]])
    assert _message(predictions=repeated, score="p") == (
        "predictions repeat 2 sample id(s) ('b1', 'c1'); give one prediction per sample "
        "(average a sample's predictions first)."
    )
    manifest = _manifest().assign(img=["a1", "a1", "b1", "c1", "d1", "e1", "f1", "g1"])
    assert _message(manifest=manifest) == (
        "sample_id column 'img' repeats 1 value(s) ('a1'); each row needs its own id."
    )
    no_id = _predictions().assign(img=[None, "c1", "d1", "e1", "f1", "g1"])
    assert _message(predictions=no_id, score="p").startswith(
        "predictions have 1 row(s) without a sample id;"
    )


def test_labels_must_be_binary_and_scores_numeric():
    assert _message(manifest=_manifest().assign(y=[0, 1, 2, 0, 1, 2, 0, 1])) == (
        "label column 'y' has 3 class(es) ('0', '1', '2'); the study report is binary for now: "
        "evaluate one class against the rest (a column such as label == 'disease')."
    )
    assert _message(manifest=_manifest().assign(y=0)).endswith(
        "a binary evaluation needs both classes in the manifest."
    )
    text_score = _predictions().assign(p=["high", 0.8, 0.3, 0.6, 0.1, 0.9])
    assert _message(predictions=text_score, score="p") == (
        "score column 'p' of the predictions is not numeric (e.g. 'high'); pass the score "
        "(probability) of the positive class, or the predicted labels with prediction=."
    )
    unknown = _predictions().assign(h=["0", "1", "yes", "1", "0", "1"])
    assert _message(predictions=unknown, prediction="h") == (
        "prediction column 'h' holds value(s) that are not labels of column 'y' ('0', '1'): "
        "'yes'; predict one of the two labels, as written in the manifest."
    )
    assert _message(predictions=_predictions(), score="p", pos_label=2) == (
        "pos_label=2 is not a label of column 'y' ('0', '1'); use one of them."
    )


def test_evaluated_samples_need_a_score_and_a_label():
    missing_score = _predictions().assign(p=[np.nan, 0.8, 0.3, 0.6, 0.1, 0.9])
    assert _message(predictions=missing_score, score="p") == (
        "predictions have a missing 'p' for 1 sample(s) of the evaluation splits (test, "
        "external): 'b1'; every evaluated sample needs one."
    )
    unlabelled = _manifest().assign(y=[0, 1, np.nan, 1, 0, 1, 0, 1])
    assert _message(manifest=unlabelled, predictions=_predictions(), score="p") == (
        "label column 'y' is missing for 1 sample(s) of the evaluation splits (test, external): "
        "'b1'; label them or leave them out of the manifest."
    )


def test_invalid_arguments():
    assert _message(evaluation_splits=["holdout"]) == (
        "evaluation_splits='holdout' not found in split column 'split'; use split names as "
        "written there ('train', 'test', 'external')."
    )
    assert _message(n_bootstraps=-1).startswith("n_bootstraps=-1 is invalid;")
    assert _message(confidence=95) == "confidence=95 must be in (0, 1), e.g. 0.95."
    assert _message(leakage=[1]).startswith("leakage= holds int; pass a LeakageGapResult")
    with pytest.raises(ValueError, match="fail_on='sometimes' is not one of"):
        study_report(_manifest(), fail_on="sometimes", **KW)


def test_errors_on_input_are_manifest_errors():
    with pytest.raises(ManifestError):
        study_report(_manifest(), predictions=_predictions().iloc[:3], score="p", **KW)


# --- text ids ---------------------------------------------------------------------------


def test_ids_are_text_from_csv_files(tmp_path):
    manifest = pd.DataFrame(
        {
            "img": ["007", "7", "07", "8", "9", "10"],
            "pid": ["007", "7", "q", "r", "s", "t"],
            "split": ["test"] * 6,
            "y": [0, 1, 0, 1, 0, 1],
        }
    )
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    predictions = pd.DataFrame(
        {"img": ["7", "007", "07", "8", "9", "10"], "p": [0.9, 0.1, 0.2, 0.8, 0.3, 0.7]}
    )
    predictions.to_csv(tmp_path / "predictions.csv", index=False)
    report = study_report(
        tmp_path / "manifest.csv", predictions=tmp_path / "predictions.csv", score="p", **KW
    )
    cohort = report.sections["cohort"].data
    assert cohort["n_patients"] == 6  # "007" and "7" are two patients
    auc = report.sections["performance"].data["splits"]["test"]["metrics"]["roc_auc"]["value"]
    assert auc == 1.0  # "7" got 0.9 and "007" 0.1: joined as text, not as numbers
    predictions.loc[0, "img"] = "0007"
    predictions.to_csv(tmp_path / "predictions.csv", index=False)
    with pytest.raises(ManifestError, match="that are not in the manifest: '0007'"):
        study_report(
            tmp_path / "manifest.csv", predictions=tmp_path / "predictions.csv", score="p", **KW
        )


def test_files_and_frames_give_the_same_numbers(tmp_path):
    _manifest().to_csv(tmp_path / "m.csv", index=False)
    _predictions().to_csv(tmp_path / "p.csv", index=False)
    from_files = study_report(tmp_path / "m.csv", predictions=tmp_path / "p.csv", score="p", **KW)
    from_frames = study_report(_manifest(), predictions=_predictions(), score="p", **KW)
    for key in SECTION_KEYS[:-1]:
        assert from_files.sections[key].data == from_frames.sections[key].data


def test_default_sample_id_is_the_index_as_text():
    manifest = _manifest().set_index("img")
    report = study_report(
        manifest,
        group="pid",
        split="split",
        label="y",
        predictions=_predictions().set_index("img"),
        score="p",
        n_bootstraps=20,
    )
    assert report.sections["performance"].data["splits"]["test"]["samples"] == 4
    with pytest.raises(ManifestError, match=r"the manifest's index \(the default sample id\)"):
        study_report(
            _manifest().set_index(pd.Index([0, 0, 1, 2, 3, 4, 5, 6])),
            group="pid",
            split="split",
            label="y",
        )


# --- evaluation plan --------------------------------------------------------------------


def test_evaluation_and_external_defaults():
    report = study_report(_manifest(), predictions=_predictions(), score="p", **KW)
    assert report.settings["evaluation_splits"] == ["test", "external"]
    assert report.settings["external_splits"] == ["external"]
    roles = {e["split"]: e["role"] for e in report.sections["cohort"].data["splits"]}
    assert roles == {"train": "train", "test": "test", "external": "external"}
    assert report.sections["external"].data["source"] == "splits"
    # a name containing "external" is external even when split_role does not know it
    renamed = _manifest(["train"] * 2 + ["test"] * 4 + ["site_D_External"] * 2)
    report = study_report(renamed, predictions=_predictions(), score="p", **KW)
    assert report.settings["external_splits"] == ["site_D_External"]
    assert report.settings["evaluation_splits"] == ["test", "site_D_External"]


def test_named_splits_override_the_defaults():
    report = study_report(
        _manifest(), predictions=_predictions(), score="p", evaluation_splits=["test"], **KW
    )
    assert report.settings["evaluation_splits"] == ["test"]
    assert report.sections["external"].status == "not_available"
    report = study_report(
        _manifest(),
        predictions=_predictions(),
        score="p",
        evaluation_splits=["external"],
        external_splits=[],
        **KW,
    )
    assert report.sections["performance"].data["evaluation_splits"] == ["external"]
    report = study_report(
        _manifest(),
        predictions=_predictions(),
        score="p",
        evaluation_splits=["external"],
        external_splits=["test"],
        **KW,
    )
    assert report.settings["evaluation_splits"] == ["test", "external"]  # external is evaluated
    assert report.settings["external_splits"] == ["test"]


def test_without_a_test_split_every_predicted_row_is_one_set():
    folds = _manifest(["f1", "f2", "f1", "f2", "f1", "f2", "f1", "f2"])
    report = study_report(folds, predictions=_predictions(), score="p", **KW)
    performance = report.sections["performance"].data
    assert performance["evaluation_splits"] == ["all"]
    assert performance["splits"]["all"]["samples"] == 6
    assert performance["splits"]["all"]["patients"] == 6


def test_without_predictions_only_the_manifest_sections_are_computed():
    report = study_report(_manifest(), **KW)
    statuses = {key: s.status for key, s in report.sections.items()}
    assert list(statuses) == list(SECTION_KEYS)
    for key in ("performance", "curves", "calibration", "external", "leakage"):
        assert statuses[key] == "not_available"
    assert statuses["cohort"] != "not_available" and statuses["audit"] != "not_available"


def test_scores_may_come_from_the_manifest_itself():
    manifest = _manifest().assign(p=[np.nan, np.nan, 0.2, 0.8, 0.3, 0.6, 0.1, 0.9])
    inline = study_report(manifest, score="p", **KW)
    joined = study_report(_manifest(), predictions=_predictions(), score="p", **KW)
    assert inline.sections["performance"].data == joined.sections["performance"].data


def test_predicted_labels_without_scores():
    predictions = _predictions().assign(h=[0, 1, 1, 1, 0, 1])
    report = study_report(_manifest(), predictions=predictions, prediction="h", **KW)
    metrics = report.sections["performance"].data["splits"]["test"]["metrics"]
    assert "roc_auc" not in metrics and metrics["accuracy"]["value"] == 0.75
    assert report.settings["threshold"] is None


def test_threshold_and_pos_label():
    report = study_report(_manifest(), predictions=_predictions(), score="p", threshold=0.25, **KW)
    recall = report.sections["performance"].data["splits"]["test"]["metrics"]["recall"]
    assert recall["value"] == 1.0 and report.settings["pos_label"] == "1"
    assert report.settings["pos_label_rule"].startswith("default: the larger of the two labels")
    flipped = study_report(
        _manifest(),
        predictions=_predictions().assign(p=lambda d: 1 - d.p),
        score="p",
        pos_label=0,
        **KW,
    )
    assert flipped.settings["pos_label"] == "0" and flipped.settings["pos_label_rule"] == "given"
    auc = flipped.sections["performance"].data["splits"]["test"]["metrics"]["roc_auc"]
    assert auc["value"] == 1.0


# --- the report -------------------------------------------------------------------------


def test_report_holds_every_section_in_order_with_json_data():
    report = study_report(_manifest(), predictions=_predictions(), score="p", **KW)
    assert isinstance(report, StudyReport)
    assert list(report.sections) == list(SECTION_KEYS)
    assert all(isinstance(s, Section) for s in report.sections.values())
    for section in report.sections.values():
        json.dumps(section.data, allow_nan=False)
        assert all(isinstance(t, str) and t for t in section.text)
    json.dumps(report.settings)
    assert report.settings["n_bootstraps"] == 20 and report.settings["unit"] == "patient"


def test_findings_and_fail_on():
    crossing = _manifest(["train", "test", "test", "test", "test", "test", "external", "external"])
    predictions = pd.concat([_predictions(), pd.DataFrame({"img": ["a2"], "p": [0.7]})])
    report = study_report(crossing, predictions=predictions, score="p", **KW)
    assert "PF101" in [f.code for f in report.finding_objects]
    assert not report.passed
    assert study_report(crossing, predictions=predictions, score="p", fail_on="never", **KW).passed


def test_scores_of_the_manifest_are_checked_there():
    assert _message(score="p") == (
        "score='p' is not a column of the manifest; available columns: 'img', 'pid', 'split', 'y'."
    )
    manifest = _manifest().assign(p=[np.nan, np.nan, 0.2, 0.8, 0.3, 0.6, 0.1, np.nan])
    assert _message(manifest=manifest, score="p").startswith(
        "predictions have a missing 'p' for 1 sample(s) of the evaluation splits"
    )
    manifest.loc[7, "p"] = 0.9
    cohort = study_report(manifest, score="p", **KW).sections["cohort"].data
    assert cohort["missing"]["p"] == 2
