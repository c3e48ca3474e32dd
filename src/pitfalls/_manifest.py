"""Read a manifest (one row per sample) and check the columns a caller names.

A manifest is a pandas DataFrame or a CSV / TSV / Parquet file with one row per
sample and columns for the group (patient), label, split, site and image path.
Column names are always parameters.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ._validation import describe_values, missing_positions
from .exceptions import ManifestError  # defined there; re-exported for existing imports

__all__ = ["ManifestError", "check_columns", "read_manifest"]

ManifestLike = pd.DataFrame | str | os.PathLike


def read_manifest(manifest: Any, *, text_columns: Collection[str] = ()) -> pd.DataFrame:
    """Return the manifest as a DataFrame, reading CSV, TSV or Parquet files.

    Parameters
    ----------
    manifest : DataFrame or path-like
        A DataFrame is returned unchanged (not copied). A path is read by its
        suffix: ``.csv``, ``.tsv``/``.tab``, ``.txt`` (separator sniffed),
        ``.parquet``/``.pq``, and the text formats compressed (``.csv.gz``...). A
        ``.csv`` that reads as one column with ``;``, a tab or ``|`` in its header (a
        spreadsheet saved in a locale that separates with ``;``) is read again with
        that separator.
    text_columns : collection of str, default=()
        Columns of a CSV/TSV file read as text, as written: ids such as ``007`` keep
        their leading zeros and are not merged with ``7``. Names absent from the
        file are ignored (the caller checks its columns). Parquet files and
        DataFrames keep their own types.

    Returns
    -------
    DataFrame

    Raises
    ------
    ManifestError
        If the file is missing, empty, not a table (an Excel workbook or any format
        other than CSV/TSV/Parquet), has two columns of the same name, or has no rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls._manifest import read_manifest
    >>> df = pd.DataFrame({"patient": ["a", "b"]})
    >>> read_manifest(df) is df
    True
    >>> read_manifest("no/such/file.csv")
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.ManifestError: manifest file 'no/such/file.csv' does not exist.
    """
    if isinstance(manifest, pd.DataFrame):
        return manifest
    if not isinstance(manifest, str | os.PathLike):
        raise ManifestError(
            f"manifest must be a pandas DataFrame or a path to a CSV/TSV/Parquet file; "
            f"got {type(manifest).__name__}."
        )
    path = Path(manifest)
    if not path.exists():
        raise ManifestError(f"manifest file '{path}' does not exist.")
    if path.is_dir():
        raise ManifestError(f"manifest '{path}' is a directory; give the CSV/Parquet file.")
    if path.stat().st_size == 0:
        raise ManifestError(f"manifest file '{path}' is empty.")
    suffix = _table_suffix(path)
    dtype = dict.fromkeys(text_columns, str)
    try:
        if suffix in {".parquet", ".pq"}:
            df = pd.read_parquet(path)
        elif suffix in {".tsv", ".tab"}:
            df = _read_text_table(path, "\t", dtype)
        else:
            df = _read_text_table(path, None if suffix == ".txt" else ",", dtype)
            separator = _other_separator(df)
            if separator is not None:  # e.g. a spreadsheet saved in a ';' locale
                df = _read_text_table(path, separator, dtype)
    except ImportError as exc:
        raise ManifestError(
            f"reading '{path}' needs pyarrow; install it with: pip install \"pitfalls[io]\""
        ) from exc
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        OSError,
        ValueError,
    ) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ManifestError(f"manifest file '{path}' is not a readable table ({reason}).") from exc
    if df.shape[0] == 0:
        raise ManifestError(f"manifest file '{path}' has a header but no rows.")
    return df


_TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
_TABLE_SUFFIXES = (*_TEXT_SUFFIXES, ".parquet", ".pq")
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
# Leading bytes of formats that pandas' CSV reader would turn into garbage columns.
_NOT_TEXT = {
    b"PK\x03\x04": "a zip archive (an Excel .xlsx or OpenDocument workbook?)",
    b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook",
    b"PAR1": "a Parquet file",
}


def _table_suffix(path: Path) -> str:
    """The format suffix of a manifest file; anything but CSV/TSV/Parquet is refused."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSIONS and suffixes[-2] in _TEXT_SUFFIXES:
        return suffixes[-2]  # pandas decompresses by the last suffix
    suffix = suffixes[-1] if suffixes else ""
    accepted = "CSV (.csv), TSV (.tsv, .tab), text (.txt) or Parquet (.parquet, .pq)"
    if suffix not in _TABLE_SUFFIXES:
        raise ManifestError(
            f"manifest file '{path}' has suffix {suffix or 'none'!r}, not a format read here; "
            f"save it as {accepted}."
        )
    if suffix in _TEXT_SUFFIXES:
        with path.open("rb") as handle:
            head = handle.read(4)
        for magic, what in _NOT_TEXT.items():
            if head.startswith(magic):
                raise ManifestError(
                    f"manifest file '{path}' is {what}, not a text table; save it as {accepted}."
                )
    return suffix


def _read_text_table(path: Path, sep: str | None, dtype: Mapping[str, type]) -> pd.DataFrame:
    """Read a delimited file, refusing two columns of one name (pandas would rename one)."""
    engine = "python" if sep is None else "c"
    header = pd.read_csv(path, sep=sep, engine=engine, header=None, nrows=1, dtype=str)
    names = [str(v) for v in header.iloc[0] if pd.notna(v)] if header.shape[0] else []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ManifestError(
            f"manifest file '{path}' has several columns named "
            f"{describe_values(repeated)}; rename them so that each column name is unique."
        )
    return pd.read_csv(path, sep=sep, engine=engine, dtype=dict(dtype) or None)


def _other_separator(df: pd.DataFrame) -> str | None:
    """The separator of a table read as one column because it is not a comma."""
    if df.shape[1] != 1:
        return None
    header = str(df.columns[0])
    return next((sep for sep in (";", "\t", "|") if sep in header), None)


def check_columns(
    df: pd.DataFrame,
    columns: Mapping[str, str | None],
    *,
    required_values: tuple[str, ...] = (),
) -> None:
    """Check that each named column exists (and, for some roles, has no missing values).

    Parameters
    ----------
    df : DataFrame
        The manifest.
    columns : mapping of role -> column name
        E.g. ``{"group": "patient_id", "label": None}``; ``None`` entries are skipped.
    required_values : tuple of str
        Roles whose column must not contain missing values (e.g. ``("group",)``).

    Raises
    ------
    ManifestError
        Naming the role, the column and the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls._manifest import check_columns
    >>> df = pd.DataFrame({"patient": ["a", None], "y": [0, 1]})
    >>> check_columns(df, {"label": "y"})
    >>> check_columns(df, {"group": "subject"})
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.ManifestError: group='subject' is not a column of the manifest; available columns: 'patient', 'y'.
    >>> check_columns(df, {"group": "patient"}, required_values=("group",))
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.ManifestError: group column 'patient' has 1 missing value(s) (rows 1); every row needs one.
    """
    for role, col in columns.items():
        if col is None:
            continue
        if col not in df.columns:
            raise ManifestError(
                f"{role}={col!r} is not a column of the manifest; available columns: "
                f"{describe_values(map(str, df.columns), limit=20)}."
            )
        if role in required_values:
            missing = missing_positions(df[col].to_numpy())
            if missing.size:
                rows = describe_values(df.index[missing])
                raise ManifestError(
                    f"{role} column {col!r} has {missing.size} missing value(s) (rows {rows}); "
                    "every row needs one."
                )
