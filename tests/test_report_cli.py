"""``pitfalls report``: exit statuses, one-line errors, outputs, pipes and encodings.

The command must compute what :func:`pitfalls.report.study_report` computes with the
same arguments (its JSON is compared with the library's), exit 0 / 1 by the report's
verdict and 2 with one line on unusable input, and never overwrite an input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pitfalls.cli import build_parser, main
from pitfalls.report import study_report

SRC = str(Path(__file__).resolve().parents[1] / "src")
BASE = ["--group", "pid", "--split", "split", "--label", "y", "--id", "sample"]


def _study(n_patients=48, seed=0, site_names=("A", "B", "C")):
    """A manifest (1-2 samples per patient, no patient in two splits) and informative scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        # splits by p % 4; labels, internal sites and sexes vary within every split
        split = ("train", "train", "test", "external")[p % 4]
        site = site_names[2] if split == "external" else site_names[(p // 8) % 2]
        for k in range(1 + p % 3 // 2):
            rows.append(
                {
                    "sample": f"{p:03d}-{k}",  # ids as text: leading zeros kept
                    "pid": f"{p:03d}",
                    "split": split,
                    "y": (p // 4) % 2,
                    "site": site,
                    "sex": "FM"[(p // 8 + p) % 2],
                }
            )
    manifest = pd.DataFrame(rows)
    evaluated = manifest[manifest.split != "train"]
    score = np.clip(0.3 + 0.4 * evaluated.y + rng.normal(0, 0.15, len(evaluated)), 0.01, 0.99)
    predictions = pd.DataFrame({"sample": evaluated["sample"], "prob": score})
    return manifest, predictions


@pytest.fixture
def files(tmp_path):
    manifest, predictions = _study()
    paths = {"manifest": tmp_path / "m.csv", "predictions": tmp_path / "p.csv"}
    manifest.to_csv(paths["manifest"], index=False)
    predictions.to_csv(paths["predictions"], index=False)
    return paths


def run(capsys, *argv):
    status = main(["report", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(err, pattern):
    import re

    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("pitfalls report: error: "), err
    assert re.search(pattern, err), err


def _scored(files, *extra):
    return [files["manifest"], *BASE, "--predictions", files["predictions"], "--score", "prob",
            "--n-bootstraps", 20, *extra]  # fmt: skip


# --- what it computes and its exit status -------------------------------------------------------


def test_json_is_what_study_report_computes_with_the_same_arguments(files, tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = _scored(files, "--subgroup", "sex", "--seed", 3, "--threshold", 0.4, "--site", "site")
    status, stdout, err = run(
        capsys, *argv, "--format", "json", "--output", out, "--fail-on", "never"
    )
    assert (status, stdout, err) == (0, "", "")
    expected = study_report(
        str(files["manifest"]),
        group="pid",
        split="split",
        label="y",
        site="site",
        sample_id="sample",
        predictions=str(files["predictions"]),
        score="prob",
        threshold=0.4,
        subgroups=["sex"],
        n_bootstraps=20,
        random_state=3,
        fail_on="never",
    )
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(expected.to_json())
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["settings"]["evaluation_splits"] == ["test", "external"]
    assert doc["settings"]["n_bootstraps"] == 20 and doc["settings"]["threshold"] == 0.4


def test_clean_study_exits_0_with_the_text_report(files, capsys):
    status, out, err = run(capsys, *_scored(files))
    assert status == 0 and err == ""
    assert out.startswith("pitfalls study report: PASSED")
    assert "Performance [" in out and "test" in out and "external" in out


def test_a_high_finding_exits_1_unless_fail_on_never(tmp_path, capsys):
    manifest, predictions = _study()
    assert list(manifest.loc[manifest.pid == "002", "split"]) == ["test", "test"]
    manifest.loc[manifest["sample"] == "002-0", "split"] = "train"  # patient 002 in two splits
    manifest.to_csv(tmp_path / "m.csv", index=False)
    predictions.to_csv(tmp_path / "p.csv", index=False)
    argv = [tmp_path / "m.csv", *BASE, "--predictions", tmp_path / "p.csv", "--score", "prob",
            "--n-bootstraps", 20]  # fmt: skip
    status, out, _ = run(capsys, *argv)
    assert status == 1 and out.startswith("pitfalls study report: FAILED (1 high")
    assert "[HIGH] PF101 group-in-several-splits" in out
    status, out, _ = run(capsys, *argv, "--fail-on", "never")
    assert status == 0 and out.startswith("pitfalls study report: PASSED (1 high")


def test_every_format_goes_to_output_and_the_name_picks_it_when_not_given(files, tmp_path, capsys):
    for fmt, start in (("md", "# pitfalls study report"), ("html", "<!DOCTYPE html>")):
        path = tmp_path / f"r.{fmt}"
        assert run(capsys, *_scored(files), "--format", fmt, "--output", path)[:2] == (0, "")
        assert path.read_text(encoding="utf-8").startswith(start)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and page.count("<img") >= 3
    # Without --format the output's suffix decides (as in pitfalls audit); text otherwise.
    for name, start in (("named.html", "<!DOCTYPE html>"), ("named.json", "{"),
                        ("named.md", "# pitfalls study report"),
                        ("named.txt", "pitfalls study report")):  # fmt: skip
        run(capsys, *_scored(files), "--output", tmp_path / name)
        assert (tmp_path / name).read_text(encoding="utf-8").startswith(start)
    run(capsys, *_scored(files), "--format", "md", "--output", tmp_path / "forced.html")
    assert (tmp_path / "forced.html").read_text(encoding="utf-8").startswith("# pitfalls")


def test_subgroup_and_split_options_take_several_names_and_repeat():
    args = build_parser().parse_args(
        ["report", "m.csv", *BASE, "--subgroup", "sex", "age", "--subgroup", "scanner",
         "--evaluation-split", "test", "--evaluation-split", "ext", "--external-split", "ext"]
    )  # fmt: skip
    assert args.subgroups == ["sex", "age", "scanner"]
    assert args.evaluation_splits == ["test", "ext"] and args.external_splits == ["ext"]
    defaults = build_parser().parse_args(["report", "m.csv", *BASE])
    assert (defaults.subgroups, defaults.evaluation_splits, defaults.external_splits) == (
        [],
        None,
        None,
    )
    assert (defaults.format, defaults.fail_on, defaults.n_bootstraps, defaults.seed) == (
        None, "high", 1000, 0)  # fmt: skip


# --- unusable input: exit 2, one line ------------------------------------------------------------


def test_missing_column_is_one_line_naming_the_manifest(files, capsys):
    status, out, err = run(capsys, *_scored(files, "--site", "hospital"))
    assert status == 2 and out == ""
    one_line_error(
        err,
        r"manifest '.*m\.csv': site='hospital' is not a column of the manifest; available "
        r"columns: 'sample', 'pid', 'split', 'y', 'site', 'sex'\.$",
    )


def test_missing_files_are_one_line(files, tmp_path, capsys):
    status, _, err = run(capsys, tmp_path / "none.csv", *BASE)
    assert status == 2
    one_line_error(err, r"manifest file '.*none\.csv' does not exist\.$")
    status, _, err = run(capsys, files["manifest"], *BASE, "--predictions", tmp_path / "none.csv",
                         "--score", "prob")  # fmt: skip
    assert status == 2
    one_line_error(err, r"predictions file '.*none\.csv' does not exist")
    status, _, err = run(capsys, *_scored(files), "--root", tmp_path / "nodir")
    assert status == 2
    one_line_error(err, r"--root '.*nodir' is not a directory\.$")


def test_prediction_ids_that_do_not_match_are_one_line_naming_them(files, tmp_path, capsys):
    predictions = pd.read_csv(files["predictions"], dtype={"sample": str})
    ghost = predictions.copy()
    ghost.loc[0, "sample"] = "ghost"
    ghost.to_csv(tmp_path / "ghost.csv", index=False)
    argv = [files["manifest"], *BASE, "--score", "prob", "--n-bootstraps", 20]
    status, _, err = run(capsys, *argv, "--predictions", tmp_path / "ghost.csv")
    assert status == 2
    one_line_error(
        err,
        r"^pitfalls report: error: --predictions '.*ghost\.csv': predictions hold 1 sample "
        r"id\(s\) that are not in the manifest: 'ghost'",
    )
    predictions.iloc[2:].to_csv(tmp_path / "short.csv", index=False)
    status, _, err = run(capsys, *argv, "--predictions", tmp_path / "short.csv")
    assert status == 2
    first_two = ", ".join(f"'{s}'" for s in predictions["sample"][:2])
    one_line_error(
        err, rf"predictions lack 2 sample id\(s\) of the evaluation splits .*{first_two}"
    )


def test_output_that_is_an_input_is_refused(files, capsys):
    before = {name: path.read_bytes() for name, path in files.items()}
    link = files["manifest"].parent / "link.csv"
    link.symlink_to(files["manifest"])
    targets = [("the manifest", files["manifest"]), ("the manifest", link),
               ("the predictions file", files["predictions"])]  # fmt: skip
    for what, target in targets:
        status, out, err = run(capsys, *_scored(files), "--output", target)
        assert status == 2 and out == ""
        one_line_error(err, rf"--output '.*' is {what}; writing there would overwrite an input")
    assert {name: path.read_bytes() for name, path in files.items()} == before


def test_output_that_is_an_input_image_is_refused(tmp_path, capsys):
    from PIL import Image

    manifest, predictions = _study(n_patients=16)
    root = tmp_path / "img"
    root.mkdir()
    manifest["path"] = [f"{i}.png" for i in range(len(manifest))]
    for i in range(len(manifest)):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(root / f"{i}.png")
    manifest.to_csv(tmp_path / "m.csv", index=False)
    predictions.to_csv(tmp_path / "p.csv", index=False)
    before = (root / "3.png").read_bytes()
    status, out, err = run(
        capsys, tmp_path / "m.csv", *BASE, "--predictions", tmp_path / "p.csv", "--score", "prob",
        "--image", "path", "--root", root, "--output", root / "3.png",
    )  # fmt: skip
    assert status == 2 and out == ""
    one_line_error(err, r"--output '.*3\.png' is the input image '3\.png'")
    assert (root / "3.png").read_bytes() == before


# --- pipes and encodings -------------------------------------------------------------------------


def test_json_into_a_closed_pipe_exits_with_the_verdict(files, tmp_path):
    command = (
        f'"{sys.executable}" -m pitfalls report "{files["manifest"]}" {" ".join(BASE)} '
        f'--predictions "{files["predictions"]}" --score prob --n-bootstraps 20 --format html '
        f'2>"{tmp_path / "err"}" | head -c 15; exit ${{PIPESTATUS[0]}}'
    )
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=300,
    )
    err = (tmp_path / "err").read_text()
    assert done.stdout == b"<!DOCTYPE html>"  # the page (far over a pipe buffer) was cut
    assert err == "", err
    assert done.returncode == 0


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_ascii_stdout_with_non_ascii_sites(tmp_path, fmt):
    manifest, predictions = _study(site_names=("Zürich", "Köln", "Łódź"))
    manifest.to_csv(tmp_path / "m.csv", index=False)
    predictions.to_csv(tmp_path / "p.csv", index=False)
    done = subprocess.run(
        [sys.executable, "-m", "pitfalls", "report", str(tmp_path / "m.csv"), *BASE, "--site",
         "site", "--predictions", str(tmp_path / "p.csv"), "--score", "prob", "--n-bootstraps",
         "10", "--format", fmt, "--fail-on", "never"],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": SRC, "PYTHONIOENCODING": "ascii"},
        timeout=300,
    )  # fmt: skip
    assert done.stderr == b"", done.stderr.decode()
    assert done.returncode == 0
    out = done.stdout.decode("ascii")  # nothing but ASCII came out
    if fmt == "json":
        sites = json.loads(out)["sections"]["cohort"]["data"]["splits"][0]["sites"]
        assert set(sites) == {"Zürich", "Köln"}
    elif fmt == "html":
        assert "Z&#252;rich" in out  # a character reference: the page still reads Zürich
    else:
        assert "Z\\xfcrich" in out
