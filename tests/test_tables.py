"""The one table renderer every report uses (metrics, baselines, audit, reproduction)."""

from __future__ import annotations

import pandas as pd

from pitfalls._tables import frame_to_markdown, markdown_table, text_table


def test_frame_to_markdown_shape_and_escaping():
    frame = pd.DataFrame({"a": [1, 2], "b|c": ["x|y", "z\nw"]})
    lines = frame_to_markdown(frame).splitlines()
    assert len(lines) == 4  # a newline inside a cell must not break the row
    assert lines[0] == "| a | b\\|c |"
    assert lines[1] == "| :--- | ---: |"
    assert lines[2] == "| 1 | x\\|y |"
    assert all(line.count(" | ") == 1 for line in lines)


def test_frame_to_markdown_with_index_column():
    frame = pd.DataFrame({"0": [3, 1], "1": [2, 0]}, index=["train", "test"])
    assert frame_to_markdown(frame, index="split").splitlines() == [
        "| split | 0 | 1 |",
        "| :--- | ---: | ---: |",
        "| train | 3 | 2 |",
        "| test | 1 | 0 |",
    ]


def test_markdown_and_text_tables_agree_on_cells():
    header, rows = ["metric", "value"], [["accuracy", "0.9"], ["f1", "0.75"]]
    md = markdown_table(header, rows).splitlines()
    text = text_table(header, rows).splitlines()
    assert len(md) == len(text) + 1  # Markdown adds the alignment rule
    for md_line, text_line in zip(md[2:], text[1:], strict=True):
        assert md_line.strip("| ").split(" | ") == text_line.split()


def test_single_column_rule():
    assert markdown_table(["F1"], [["0.5"]]).splitlines()[1] == "| :--- |"
