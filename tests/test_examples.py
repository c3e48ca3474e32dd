"""examples/: sphinx-gallery form, one script per experiment, each runs through run();
the workflow examples (examples/workflows/) run end to end."""

from __future__ import annotations

import ast
import dataclasses
import runpy
import sys
from pathlib import Path

import pytest

import pitfalls.reproduction._registry as registry
from pitfalls.reproduction import example_arguments, list_experiments, resolve_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))
WORKFLOWS = sorted((EXAMPLES / "workflows").glob("plot_*.py"))


@pytest.fixture(autouse=True)
def _close_figures():
    # experiments draw with pyplot; close them so the suite never holds 20+ figures
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _experiment_of(script: Path) -> str:
    calls = [
        node
        for node in ast.walk(ast.parse(script.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run"
    ]
    assert len(calls) == 1, f"{script.name} must call run() once"
    return ast.literal_eval(calls[0].args[0])


def test_one_example_per_experiment():
    assert sorted(_experiment_of(s) for s in SCRIPTS) == sorted(list_experiments())
    assert (EXAMPLES / "README.rst").is_file()


@pytest.mark.parametrize("script", SCRIPTS + WORKFLOWS, ids=lambda p: p.name)
def test_sphinx_gallery_form(script):
    source = script.read_text()
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring is not None
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) == len(title)
    assert source.count("# %%") >= 2
    assert "example_arguments(__doc__)" in source


def test_example_arguments_defaults_and_options():
    args = example_arguments(argv=[])
    assert (args.quick, args.device, args.data, args.out, args.n_repeats, args.seed) == (
        True, "auto", None, None, None, 0)  # fmt: skip
    args = example_arguments(argv=["--full", "--n-repeats", "3", "--data", "d", "--ignored"])
    assert (args.quick, args.n_repeats, args.data) == (False, 3, "d")


def test_segmentation_example_runs_and_writes_its_report(tmp_path, monkeypatch):
    tiny = dataclasses.replace(resolve_settings(device="cpu"), n_ct_cases=2, ct_shape=(16, 48, 48))
    monkeypatch.setattr(registry, "resolve_settings", lambda **kwargs: tiny)
    monkeypatch.setattr(sys, "argv", ["plot_segmentation_baseline.py", "--out", str(tmp_path)])
    namespace = runpy.run_path(str(EXAMPLES / "plot_segmentation_baseline.py"), run_name="__main__")
    assert namespace["result"].name == "segmentation-baseline"
    assert "Dice and IoU" in (tmp_path / "report.md").read_text()


def test_study_report_workflow_holds_a_site_out_and_writes_its_report(tmp_path, monkeypatch):
    script = EXAMPLES / "workflows" / "plot_study_report.py"
    monkeypatch.setattr(sys, "argv", [script.name, "--out", str(tmp_path)])
    namespace = runpy.run_path(str(script), run_name="__main__")
    cohort, report = namespace["cohort"], namespace["report"]
    external = cohort.loc[cohort["split"] == "external", "site"]
    assert set(external) == {sorted(cohort["site"].unique())[-1]}
    # the report evaluates every scored split, the external one included, and the gap
    assert {"performance", "external", "leakage", "checklist"} <= set(report.sections)
    html = (tmp_path / "study_report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "external" in html
