"""Plain-text and Markdown tables without a ``tabulate`` dependency (one place for all reports)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["format_number", "frame_to_markdown", "markdown_table", "text_table"]


def format_number(value: object, digits: int = 3) -> str:
    """Format a table cell: floats to ``digits`` decimals, NaN as ``"nan"``.

    Examples
    --------
    >>> from pitfalls._tables import format_number
    >>> format_number(0.94161), format_number(float("nan")), format_number("x")
    ('0.942', 'nan', 'x')
    """
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, two spaces between columns.

    Examples
    --------
    >>> from pitfalls._tables import text_table
    >>> print(text_table(["metric", "value"], [["accuracy", "0.9"], ["f1", "0.75"]]))
    metric    value
    accuracy    0.9
    f1         0.75
    """
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(cells[0]).ljust(widths[0])]
        parts += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """GitHub-flavoured Markdown table; numeric columns right-aligned.

    Examples
    --------
    >>> from pitfalls._tables import markdown_table
    >>> print(markdown_table(["metric", "value"], [["f1", "0.75"]]))
    | metric | value |
    | :--- | ---: |
    | f1 | 0.75 |
    """

    def escape(cell: object) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(escape(h) for h in header) + " |"]
    lines.append("| " + " | ".join([":---"] + ["---:"] * (len(header) - 1)) + " |")
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def frame_to_markdown(frame: Any, *, index: str | None = None) -> str:
    """A DataFrame as a Markdown table; with ``index``, the index is the first column.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls._tables import frame_to_markdown
    >>> print(frame_to_markdown(pd.DataFrame({"a": [1], "b": ["x|y"]})))
    | a | b |
    | :--- | ---: |
    | 1 | x\\|y |
    >>> print(frame_to_markdown(pd.DataFrame({"n": [3]}, index=["train"]), index="split"))
    | split | n |
    | :--- | ---: |
    | train | 3 |
    """
    header = [str(c) for c in frame.columns]
    rows = [list(row) for row in frame.itertuples(index=index is not None)]
    if index is not None:
        header = [index, *header]
    return markdown_table(header, rows)
