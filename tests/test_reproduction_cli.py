"""The ``pitfalls reproduce`` command: options, one-line errors, exit codes, report."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import pitfalls.reproduction._registry as registry
from pitfalls.cli import main
from pitfalls.reproduction import ExperimentResult, resolve_settings

TINY = dataclasses.replace(
    resolve_settings(quick=True, device="cpu", n_repeats=2),
    n_estimators=10,
    n_ct_cases=2,
    ct_shape=(16, 48, 48),
)


@pytest.fixture(autouse=True)
def _close_figures():
    # experiments draw with pyplot; close them so the suite never holds 20+ figures
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def tiny(monkeypatch):
    """Make every run the command starts tiny, whatever its options."""
    monkeypatch.setattr(registry, "resolve_settings", lambda **kwargs: TINY)


def _exit_code(argv):
    # argparse itself exits (SystemExit) on bad options; checks in the command return 2
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _one_line_error(capsys, argv, match):
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert match in err
    return err


def test_unknown_experiment(capsys):
    err = _one_line_error(capsys, ["reproduce", "oversampling", "tabel3"], "experiment='tabel3'")
    assert err.startswith("pitfalls reproduce: error: experiment='tabel3' is not one of ")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--n-repeats", "0"], "argument --n-repeats: 0 must be >= 1"),
        (["--n-repeats", "x"], "argument --n-repeats: 'x' is not an integer"),
        (["--quick", "--full"], "not allowed with argument"),
        (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["--data", "oversampling"], "'oversampling' is not EXPERIMENT=PATH"),
    ],
)
def test_bad_options_are_one_line(capsys, argv, match):
    _one_line_error(capsys, ["reproduce", *argv], match)


def test_data_for_an_experiment_not_run(capsys, tmp_path):
    _one_line_error(
        capsys,
        ["reproduce", "accuracy", "--data", f"oversampling={tmp_path}"],
        "--data oversampling=... names an experiment that is not run",
    )


def test_missing_data_directory(capsys, tmp_path, tiny):
    missing = tmp_path / "nope"
    _one_line_error(
        capsys, ["reproduce", "accuracy", "--data", f"accuracy={missing}"], "does not exist"
    )


def test_out_must_be_a_directory(capsys, tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    _one_line_error(capsys, ["reproduce", "accuracy", "--out", str(target)], "is not a directory")


def test_list(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in registry.EXPERIMENTS:
        assert f"--data {name}=PATH" in out
    assert "Table 2, models A and B" in out and "[needs pitfalls[torch]]" in out


def test_run_prints_tables_and_writes_the_report(capsys, tmp_path, tiny):
    code = main(["reproduce", "segmentation-baseline", "accuracy", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 experiment(s), quick mode" in out
    assert "(Table 3 and Figure 3)" in out and "Section (2), the 94% naive model" in out
    assert "Standard Deviation" in out
    assert f"report: {tmp_path / 'report.md'} and {tmp_path / 'report.html'}" in out
    assert (tmp_path / "figures").is_dir() and (tmp_path / "scores.csv").is_file()


def test_exit_status_1_when_a_leaky_model_does_not_beat_its_twin(capsys, tmp_path, monkeypatch):
    loser = ExperimentResult(
        name="oversampling",
        title="Models A/B",
        reference="Table 2, models A and B",
        table=pd.DataFrame({"Model": ["A", "B"]}),
        scores=pd.DataFrame({"f1": [0.2, 0.5]}, index=["A", "B"]),
        comparisons=pd.DataFrame(
            [
                {
                    "leaky": "A",
                    "correct": "B",
                    "metric": "f1",
                    "leaky_value": 0.2,
                    "correct_value": 0.5,
                }
            ]
        ),
    )
    monkeypatch.setattr("pitfalls.reproduction.run", lambda *args, **kwargs: loser)
    assert main(["reproduce", "oversampling", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "pitfalls reproduce: a leaky model did not beat its correct twin in: oversampling"
    )


def test_cuda_requested_without_a_gpu_fails_before_running(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    _one_line_error(
        capsys,
        ["reproduce", "accuracy", "batch-effect", "--device", "cuda"],
        "device='cuda' was requested but torch sees no CUDA device; use --device cpu.",
    )


# ------------------------------------------------------- extras missing on this install


@pytest.fixture
def without_torch(monkeypatch):
    """A core install: our optional-import helper reports the torch extra missing."""
    import pitfalls._optional as optional

    real = optional.missing_modules

    def missing_modules(extra):
        return ["torch", "torchvision"] if extra == "torch" else real(extra)

    monkeypatch.setattr(optional, "missing_modules", missing_modules)


def test_experiments_whose_extra_is_missing_are_skipped_up_front(
    capsys, tmp_path, tiny, without_torch
):
    code = main(["reproduce", "accuracy", "batch-effect", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == (
        "pitfalls reproduce: skipping batch-effect: needs the torch extra (torch, torchvision "
        'not installed); install it with: pip install "pitfalls[torch]"\n'
    )
    assert "1 experiment(s) (1 skipped), quick mode" in out
    report = (tmp_path / "report.md").read_text()
    assert "## Accuracy on an imbalanced endpoint" in report
    assert "## Not run\n\n- batch-effect: needs the torch extra (torch, torchvision" in report
    assert "<h2>Not run</h2>" in (tmp_path / "report.html").read_text()
    assert set(pd.read_csv(tmp_path / "scores.csv")["experiment"]) == {"accuracy"}


def test_nothing_left_to_run_is_a_one_line_error(capsys, tmp_path, without_torch):
    err = _one_line_error(
        capsys,
        ["reproduce", "augmentation", "--out", str(tmp_path)],
        "pitfalls reproduce: error: nothing to run: augmentation needs the torch extra",
    )
    assert "skipping" not in err  # the one line says it all
    assert not (tmp_path / "report.md").exists()


def test_run_and_run_all_refuse_before_running(monkeypatch, without_torch):
    from pitfalls.reproduction import run, run_all

    with pytest.raises(ImportError, match=r"^experiment 'patient-split' needs the torch extra"):
        run("patient-split", settings=TINY)

    def must_not_run(*args, **kwargs):
        raise AssertionError("an experiment ran before the missing extra was reported")

    monkeypatch.setattr(registry, "run", must_not_run)
    with pytest.raises(ImportError, match="batch-effect needs the torch extra"):
        run_all(["accuracy", "batch-effect"], settings=TINY)
