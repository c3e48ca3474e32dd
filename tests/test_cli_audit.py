"""The ``pitfalls audit`` and ``pitfalls checklist`` commands: exit codes, formats, bad input."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from pitfalls.cli import main


def smooth_image(seed, size=64):
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 16)
    return (30 + 190 * (field - field.min()) / np.ptp(field)).astype(np.uint8)


@pytest.fixture
def clean_csv(tmp_path):
    n = 60
    df = pd.DataFrame(
        {
            "pid": [f"p{i // 2}" for i in range(n)],
            "split": np.array(["train", "val", "test"])[(np.arange(n) // 2) % 3],
            "y": (np.arange(n) // 6) % 2,
            "site": np.array(["A", "B"])[(np.arange(n) // 12) % 2],
        }
    )
    path = tmp_path / "manifest.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def image_csv(tmp_path):
    root = tmp_path / "img"
    root.mkdir()
    rows = []
    for i in range(8):
        Image.fromarray(smooth_image(i)).save(root / f"{i}.png")
        rows.append({"pid": f"p{i}", "split": "train" if i < 5 else "test", "path": f"{i}.png"})
    path = tmp_path / "images.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, root


def audit_args(path, *extra):
    return ["audit", str(path), "--group", "pid", "--split", "split", *extra]


def run(capsys, argv):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_clean_manifest_exits_0(clean_csv, capsys):
    status, out, err = run(capsys, audit_args(clean_csv, "--label", "y", "--site", "site"))
    assert status == 0
    assert out.startswith("pitfalls audit: PASSED")
    assert err == ""


def test_leak_exits_1_and_fail_on_levels(clean_csv, capsys, tmp_path):
    df = pd.read_csv(clean_csv)
    df.loc[0, "split"] = "test"
    leaky = tmp_path / "leaky.csv"
    df.to_csv(leaky, index=False)
    status, out, _ = run(capsys, audit_args(leaky))
    assert status == 1
    assert "[HIGH] PF101 group-in-several-splits" in out
    assert run(capsys, audit_args(leaky, "--fail-on", "never"))[0] == 0
    # A medium finding only: passes the default, fails --fail-on medium.
    df = pd.read_csv(clean_csv)
    df.loc[df.split == "test", "split"] = "val2"
    medium = tmp_path / "medium.csv"
    df.to_csv(medium, index=False)
    assert run(capsys, audit_args(medium))[0] == 0
    assert run(capsys, audit_args(medium, "--fail-on", "medium"))[0] == 1


def test_json_markdown_and_html_outputs(clean_csv, capsys, tmp_path):
    status, out, _ = run(capsys, audit_args(clean_csv, "--label", "y", "--format", "json"))
    doc = json.loads(out)
    assert status == 0 and doc["schema_version"] == 2 and doc["passed"] is True
    status, out, _ = run(capsys, audit_args(clean_csv, "--format", "md"))
    assert out.startswith("# pitfalls audit: PASSED")
    html_path = tmp_path / "r.html"
    status, out, _ = run(
        capsys,
        audit_args(clean_csv, "--label", "y", "--format", "html", "--output", str(html_path)),
    )
    assert status == 0 and out == ""
    assert html_path.read_text().startswith("<!DOCTYPE html>")


def test_images_and_features_from_the_command_line(image_csv, capsys, tmp_path):
    path, root = image_csv
    df = pd.read_csv(path)
    Image.fromarray(smooth_image(0)).save(root / "copy.png", compress_level=0)
    df.loc[len(df)] = {"pid": "other", "split": "test", "path": "copy.png"}
    df["f"] = np.arange(len(df))
    df.to_csv(path, index=False)
    argv = audit_args(
        path, "--image", "path", "--root", str(root), "--features", "f", "--n-jobs", "1"
    )
    status, out, err = run(capsys, argv)
    assert status == 1
    assert "PF102 duplicate-images-across-splits" in out
    assert "PF103" not in out
    assert err == ""  # no progress bar when stderr is not a terminal


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("missing", (), r"manifest file '.*nope.csv' does not exist\."),
        ("empty", (), r"manifest file '.*empty.csv' is empty\."),
        (
            "not_table",
            (),
            r"manifest file '.*bad.parquet' is not a readable table"
            if importlib.util.find_spec("pyarrow") is not None
            # without the io extra (the floors job), the fix is to install it
            else r"reading '.*bad.parquet' needs pyarrow; install it with: pip install \"pitfalls\[io\]\"",
        ),
        (
            "clean",
            ("--label", "diagnosis"),
            r"manifest '.*manifest.csv': label='diagnosis' is not a column of the manifest; available columns: 'pid', 'split', 'y', 'site'\.",
        ),
        ("missing_ids", (), r"group column 'pid' has 2 missing value\(s\) \(rows 3, 7\)"),
        ("clean", ("--near-threshold", "40"), r"near_threshold=40 is outside \[0, 32\]"),
        ("clean", ("--root", "no/such/dir"), r"--root 'no/such/dir' is not a directory\."),
        ("clean", ("--output", "no/such/dir/r.txt"), r"--output 'no/such/dir/r.txt': cannot write"),
        (
            "clean",
            ("--test-split", "holdout"),
            r"test_splits='holdout' not found in split column 'split'",
        ),
    ],
)
def test_unusable_input_is_one_line_exit_2(setup, extra, message, clean_csv, tmp_path, capsys):
    if setup == "missing":
        path = tmp_path / "nope.csv"
    elif setup == "empty":
        path = tmp_path / "empty.csv"
        path.write_text("")
    elif setup == "not_table":
        path = tmp_path / "bad.parquet"
        path.write_bytes(b"\x00\x01 not parquet")
    elif setup == "missing_ids":
        df = pd.read_csv(clean_csv)
        df.loc[[3, 7], "pid"] = np.nan
        path = tmp_path / "ids.csv"
        df.to_csv(path, index=False)
    else:
        path = clean_csv
    status, out, err = run(capsys, audit_args(path, *extra))
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("pitfalls audit: error: ")
    assert re.search(message, err), err


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            "broken",
            r"image column 'path', row 2: cannot read image '.*2.png' \(cannot identify image file",
        ),
        ("outside", r"image column 'path', row 2: '../secret.png' resolves outside root"),
    ],
)
def test_bad_images_are_one_line_exit_2(image_csv, capsys, bad, message):
    path, root = image_csv
    df = pd.read_csv(path)
    if bad == "broken":
        (root / "2.png").write_bytes(b"garbage")
    else:
        Image.fromarray(smooth_image(9)).save(root.parent / "secret.png")
        df.loc[2, "path"] = "../secret.png"
        df.to_csv(path, index=False)
    argv = audit_args(path, "--image", "path", "--root", str(root), "--n-jobs", "1")
    status, out, err = run(capsys, argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.parametrize(
    "extra",
    [
        ("--fail-on", "sometimes"),
        ("--format", "pdf"),
        ("--near-threshold", "many"),
        ("--near-orientations", "sideways"),
        (),
    ],
)
def test_invalid_option_values_exit_2(clean_csv, capsys, extra):
    argv = audit_args(clean_csv, *extra) if extra else ["audit", str(clean_csv), "--group", "pid"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "error:" in err and (extra[0] if extra else "--split") in err


def test_subprocess_exit_codes_and_no_traceback(clean_csv, image_csv, tmp_path):
    path, root = image_csv
    (root / "3.png").write_bytes(b"")
    base = [sys.executable, "-m", "pitfalls", "audit"]
    bad = subprocess.run(
        [
            *base,
            str(path),
            "--group",
            "pid",
            "--split",
            "split",
            "--image",
            "path",
            "--root",
            str(root),
            "--n-jobs",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "row 3" in bad.stderr
    ok = subprocess.run(
        [*base, str(clean_csv), "--group", "pid", "--split", "split", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["passed"] is True


@pytest.mark.parametrize("fmt", ["text", "md", "json"])
def test_checklist_command(capsys, fmt):
    assert main(["checklist", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert len(json.loads(out)["items"]) == 9
    else:
        assert "Data points for a patient are not distributed" in out
        assert "In multicenter studies" in out


def test_output_name_picks_the_format_when_format_is_not_given(clean_csv, capsys, tmp_path):
    for name, start in (("a.html", "<!DOCTYPE html>"), ("a.json", "{"),
                        ("a.md", "# pitfalls audit"), ("a.txt", "pitfalls audit")):  # fmt: skip
        assert run(capsys, audit_args(clean_csv, "--output", str(tmp_path / name)))[0] == 0
        assert (tmp_path / name).read_text(encoding="utf-8").startswith(start)
    # an explicit --format wins over the name
    run(capsys, audit_args(clean_csv, "--format", "json", "--output", str(tmp_path / "b.md")))
    json.loads((tmp_path / "b.md").read_text(encoding="utf-8"))
