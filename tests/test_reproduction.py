"""pitfalls.reproduction: registry, settings, formatting, each experiment in tiny mode, report."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pitfalls.reproduction import (
    EXPERIMENTS,
    PAPER_TABLE2,
    ExperimentResult,
    check_device,
    format_mean_sd,
    format_pvalue,
    get_experiment,
    list_experiments,
    resolve_device,
    resolve_settings,
    run,
    write_report,
)

# Small enough for seconds per experiment, large enough that every pitfall shows.
TINY = dataclasses.replace(
    resolve_settings(quick=True, device="cpu", n_repeats=3),
    n_estimators=15,
    dl_repeats=2,  # two trained models per row: mean ± sd and the rank-sum test, quickly
    n_features=300,
    k_best=30,
    rfe_step=5,
    epochs=15,  # the one-cycle schedule warms up over the first 30% of the steps
    xray_epochs=5,
    patches_per_patient=4,
    image_size=16,
    xray_counts=(48, 48, 24),
    xray_size=32,
    n_ct_cases=3,
    ct_shape=(16, 48, 48),
)
FAST = ("oversampling", "feature-selection", "accuracy", "segmentation-baseline")
DEEP = ("augmentation", "patient-split", "batch-effect")


@pytest.fixture(autouse=True)
def _close_figures():
    # experiments draw with pyplot; close them so the suite never holds 20+ figures
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def fast_results() -> dict[str, ExperimentResult]:
    return {name: run(name, settings=TINY) for name in FAST}


# ----------------------------------------------------------------- registry, settings


def test_registry_lists_every_paper_experiment_in_order():
    assert list_experiments() == [
        "oversampling",
        "augmentation",
        "patient-split",
        "feature-selection",
        "accuracy",
        "segmentation-baseline",
        "batch-effect",
        "site-gap",
    ]
    assert {n for n in EXPERIMENTS if EXPERIMENTS[n].needs_torch} == set(DEEP)
    for experiment in EXPERIMENTS.values():
        assert callable(experiment.load())


def test_unknown_experiment_names_the_known_ones():
    with pytest.raises(ValueError, match=r"^experiment='tabel2' is not one of 'oversampling', "):
        get_experiment("tabel2")
    with pytest.raises(ValueError, match="use one of those names"):
        run("tabel2")


def test_quick_and_full_settings():
    quick, full = resolve_settings(), resolve_settings(quick=False)
    assert (full.n_repeats, full.n_estimators, full.nested) == (100, 1000, True)
    assert (full.architecture, full.epochs, full.batch_size, full.learning_rate) == (
        "resnet50",
        100,
        32,
        1e-4,
    )
    assert quick.n_repeats < full.n_repeats and quick.n_estimators < full.n_estimators
    assert resolve_settings(n_repeats=7).dl_repeats == 7
    # quick networks fit their data with a one-cycle schedule; full mode is the paper's
    # constant Adam 1e-4, with checkpoints to resume a run of hours
    assert (quick.lr_schedule, quick.checkpoint_dir, quick.dl_repeats) == ("onecycle", None, 4)
    # quick patch models keep the weights of the lowest training loss (on other patients the
    # validation loss of a network trained from scratch is lowest before it fits);
    # full mode keeps the lowest validation loss
    assert (quick.monitor, full.monitor) == ("train_loss", "val_loss")
    assert (full.lr_schedule, full.xray_epochs, full.xray_learning_rate) == ("constant", 100, 1e-4)
    assert full.checkpoint_dir == "pitfalls-out/checkpoints"
    assert resolve_settings(random_state=3).as_dict()["random_state"] == 3


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_n_repeats(bad):
    with pytest.raises(ValueError, match=rf"n_repeats={bad!r} must be a positive integer"):
        resolve_settings(n_repeats=bad)


def test_device_resolution():
    assert check_device("cpu") == "cpu"
    assert check_device("auto") in ("cpu", "cuda")
    with pytest.warns(
        FutureWarning, match="function pitfalls.reproduction.resolve_device was renamed"
    ):
        assert resolve_device("cpu") == "cpu"  # the deprecated spelling
    with pytest.raises(ValueError, match=r"device='gpu' is not one of 'auto', 'cpu', 'cuda'\."):
        resolve_settings(device="gpu")


def test_missing_data_path_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; pass the dataset's directory"):
        run("accuracy", data=tmp_path / "nope", settings=TINY)


def test_radiomics_data_directory_needs_both_csvs(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no features\.csv"):
        run("accuracy", data=tmp_path, settings=TINY)


# ----------------------------------------------------------------------- formatting


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-1e3, 1e3, allow_nan=False),
    st.floats(0, 1e3, allow_nan=False),
    st.integers(0, 4),
)
def test_format_mean_sd_round_trips(mean, sd, digits):
    text = format_mean_sd(mean, sd, digits=digits)
    left, right = text.split("±")
    assert math.isclose(float(left), mean, abs_tol=0.5 * 10**-digits + 1e-9)
    assert math.isclose(float(right), sd, abs_tol=0.5 * 10**-digits + 1e-9)


def test_format_pvalue_threshold():
    assert format_pvalue(0.00099) == "<0.001"
    assert format_pvalue(0.001) == "0.001"
    assert format_pvalue(float("nan")) == "n/a"


def test_paper_values_as_printed():
    # the paper's model D and model F are the same model
    assert PAPER_TABLE2["D"] == dataclasses.replace(PAPER_TABLE2["F"], model="D",
                                                     approach=PAPER_TABLE2["D"].approach)  # fmt: skip
    # 129 of 137 patients without distant metastasis: the paper's "94%"
    assert round(129 / 137, 2) == 0.94


# ---------------------------------------------------------------- the experiments


@pytest.mark.parametrize("name", FAST)
def test_fast_experiment_tables_and_leaky_beats_correct(fast_results, name):
    result = fast_results[name]
    assert result.name == name
    assert result.leaky_beats_correct, result.to_text()
    assert set(result.table["Source"]) == {"paper", "this run"}
    assert result.settings["n_estimators"] == TINY.n_estimators
    assert result.elapsed > 0
    text = result.to_text()
    assert result.title in text and "paper" in text and "this run" in text


@pytest.mark.parametrize(("name", "leaky", "correct"), [
    ("oversampling", "A", "B"), ("feature-selection", "G", "H")])  # fmt: skip
def test_rank_sum_uses_the_papers_sign_convention(fast_results, name, leaky, correct):
    result = fast_results[name]
    raw = result.raw
    leaky_f1 = raw.loc[raw["model"] == leaky, "f1"].to_numpy()
    correct_f1 = raw.loc[raw["model"] == correct, "f1"].to_numpy()
    assert len(leaky_f1) == len(correct_f1) == TINY.n_repeats
    expected = stats.ranksums(correct_f1, leaky_f1)
    row = result.comparisons.iloc[0]
    assert row["statistic"] == pytest.approx(expected.statistic)
    assert row["pvalue"] == pytest.approx(expected.pvalue)
    assert row["statistic"] < 0  # the leaky model scores higher, as in the paper
    assert row["leaky_value"] == pytest.approx(leaky_f1.mean())
    # the printed cell is the mean ± sd of the raw scores
    cell = result.table.query("Model == @leaky and Source == 'this run'")["F1"].item()
    assert cell == format_mean_sd(leaky_f1.mean(), leaky_f1.std(ddof=1))


def test_accuracy_example_is_the_naive_model(fast_results):
    from pitfalls.datasets import make_radiomics_cohort

    _, y = make_radiomics_cohort(endpoint="distant_metastasis", random_state=TINY.random_state)
    n, n_pos = len(y), int(np.sum(y))
    assert (n, n_pos) == (137, 8)
    naive = fast_results["accuracy"].scores.loc["naive"]
    assert naive["accuracy"] == pytest.approx((n - n_pos) / n)
    assert naive["recall"] == 0.0 and naive["f1"] == 0.0


def test_segmentation_baseline_scores_match_the_metrics(fast_results):
    from pitfalls.baselines import air_in_body_mask
    from pitfalls.datasets import make_ct_phantom
    from pitfalls.metrics import dice_score, iou_score

    images, masks = make_ct_phantom(
        n_cases=TINY.n_ct_cases, shape=TINY.ct_shape, random_state=TINY.random_state
    )
    result = fast_results["segmentation-baseline"]
    per_case = result.raw
    for case in range(len(images)):
        mask = air_in_body_mask(images[case])
        assert per_case.loc[case, "baseline_dice"] == pytest.approx(dice_score(masks[case], mask))
        assert per_case.loc[case, "baseline_iou"] == pytest.approx(iou_score(masks[case], mask))
    assert result.scores.loc["dice", "mean"] == pytest.approx(per_case["baseline_dice"].mean())
    assert (per_case["baseline_dice"] >= per_case["baseline_iou"]).all()
    assert "Figure 3: reference (green) vs air-in-body baseline (red)" in result.figures


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("name", DEEP)
def test_deep_experiments_in_tiny_mode(name, tmp_path):
    pytest.importorskip("torch")
    tiny = {
        # the batch-effect model needs a few more images and epochs to separate the sources
        "batch-effect": dataclasses.replace(TINY, xray_counts=(120, 120, 60), xray_epochs=12),
        # one model C: writing the augmented copies is the slow part
        "augmentation": dataclasses.replace(TINY, dl_repeats=1),
        # model E must memorise its patients, which takes more steps than C's twins
        "patient-split": dataclasses.replace(TINY, epochs=40, image_size=24),
    }.get(name, TINY)
    result = run(name, settings=tiny)
    assert result.leaky_beats_correct, result.to_text()
    assert len(result.figures) == 1
    if name == "batch-effect":
        assert result.scores.loc["external", "normals_correct"] < 0.5
        # Figure 4's share, for model I and for the control trained without the confound
        shares = result.scores.loc[["external", "control"], "attribution_outside_lungs"]
        assert shares.between(0, 1).all()
        assert any("a control trained the same way" in note for note in result.notes)
        # ... each over its external normals, with the rank-sum test over images
        assert 0 <= result.scores.loc["external", "attribution_ranksum_pvalue"] <= 1
        assert any("rank-sum over images" in note for note in result.notes)
        # a run of only this experiment writes its own figures to scores.csv
        written = pd.read_csv(write_report([result], tmp_path)["scores"])
        assert written["evaluation"].tolist() == ["internal", "external", "control"]
        assert set(written["experiment"]) == {"batch-effect"}
        np.testing.assert_allclose(
            written["normals_correct"].to_numpy(dtype=float)[:2],
            result.scores.loc[["internal", "external"], "normals_correct"].to_numpy(dtype=float),
        )
    if name == "patient-split":  # two trained models per row: mean ± sd and a rank-sum test
        assert not np.isnan(result.comparisons["statistic"].iloc[0])
        assert "±" in result.table.query("Source == 'this run'")["F1"].iloc[0]
    if name != "batch-effect":
        _check_training_f1_and_twins(result, tiny.epochs)
    _check_deep_study(result)


def _check_deep_study(result):
    """The study report of the correct network: its test split (and model I's external
    normals), patients never across splits, F1 equal to the table's for that network."""
    study = result.study
    cohort = study.sections["cohort"].data
    performance = study.sections["performance"].data
    assert cohort["patients_in_several_splits"] == []
    if result.name == "batch-effect":
        assert performance["evaluation_splits"] == ["test", "external"]
        # normals only: the share called normal is the external specificity
        external = performance["splits"]["external"]["metrics"]
        assert external["specificity"]["value"] == pytest.approx(
            result.scores.loc["external", "normals_correct"]
        )
        assert "PF201" in study.sections["audit"].data["codes"]  # source confounded with label
        assert not study.passed
        return
    correct = result.comparisons["correct"].iloc[0]
    assert performance["evaluation_splits"] == ["test"]
    first_run_f1 = result.raw.set_index("model").loc[[correct], "f1"].iloc[0]
    assert performance["splits"]["test"]["metrics"]["f1"]["value"] == pytest.approx(first_run_f1)
    if len(result.raw.set_index("model").loc[[correct]]) < 2:  # one network: no test
        assert study.sections["leakage"].status == "not_available"
        return
    gap = study.sections["leakage"].data["results"][0]
    assert gap["pitfall"] == ("augmentation" if correct == "D" else "group_split")


def _check_training_f1_and_twins(result, epochs):
    """Training F1 beside test F1, and the shares of test patches with a twin in training."""
    table = result.table.set_index(["Model", "Source"])
    leaky, correct = result.comparisons[["leaky", "correct"]].iloc[0]
    for model in (leaky, correct):
        assert table.loc[(model, "paper"), "Training F1"] == "n/a"
        assert table.loc[(model, "this run"), "Training F1"] != "n/a"
    raw = result.raw.set_index("model")
    assert raw["train_f1"].between(0, 1).all()
    # the kept epoch (counted from 1) comes after the one-cycle warm-up
    assert raw["best_epoch"].between(int(0.3 * epochs) + 1, epochs).all()
    # the validation loss: lowest at some epoch, never lower at the kept one
    assert raw["val_min_epoch"].between(1, epochs).all()
    assert (raw["val_loss_kept"] >= raw["val_loss_min"]).all()
    assert any("validation loss" in note and "lowest" in note for note in result.notes)
    # patient-level split: no test patch has a patch of its patient in training
    assert (raw.loc[[correct], "twin_share"] == 0).all()
    assert raw.loc[[correct], "f1_with_twin"].isna().all()
    np.testing.assert_allclose(raw.loc[[correct], "f1_without_twin"], raw.loc[[correct], "f1"])
    # random patch split: with 4 patches a patient, nearly every test patch has one
    if leaky == "E":
        assert (raw.loc[["E"], "twin_share"] > 0.8).all()
    else:  # one augmented copy per patch, random split: most test patches have their twin
        assert raw.loc[["C"], "twin_share"].between(0.5, 1).all()
    assert any(f"model {leaky}: training F1" in note for note in result.notes)


def test_twin_scores_by_hand():
    from pitfalls.reproduction._deep import _twin_scores

    y_true = np.array([1, 1, 0, 0, 1, 0])
    y_pred = np.array([1, 1, 0, 1, 0, 0])
    has_twin = np.array([True, True, True, True, False, False])
    scores = _twin_scores(y_true, y_pred, has_twin)
    # with a twin: 2 TP, 1 FP -> F1 = 2*2 / (2*2 + 1) = 0.8; without: no TP -> 0
    assert scores == {"twin_share": pytest.approx(4 / 6), "f1_with_twin": pytest.approx(0.8),
                      "f1_without_twin": 0.0}  # fmt: skip
    assert np.isnan(_twin_scores(y_true, y_pred, np.ones(6, bool))["f1_without_twin"])


def test_validation_loss_path_by_hand():
    from pitfalls.reproduction._deep import _validation_loss_path

    # lowest at the second epoch (counted from 1 in the notes), the kept one is the last
    history = pd.DataFrame({"epoch": [0, 1, 2, 3], "val_loss": [0.7, 0.4, 0.9, 1.3]})
    assert _validation_loss_path(history, kept=3) == {
        "val_min_epoch": 2, "val_loss_min": 0.4, "val_loss_kept": 1.3,
    }  # fmt: skip
    # a NaN epoch is skipped; no validation data at all gives NaN throughout
    history["val_loss"] = [np.nan, 0.5, 0.6, np.nan]
    assert _validation_loss_path(history, kept=2)["val_min_epoch"] == 2
    empty = _validation_loss_path(history.assign(val_loss=np.nan), kept=3)
    assert all(np.isnan(value) for value in empty.values())


@pytest.mark.torch
@pytest.mark.parametrize("turn", ["identity", "flip-x", "flip-y", "transpose", "rot90",
                                  "rot180", "rot270", "anti-transpose"])  # fmt: skip
def test_patch_cnn_gives_all_eight_twins_the_same_output(turn):
    torch = pytest.importorskip("torch")
    from pitfalls.reproduction._deep import patch_cnn

    torch.manual_seed(0)
    net = patch_cnn(2, 3).eval()
    x = torch.rand(3, 3, 32, 32)
    twin = {
        "identity": x, "flip-x": x.flip(-1), "flip-y": x.flip(-2),
        "transpose": x.transpose(-1, -2), "rot90": torch.rot90(x, 1, (-2, -1)),
        "rot180": torch.rot90(x, 2, (-2, -1)), "rot270": torch.rot90(x, 3, (-2, -1)),
        "anti-transpose": torch.rot90(x, 1, (-2, -1)).flip(-1),
    }[turn]  # fmt: skip
    with torch.no_grad():
        torch.testing.assert_close(net(twin), net(x), rtol=1e-4, atol=1e-5)
        # ... but not blind: other images get other outputs
        assert not torch.allclose(net(0.3 * x), net(x), atol=1e-4)


@pytest.mark.torch
def test_full_mode_prints_a_measured_time_estimate(capsys):
    pytest.importorskip("torch")
    from pitfalls.reproduction._deep import announce_estimate

    full_tiny = dataclasses.replace(
        resolve_settings(quick=False, device="cpu"), architecture="small", batch_size=4
    )
    note = announce_estimate(full_tiny, "patient-split (E, F)", n_images=40, n_models=2,
                             image_shape=(16, 3))  # fmt: skip
    assert note.startswith("patient-split (E, F): estimated training time ")
    assert "2 model(s), 100 epochs of 40 images" in note
    assert "checkpoints in pitfalls-out/checkpoints/ (rerun the same command to resume)" in note
    assert capsys.readouterr().err.strip() == f"pitfalls reproduce: {note}"
    # quick mode returns the note without printing it
    announce_estimate(dataclasses.replace(full_tiny, quick=True), "x", n_images=8, n_models=1,
                      image_shape=(16, 3))  # fmt: skip
    assert capsys.readouterr().err == ""


@pytest.mark.torch
@pytest.mark.slow
def test_deep_experiment_resumes_from_its_checkpoints(tmp_path):
    pytest.importorskip("torch")
    settings = dataclasses.replace(TINY, epochs=2, checkpoint_dir=str(tmp_path))
    first = run("patient-split", settings=settings)
    last = sorted(tmp_path.glob("*.pt.last"))
    # one file per trained model: E and D/F, two repeats each; named after what it trains on
    assert sorted(p.name[:8] + p.name[-13:] for p in last) == [
        "model-D-seed0.pt.last", "model-D-seed1.pt.last",
        "model-E-seed0.pt.last", "model-E-seed1.pt.last",
    ]  # fmt: skip
    written = {p: p.stat().st_mtime_ns for p in last}
    from pitfalls.reproduction import _deep

    _deep._correct_patch_model.cache_clear()
    again = run("patient-split", settings=settings)  # finished runs: nothing is retrained
    assert {p: p.stat().st_mtime_ns for p in last} == written
    pd.testing.assert_frame_equal(again.raw, first.raw)
    # other data (another cohort seed) never resumes from these checkpoints
    _deep._correct_patch_model.cache_clear()
    run("patient-split", settings=dataclasses.replace(settings, random_state=5, dl_repeats=1))
    assert len(list(tmp_path.glob("*.pt.last"))) == 6


# ------------------------------------------------------------------------- reports


def test_write_report_sections_figures_and_scores(fast_results, tmp_path):
    results = list(fast_results.values())
    written = write_report(results, tmp_path / "out")
    markdown = written["markdown"].read_text()
    html = written["html"].read_text()
    for result in results:
        assert f"## {result.title}" in markdown
        assert f'<h2 id="{result.name}">' in html
    # models A/B, models G/H, and both again in the "Table 2 at a glance" section
    assert markdown.count("| Model | Approach | Source | Accuracy | Precision | Recall | F1 |") == 3
    figures = sorted((tmp_path / "out" / "figures").glob("*.png"))
    assert len(figures) == sum(len(r.figures) for r in results) == 3
    for path in figures:
        assert f"(figures/{path.name})" in markdown
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert html.count("data:image/png;base64,") == 3
    scores = pd.read_csv(written["scores"])
    assert set(scores["experiment"]) == {"oversampling", "feature-selection", "accuracy",
                                         "segmentation-baseline"}  # fmt: skip


def test_scores_csv_holds_the_scores_of_a_result_without_per_repeat_rows(tmp_path):
    # batch-effect trains one model: no per-repeat frame, its scores table is its figures
    result = ExperimentResult(
        name="batch-effect",
        title="Model I",
        reference="Section (3)",
        table=pd.DataFrame({"Evaluation": ["internal"]}),
        scores=pd.DataFrame(
            {"f1": [0.91, np.nan], "normals_correct": [0.97, 0.12]}, index=["internal", "external"]
        ),
    )
    written = pd.read_csv(write_report([result], tmp_path)["scores"])
    expected = pd.DataFrame(
        {
            "row": ["internal", "external"],
            "f1": [0.91, np.nan],
            "normals_correct": [0.97, 0.12],
            "experiment": ["batch-effect", "batch-effect"],
        }
    )
    pd.testing.assert_frame_equal(written, expected)


def test_write_report_lists_experiments_not_run(fast_results, tmp_path):
    why = 'needs the torch extra (torch not installed); install it with: pip install "pitfalls[torch]"'
    written = write_report([fast_results["accuracy"]], tmp_path, skipped={"batch-effect": why})
    assert written["markdown"].read_text().endswith(f"## Not run\n\n- batch-effect: {why}\n")
    assert "<li>batch-effect: needs the torch extra" in written["html"].read_text()
    assert set(pd.read_csv(written["scores"])["experiment"]) == {"accuracy"}


def test_write_report_refuses_a_file_as_directory(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("")
    with pytest.raises(FileExistsError, match="is not a directory"):
        write_report([], target)


def test_run_with_out_writes_a_report(tmp_path):
    result = run("segmentation-baseline", settings=TINY, out=tmp_path)
    assert (tmp_path / "report.html").is_file()
    assert result.title in (tmp_path / "report.md").read_text()


def test_combined_table2_orders_models_and_the_report_shows_it(fast_results, tmp_path):
    from pitfalls.reproduction import combined_table2

    results = [fast_results["feature-selection"], fast_results["oversampling"]]
    table = combined_table2(results)
    assert table["Model"].tolist() == ["A", "A", "B", "B", "G", "G", "H", "H"]
    assert table["Source"].tolist() == ["paper", "this run"] * 4
    assert combined_table2([fast_results["accuracy"]]) is None
    markdown = write_report(results, tmp_path)["markdown"].read_text()
    assert markdown.index("## Table 2 at a glance") < markdown.index("## Models G/H")


def test_rank_sum_line_formats_small_p_as_the_paper():
    result = ExperimentResult(
        name="demo",
        title="Demo",
        reference="none",
        table=pd.DataFrame({"Model": ["A"]}),
        scores=pd.DataFrame(),
        comparisons=pd.DataFrame(
            [{"leaky": "A", "correct": "B", "metric": "f1", "leaky_value": 0.9,
              "correct_value": 0.2, "statistic": -3.5, "pvalue": 1e-5,
              "paper_statistic": -12.22, "paper_pvalue": "<0.001"}]
        ),
    )  # fmt: skip
    assert "A vs B (f1): 0.900 vs 0.200; rank-sum statistic=-3.50, p<0.001 (paper: " in (
        result.to_text()
    )


def test_run_all_calls_back_in_order_and_writes_one_report(tmp_path):
    from pitfalls.reproduction import run_all

    seen: list[str] = []
    results = run_all(
        ["segmentation-baseline", "accuracy", "segmentation-baseline"],
        settings=TINY,
        out=tmp_path,
        callback=lambda r: seen.append(r.name),
    )
    assert seen == [r.name for r in results] == ["segmentation-baseline", "accuracy"]
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.index("## Dice and IoU") < markdown.index("## Accuracy on an imbalanced")
    with pytest.raises(ValueError, match="experiment='nope'"):
        run_all(["accuracy"], data={"nope": tmp_path})


def test_accuracy_notes_carry_the_metric_warnings(fast_results):
    notes = " ".join(fast_results["accuracy"].notes)
    assert "classification_summary on the naive model warns: accuracy=0.942 is not above" in notes


def test_importing_and_listing_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, pitfalls.reproduction; from pitfalls.cli import main; "
        "main(['reproduce', '--list']); "
        "print('heavy:' + ','.join(m for m in ('torch', 'captum', 'radiomics') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "heavy:"


@pytest.mark.parametrize("name", ["oversampling", "feature-selection", "accuracy"])
def test_study_report_scores_the_out_of_fold_predictions_of_the_correct_model(fast_results, name):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from pitfalls.report import StudyReport
    from pitfalls.reproduction._radiomics import appendix_a_pipeline, load_cohort

    study = fast_results[name].study
    assert isinstance(study, StudyReport)
    endpoint = {"oversampling": "local_recurrence", "feature-selection": "survival_3y",
                "accuracy": "distant_metastasis"}[name]  # fmt: skip
    X, y = load_cohort(endpoint, TINY, None)
    # the oracle: the same pipeline and folds, cross-validated by scikit-learn
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=TINY.random_state)
    proba = cross_val_predict(appendix_a_pipeline(TINY, TINY.random_state), X, np.asarray(y),
                              cv=cv, method="predict_proba")[:, 1]  # fmt: skip
    performance = study.sections["performance"].data
    (split,) = performance["evaluation_splits"]
    scored = performance["splits"][split]
    assert scored["patients"] == scored["samples"] == len(X)  # one row per patient
    assert scored["metrics"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, proba))
    assert study.sections["cohort"].data["patients_in_several_splits"] == []
    has_gap = name != "accuracy"  # the leaky-vs-correct gap of the experiment goes in
    assert (study.sections["leakage"].status != "not_available") == has_gap


def test_write_report_writes_and_links_each_study_report(fast_results, tmp_path):
    written = write_report(list(fast_results.values()), tmp_path / "out")
    studies = {key: path for key, path in written.items() if key.startswith("study:")}
    with_study = [r.name for r in fast_results.values() if r.study is not None]
    assert sorted(with_study) == ["accuracy", "feature-selection", "oversampling"]
    assert len(studies) == 2 * len(with_study)  # HTML and JSON each
    markdown = written["markdown"].read_text()
    for name in with_study:
        html_path = tmp_path / "out" / "study_reports" / f"{name}.html"
        assert studies[f"study:{name}:html"] == html_path
        assert f"study_reports/{name}.html" in markdown
        saved = json.loads(studies[f"study:{name}:json"].read_text())
        assert saved == json.loads(fast_results[name].study.to_json())
