"""``pitfalls audit`` at its edges: outputs that are inputs, bad tables, pipes, encodings, details."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pitfalls.audit import AFFECTED_COLUMNS, audit
from pitfalls.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def manifest(tmp_path):
    n = 40
    df = pd.DataFrame(
        {
            "image_id": [f"{i:05d}" for i in range(n)],
            "pid": [f"{i // 2:04d}" for i in range(n)],
            "split": np.array(["train", "test"])[np.arange(n) % 2],  # every patient leaks
            "y": (np.arange(n) // 4) % 2,
        }
    )
    path = tmp_path / "manifest.csv"
    df.to_csv(path, index=False)
    return path


def run(capsys, *argv):
    status = main(["audit", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(err, pattern):
    import re

    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("pitfalls audit: error: ")
    assert re.search(pattern, err), err


def cli(*argv, env=None, **kwargs):
    environ = {**os.environ, "PYTHONPATH": SRC, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pitfalls", "audit", *map(str, argv)],
        capture_output=True,
        env=environ,
        timeout=120,
        **kwargs,
    )


@pytest.mark.parametrize("flag", ["--output", "--details"])
def test_output_that_is_the_manifest_is_refused(manifest, capsys, flag):
    before = manifest.read_bytes()
    link = manifest.parent / "link.csv"
    link.symlink_to(manifest)
    for target in (manifest, link, manifest.parent / "." / "manifest.csv"):
        status, out, err = run(capsys, manifest, "--group", "pid", "--split", "split", flag, target)
        assert status == 2 and out == ""
        one_line_error(err, rf"{flag} '.*' is the manifest; writing there would overwrite an input")
    assert manifest.read_bytes() == before


def test_output_that_is_an_input_image_or_the_details_file_is_refused(tmp_path, capsys):
    root = tmp_path / "img"
    root.mkdir()
    for i in range(2):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(root / f"{i}.png")
    path = tmp_path / "m.csv"
    pd.DataFrame({"pid": ["a", "b"], "split": ["train", "test"], "p": ["0.png", "1.png"]}).to_csv(
        path, index=False
    )
    before = (root / "1.png").read_bytes()
    argv = [path, "--group", "pid", "--split", "split", "--image", "p", "--root", root]
    status, out, err = run(capsys, *argv, "--n-jobs", 1, "--output", root / "1.png")
    assert status == 2 and out == ""
    one_line_error(err, r"--output '.*1.png' is the input image '.*1.png'")
    assert (root / "1.png").read_bytes() == before
    same = tmp_path / "r.csv"
    status, _, err = run(
        capsys, path, "--group", "pid", "--split", "split", "--output", same, "--details", same
    )
    assert status == 2
    one_line_error(err, r"--output '.*r.csv' and --details '.*r.csv' are the same file")


def test_csv_with_two_columns_of_one_name_is_an_error(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("pid,split,pid\na,train,b\nc,test,d\n")
    status, out, err = run(capsys, path, "--group", "pid", "--split", "split")
    assert status == 2 and out == ""
    one_line_error(
        err, r"has several columns named 'pid'; rename them so that each column name is unique"
    )


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        (
            "m.xlsx",
            b"PK\x03\x04 workbook",
            r"has suffix '.xlsx', not a format read here; save it as CSV",
        ),
        ("m.csv", b"PK\x03\x04 workbook", r"is a zip archive \(an Excel .xlsx or OpenDocument"),
        ("m.csv", b"\xd0\xcf\x11\xe0 old", r"is an Excel 97-2003 workbook, not a text table"),
        ("m.json", b'{"pid": 1}', r"has suffix '.json', not a format read here"),
    ],
)
def test_non_table_formats_are_errors_naming_the_accepted_ones(
    tmp_path, capsys, name, content, pattern
):
    path = tmp_path / name
    path.write_bytes(content)
    status, out, err = run(capsys, path, "--group", "pid", "--split", "split")
    assert status == 2 and out == ""
    one_line_error(err, pattern)
    assert "Parquet (.parquet, .pq)" in err


def test_compressed_csv_is_read(manifest, tmp_path, capsys):
    gz = tmp_path / "m.csv.gz"
    pd.read_csv(manifest, dtype=str).to_csv(gz, index=False)
    assert run(capsys, gz, "--group", "pid", "--split", "split")[0] == 1


def test_json_into_a_closed_pipe_exits_normally(tmp_path):
    # Far more than a pipe buffer (64 KiB) of JSON, read 10 bytes of: `| head -c 10`.
    n = 4000
    path = tmp_path / "big.csv"
    pd.DataFrame({"pid": np.arange(n) // 2, "split": np.tile(["train", "test"], n // 2)}).to_csv(
        path, index=False
    )
    command = (
        f'"{sys.executable}" -m pitfalls audit "{path}" --group pid --split split '
        f'--format json 2>"{tmp_path / "err"}" | head -c 10; exit ${{PIPESTATUS[0]}}'
    )
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=120,
    )
    err = (tmp_path / "err").read_text()
    assert done.stdout == b'{\n  "schem'
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert err == ""
    assert done.returncode == 1  # the audit's own verdict (patients in two splits)


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json"])
def test_ascii_stdout_with_non_ascii_ids(tmp_path, fmt):
    path = tmp_path / "m.csv"
    pd.DataFrame({"pid": ["Zoë", "Zoë", "Łukasz"], "split": ["train", "test", "test"]}).to_csv(
        path, index=False
    )
    done = cli(
        path,
        "--group",
        "pid",
        "--split",
        "split",
        "--format",
        fmt,
        env={"PYTHONIOENCODING": "ascii"},
    )
    assert b"Traceback" not in done.stderr and done.stderr == b"", done.stderr.decode()
    assert done.returncode == 1
    out = done.stdout.decode("ascii")  # nothing but ASCII came out
    if fmt == "json":
        assert json.loads(out)["findings"][0]["affected"][0]["group"] == "Zoë"
    elif fmt == "html":
        assert "Zo&#235;" in out  # a character reference: the page still reads Zoë
    else:
        assert "Zo\\xeb" in out


def test_details_csv_holds_every_item(manifest, tmp_path, capsys):
    details = tmp_path / "details.csv"
    status, out, _ = run(
        capsys,
        manifest,
        "--group",
        "pid",
        "--split",
        "split",
        "--label",
        "y",
        "--id",
        "image_id",
        "--details",
        details,
    )
    assert status == 1 and "and 15 more patients" in out
    table = pd.read_csv(details, dtype=str, keep_default_na=False)
    assert table.columns.tolist() == ["code", *AFFECTED_COLUMNS]
    leaked = table[table.code == "PF101"]
    assert leaked.row.tolist() == [f"{i:05d}" for i in range(40)]  # ids as written
    assert leaked.group.tolist() == [f"{i // 2:04d}" for i in range(40)]
    expected = audit(manifest, group="pid", split="split", label="y", id="image_id").to_frame()
    assert len(table) == len(expected)
    assert table.code.tolist() == expected.code.tolist()


def test_time_option_and_deprecated_date(tmp_path, capsys):
    path = tmp_path / "m.csv"
    pd.DataFrame(
        {
            "pid": ["a", "b", "c", "d"],
            "split": ["train", "train", "test", "test"],
            "when": ["2021-01-01", "2021-06-01", "2021-03-01", "2022-01-01"],
        }
    ).to_csv(path, index=False)
    status, out, err = run(capsys, path, "--group", "pid", "--split", "split", "--time", "when")
    assert status == 0 and "PF111 test-older-than-train" in out and err == ""
    _, old, err = run(capsys, path, "--group", "pid", "--split", "split", "--date", "when")
    assert old == out
    assert err == "pitfalls audit: warning: --date is deprecated; use --time.\n"


def test_fail_on_level_is_the_headline_verdict(manifest, capsys):
    df = pd.read_csv(manifest, dtype=str)
    df["pid"] = df["image_id"]  # no leak; a test split of 20 rows is tiny (medium)
    df.to_csv(manifest, index=False)
    status, out, _ = run(capsys, manifest, "--group", "pid", "--split", "split")
    assert status == 0 and out.startswith("pitfalls audit: PASSED")
    status, out, _ = run(
        capsys, manifest, "--group", "pid", "--split", "split", "--fail-on", "medium"
    )
    assert status == 1 and out.startswith("pitfalls audit: FAILED (1 medium, failing on medium)")


def test_text_and_json_agree_on_the_example_counts(manifest, capsys):
    _, text, _ = run(capsys, manifest, "--group", "pid", "--split", "split")
    _, out, _ = run(capsys, manifest, "--group", "pid", "--split", "split", "--format", "json")
    doc = json.loads(out)
    [leak] = [f for f in doc["findings"] if f["code"] == "PF101"]
    assert leak["n_items"] == 20 and len(leak["examples"]) == 5 and len(leak["affected"]) == 40
    assert f"and {20 - 5} more patients" in text
    frame = pd.read_json(io.StringIO(json.dumps(leak["affected"])), dtype=False)
    assert frame.group.tolist() == [f"{i // 2:04d}" for i in range(40)]
