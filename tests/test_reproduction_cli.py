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
