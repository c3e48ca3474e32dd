"""The site-gap experiment: embedded multi-site cohort or a manifest CSV, report and command."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import pitfalls.reproduction._registry as registry
from pitfalls.cli import main
from pitfalls.datasets import make_multisite_cohort
from pitfalls.reproduction import EXPERIMENTS, resolve_settings, run
from pitfalls.reproduction._site_gap import load_site_manifest

TINY = dataclasses.replace(resolve_settings(quick=True, device="cpu", n_repeats=3), n_estimators=30)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def embedded():
    return run("site-gap", settings=TINY)


def test_registered_without_torch():
    experiment = EXPERIMENTS["site-gap"]
    assert not experiment.needs_torch
    assert "manifest CSV" in experiment.data_help
    assert experiment.load().__name__ == "run_site_gap"


def test_embedded_cohort_shows_the_internal_score_above_every_held_out_site(embedded):
    result = embedded
    assert result.name == "site-gap"
    assert result.table["Evaluation"].tolist() == [
        "Internal CV (sites mixed)", "Site held out (mean of sites)",
        "Site A held out", "Site B held out", "Site C held out", "Site D held out",
    ]  # fmt: skip
    internal = result.scores.loc["Internal CV (sites mixed)", "roc_auc"]
    sites = result.scores.drop(index="Internal CV (sites mixed)")["roc_auc"]
    assert (sites < internal).all()
    assert internal - result.scores.loc["Site held out (mean of sites)", "roc_auc"] > 0.05
    assert result.leaky_beats_correct
    row = result.comparisons.iloc[0]
    assert row["statistic"] < 0  # the paper's convention: negative when internal is higher
    assert len(result.figures) == 1
    raw = result.raw
    assert set(raw["protocol"]) == {"leaky", "correct", "held_out_site"}
    assert len(raw) == 3 * (1 + 1 + 4)


def _write(tmp_path, frame):
    path = tmp_path / "manifest.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_manifest_csv_runs_with_ids_as_text(tmp_path):
    cohort = make_multisite_cohort(120, random_state=3)
    # "007" and "7" are two patients; the exam date and a note column are not features
    cohort.loc[cohort["patient"] == cohort["patient"].iloc[0], "patient"] = "007"
    cohort.loc[cohort["patient"] == cohort["patient"].iloc[-1], "patient"] = "7"
    path = _write(tmp_path, cohort.assign(note="x"))
    loaded = load_site_manifest(path, 0)
    assert {"007", "7"} <= set(loaded["patient"])
    result = run("site-gap", settings=TINY, data=path)
    assert f"{cohort['patient'].nunique()} patients, 30 features" in " ".join(result.notes)


@pytest.mark.parametrize(
    ("edit", "msg"),
    [
        (lambda df: df.drop(columns="site"), "has no column(s) ['site']"),
        (lambda df: df.assign(label=df["label"] + 1), "label must be 0/1 (1 = disease); got 1, 2."),
        (lambda df: df.assign(site="A"), "one site only"),
        (lambda df: df.assign(patient="P0001"), "patient(s) have rows at more than one site"),
        (lambda df: df[["patient", "site", "label"]], "has no numeric feature column"),
        (lambda df: df.assign(feature_00=np.nan), "has missing feature values in"),
        (lambda df: df.assign(site=df["site"].where(df.index > 0)), "column 'site' has 1 missing"),
    ],
)
def test_unusable_manifests_are_one_clear_error(tmp_path, edit, msg):
    path = _write(tmp_path, edit(make_multisite_cohort(60, random_state=0)))
    with pytest.raises(ValueError, match=re.escape(msg)):
        run("site-gap", settings=TINY, data=path)


def test_a_directory_is_not_a_manifest(tmp_path):
    with pytest.raises(ValueError, match=re.escape("is not a .csv file")):
        run("site-gap", settings=TINY, data=tmp_path)


def test_command_line_with_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(registry, "resolve_settings", lambda **kwargs: TINY)
    path = _write(tmp_path, make_multisite_cohort(120, random_state=1))
    out = tmp_path / "out"
    code = main(["reproduce", "site-gap", "--data", f"site-gap={path}", "--out", str(out)])
    assert code == 0
    assert "Site D held out" in capsys.readouterr().out
    assert "Site gap" in (out / "report.md").read_text()
    bad = _write(tmp_path, make_multisite_cohort(60, random_state=0).assign(site="A"))
    assert main(["reproduce", "site-gap", "--data", f"site-gap={bad}", "--out", str(out)]) == 2
    assert "one site only" in capsys.readouterr().err


def test_study_report_holds_the_last_site_out_and_carries_the_site_gap(embedded):
    from sklearn.metrics import roc_auc_score

    study = embedded.study
    cohort = study.sections["cohort"].data
    splits = {entry["split"]: entry for entry in cohort["splits"]}
    assert set(splits) == {"train", "val", "test", "external"}
    assert splits["external"]["sites"] == {"D": splits["external"]["samples"]}  # site D only
    assert cohort["patients_in_several_splits"] == []
    performance = study.sections["performance"].data
    assert performance["evaluation_splits"] == ["test", "external"]
    assert study.sections["external"].status != "not_available"
    assert study.sections["leakage"].data["results"][0]["pitfall"] == "site"
    # the oracle: the forest refitted on the training split scores the external site
    from pitfalls.model_selection import assign_splits
    from pitfalls.reproduction._site_gap import _model

    manifest = make_multisite_cohort(400, random_state=TINY.random_state)
    split = assign_splits(manifest, group="patient", label="label", site="site",
                          holdout_sites="D", random_state=TINY.random_state)  # fmt: skip
    features = manifest.filter(like="feature_")
    train, external = split == "train", split == "external"
    model = _model(TINY).set_params(random_state=TINY.random_state)
    model.fit(features[train], manifest["label"][train])
    expected = roc_auc_score(manifest["label"][external],
                             model.predict_proba(features[external])[:, 1])  # fmt: skip
    external_auc = performance["splits"]["external"]["metrics"]["roc_auc"]["value"]
    assert external_auc == pytest.approx(expected)
