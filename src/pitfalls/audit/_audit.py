"""``audit()``: read a manifest, prepare its columns once, run every applicable check.

The work reads as four phases: :func:`_plan` validates the arguments into an
:class:`AuditPlan`; :func:`_prepare` reads the manifest and factorises its columns
into an :class:`~pitfalls.audit._checks.AuditData` (hashing the images when there
are some); :func:`_run_checks` runs the registry; :func:`_render` assembles the
:class:`~pitfalls.audit.AuditReport`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._deprecation import renamed_kwargs
from .._manifest import ManifestError, check_columns, read_manifest
from .._validation import describe_values
from ._checks import (
    CHECKS,
    NEAR_MIN_DETAIL_CORRELATION,
    AuditData,
    Finding,
    NearSearch,
    group_split_pairs,
    split_role,
)
from ._hashing import hash_images, resolve_image_paths
from ._io import DEFAULT_MAX_PIXELS
from ._report import AuditReport, check_fail_on
from ._rows import embedding_names, with_embeddings

__all__ = ["audit"]

_CONTINUOUS_MIN_UNIQUE = 20
_CLASS_CHECKS = frozenset({"PF107", "PF201", "PF301", "PF302"})
# Orientation indices of ImageHashes: 0 as stored, 1 flipped left-right, 2-7 the rest.
_ORIENTATION_SETS = {"flip": (0, 1), "all": tuple(range(8)), "none": (0,)}
# Columns read as text from a CSV/TSV file: ids keep their leading zeros.
_TEXT_ROLES = ("group", "split", "label", "site", "image", "id")
_DEPRECATED: Any = "deprecated"  # default of parameters that are going away


@dataclass(frozen=True)
class AuditPlan:
    """What ``audit()`` was asked to do, validated (internal)."""

    columns: dict[str, str | None]  # role -> column: group, split, label, site, image, time, id
    features: tuple[str, ...]
    test_splits: tuple[str, ...] | None
    near: NearSearch
    root: str | os.PathLike | None
    n_jobs: int | None
    verbose: bool
    max_pixels: int = DEFAULT_MAX_PIXELS
    embeddings: Any = None  # audit(features=array): one embedding per row

    @property
    def text_columns(self) -> list[str]:
        return [c for role, c in self.columns.items() if role in _TEXT_ROLES and c is not None]

    @property
    def available(self) -> set[str]:
        roles = {role for role, column in self.columns.items() if column is not None}
        return roles | ({"features"} if self.features else set())


@renamed_kwargs(date="time", progress="verbose")
def audit(
    manifest: Any,
    *,
    group: str,
    split: str,
    label: str | None = None,
    site: str | None = None,
    image: str | None = None,
    root: str | os.PathLike | None = None,
    id: str | None = None,  # the manifest role (--id); shadows the builtin here only
    time: str | None = None,
    features: Sequence[str] | np.ndarray | None = None,
    test_splits: Sequence[str] | None = None,
    near_duplicates: bool = True,
    near_threshold: int = 10,
    near_detail_threshold: int = 40,
    near_min_correlation: float = NEAR_MIN_DETAIL_CORRELATION,
    near_orientations: str = "flip",
    fail_on: str = "high",
    n_jobs: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    verbose: bool = False,
    random_state: Any = _DEPRECATED,
) -> AuditReport:
    """Audit a data split for leakage, duplicates, site confounding and class balance.

    Run it on the manifest (one row per sample) after splitting and before every
    experiment, or in CI: it finds patients in several splits, identical and
    near-identical images or feature rows across splits, sites confounded with the
    label, and class balance that makes accuracy misleading. Each finding has a
    stable code (see :data:`pitfalls.audit.CHECKS`), a severity, maps to the
    paper's checklist (Table 4) and to Kapoor & Narayanan's leakage types, and
    carries the complete list of what it affects (:meth:`AuditReport.to_frame`).

    Parameters
    ----------
    manifest : DataFrame or path-like
        The manifest, or a CSV / TSV / Parquet file holding it. From a CSV/TSV file
        the id, group, split, label, site and image columns are read as text, as
        written (``007`` stays ``007`` and is not ``7``); a DataFrame's columns are
        used as they are.
    group : str
        Column with the patient (subject) id. Missing ids are an error.
    split : str
        Column with the split of each row (``"train"``, ``"val"``, ``"test"``, or
        fold numbers). Missing values are an error.
    label : str, optional
        Column with the class label: enables class-balance and confounding checks.
        A numeric label with more than 20 distinct non-integer values is taken as a
        regression target and the class checks are skipped.
    site : str, optional
        Column with the data source (site, scanner, hospital).
    image : str, optional
        Column with image paths (PNG, JPEG, TIFF, ``.npy``, DICOM): enables exact
        and near-duplicate image checks. Every image is decoded.
    root : path-like, optional
        Directory the image paths are relative to. A path that resolves outside it
        is refused, never read. Without ``root``, relative paths are taken relative
        to the manifest file's directory (or the working directory for a
        DataFrame) and nothing is refused.
    id : str, optional
        Column naming each row (a sample or image id; values must be unique). The
        findings name rows by it; without it, by the manifest's index label (the
        0-based data row of a file; the position when a DataFrame's index repeats).
    time : str, optional
        Column with the acquisition date or time (dates, or numbers such as days
        from baseline): reports test rows older than training rows (PF111) and tells
        whether the test set is a temporal one (PF204).
    features : sequence of str or array of shape (n_rows, n_dims), optional
        Columns whose values, taken as a row, identify a sample (e.g. radiomics
        features), or an array of embeddings (one row per manifest row): identical
        rows across splits are reported (PF103), and near-identical ones (PF109:
        closer than a small fraction of the typical distance between training rows,
        see :func:`pitfalls.audit.find_near_duplicate_rows`).
    test_splits : sequence of str, optional
        Split values that are test sets. By default recognised by name (``test``,
        ``holdout``, ``external``...).
    near_duplicates : bool, default=True
        Search near-duplicate images across splits.
    near_threshold : int, default=10
        Largest Hamming distance between 64-bit perceptual hashes for a pair to be
        a near-duplicate candidate. JPEG re-encoding, resizing, brightness and
        contrast changes and light noise stay within 0-4 bits, a one-pixel shift
        within about 10, crops of 3% within about 14; unrelated images are around
        32 bits apart, but images of one kind (chest X-rays) can come within 0-10.
    near_detail_threshold : int, default=40
        Largest Hamming distance between 256-bit detail hashes that confirms a
        candidate. In our tests re-encoded (JPEG quality 50), resized,
        brightness-shifted and noisy copies stayed within 38 bits and one-pixel
        shifts within 34, while crops of 3% reached 70 (missed at this setting);
        unrelated look-alike images (synthetic chest X-rays drawn from one
        template) fell under 40 bits for about 1 pair in 120, which is why every
        candidate is then verified on thumbnails (``near_min_correlation``). Raise
        it to catch cropped copies.
    near_min_correlation : float, default=0.75
        Verification of hash candidates on 64 x 64 thumbnails aligned to a
        fraction of a pixel (within 2 px). A pair is reported when either rule
        admits it: the fine detail (thumbnail minus a blurred copy, so the anatomy
        images of one kind share cancels) correlates at least this much, or, where
        neither image has more than one hash candidate, grey levels correlate at
        0.9 or more. Each pair's record names the rule that admitted it. Copies
        re-encoded, resized, brightened or shifted by a pixel stayed above it in
        our tests; unrelated look-alike synthetic chest X-rays passed for about
        0.14% of pairs (0.77% without verification). Raise it (e.g. 0.8) when
        images of one kind look very much alike, at the cost of missing some
        shifted copies.
    near_orientations : {"flip", "all", "none"}, default="flip"
        Orientations of the copies searched: ``"flip"`` the image as stored and
        flipped left-right (the most common augmentation; 2 searches), ``"all"``
        every flip and quarter turn (8 searches), ``"none"`` as stored only.
    fail_on : {"high", "medium", "low", "info", "never"}, default="high"
        Least severe finding that makes the audit fail (``AuditReport.passed``, the
        verdict of every rendering, the exit status of ``pitfalls audit``).
    n_jobs : int, optional
        Most image hashing workers (joblib). ``None`` (default): as many as pay
        off, up to the CPU count (one, threads or processes, from the pace of the
        first 32 images; threads only where a trial shows them faster, so never
        slower than one worker); inside
        ``joblib.parallel_config(backend="dask")`` the images are hashed on the
        cluster. An integer caps them (``-1``: all CPUs; never more than the CPUs).
        See :func:`pitfalls.audit.hash_images`.
    max_pixels : int, default=80_000_000
        Largest image decoded, in pixels (voxels for a volume), read from the file
        header before decoding; a larger image is an error naming its path and size.
    verbose : bool, default=False
        Progress bar on stderr while hashing images.
    random_state : object, optional
        Deprecated and unused: every check is deterministic. Passing it warns.

    Returns
    -------
    AuditReport

    Raises
    ------
    ManifestError
        One-line message naming the file, column, row or value: unreadable file,
        unknown column, missing group or split, repeated row ids, unreadable image,
        an image path outside ``root``.

    Warns
    -----
    FutureWarning
        When a deprecated parameter is passed: ``date`` (renamed ``time``),
        ``progress`` (renamed ``verbose``), ``random_state`` (unused).

    Notes
    -----
    Wherever a patient column is given the patient is the unit: site-label
    confounding (PF201) and the site mix between splits (PF202) are tested on
    patients (each patient counts once per site and label, or split and site, it
    has), and the class and split findings count patients beside rows.

    Severity thresholds: class imbalance (largest / smallest class, in rows) is low
    from 1.5 and medium from 4; site-label confounding (bias-corrected Cramér's V,
    p < 0.05) is low from 0.1, medium from 0.3, high from 0.5; site mix between
    splits (chi-square p < 0.01) is low from V = 0.1 and medium from 0.2; a split is
    tiny under 30 rows or 10 groups, a class under 5 rows in a split.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.audit import audit
    >>> df = pd.DataFrame({
    ...     "patient": ["p1", "p1", "p2", "p3", "p4", "p5"],
    ...     "split": ["train", "test", "train", "train", "test", "test"],
    ...     "y": [0, 0, 1, 0, 1, 0],
    ... })
    >>> report = audit(df, group="patient", split="split", label="y")
    >>> report.passed
    False
    >>> report.findings[["code", "severity", "n_affected"]].head(2)
        code severity  n_affected
    0  PF101     high           2
    1  PF303   medium           6
    >>> report.to_frame("PF101")[["code", "item", "row", "group", "split"]]
        code  item  row group  split
    0  PF101     1    0    p1  train
    1  PF101     1    1    p1   test
    """
    if random_state is not _DEPRECATED:
        warnings.warn(
            "audit(random_state=) is deprecated and unused (every check is deterministic); "
            "it will be removed in a future version: drop the argument.",
            FutureWarning,
            stacklevel=2,
        )
    try:
        check_fail_on(fail_on)
    except ValueError as exc:
        raise ManifestError(str(exc)) from None
    plan = _plan(
        {"group": group, "split": split, "label": label, "site": site, "image": image},
        id_column=id,
        time=time,
        features=features,
        test_splits=test_splits,
        near=(near_duplicates, near_threshold, near_detail_threshold, near_min_correlation),
        near_orientations=near_orientations,
        root=root,
        n_jobs=n_jobs,
        verbose=verbose,
        max_pixels=max_pixels,
    )
    data = _prepare(manifest, plan)
    findings, checks_run, checks_skipped = _run_checks(data, plan)
    return _render(data, plan, findings, checks_run, checks_skipped, fail_on)


# --- validate -----------------------------------------------------------------------


def _plan(
    roles: dict[str, str | None],
    *,
    id_column: str | None,
    time: str | None,
    features: Sequence[str] | np.ndarray | None,
    test_splits: Sequence[str] | None,
    near: tuple[bool, int, int, float],
    near_orientations: str,
    root: str | os.PathLike | None,
    n_jobs: int | None,
    verbose: bool,
    max_pixels: int,
) -> AuditPlan:
    """Validate the arguments that do not need the manifest."""
    if test_splits is not None:
        test_splits = [test_splits] if isinstance(test_splits, str) else test_splits
    embeddings = None
    if features is not None and not isinstance(features, str) and np.ndim(features) == 2:
        # an array of embeddings: columns embedding_0... are added to the manifest
        embeddings = features
        features = embedding_names(np.shape(features)[1])
    assert not isinstance(features, np.ndarray)
    return AuditPlan(
        columns={**roles, "time": time, "id": id_column},
        features=tuple([features] if isinstance(features, str) else (features or ())),
        test_splits=None if test_splits is None else tuple(str(t) for t in test_splits),
        near=_near_search(*near, near_orientations),
        root=root,
        n_jobs=n_jobs,
        verbose=verbose,
        max_pixels=max_pixels,
        embeddings=embeddings,
    )


def _near_search(
    enabled: bool, threshold: int, detail_threshold: int, min_correlation: float, orientations: str
) -> NearSearch:
    if not 0 <= threshold <= 32:
        raise ManifestError(
            f"near_threshold={threshold} is outside [0, 32]; use e.g. 10 (unrelated "
            "images differ by about 32 of 64 bits)."
        )
    if not 0 <= detail_threshold <= 128:
        raise ManifestError(
            f"near_detail_threshold={detail_threshold} is outside [0, 128]; use e.g. "
            "40 (unrelated images differ by about 128 of 256 bits)."
        )
    if not 0.0 < min_correlation <= 1.0:
        raise ManifestError(
            f"near_min_correlation={min_correlation} is outside (0, 1]; use e.g. 0.75."
        )
    if orientations not in _ORIENTATION_SETS:
        raise ManifestError(
            f"near_orientations={orientations!r} is not one of "
            f"{', '.join(map(repr, _ORIENTATION_SETS))}."
        )
    return NearSearch(
        enabled=bool(enabled),
        threshold=threshold,
        detail_threshold=detail_threshold,
        min_correlation=min_correlation,
        orientations=_ORIENTATION_SETS[orientations],
    )


# --- prepare ------------------------------------------------------------------------


def _prepare(manifest: Any, plan: AuditPlan) -> AuditData:
    """Read and check the manifest, factorise its columns, hash its images."""
    df = read_manifest(manifest, text_columns=plan.text_columns)
    if df.shape[0] == 0:
        raise ManifestError("the manifest has no rows.")
    if plan.embeddings is not None:
        try:
            df = with_embeddings(df, plan.embeddings)[0]
        except ValueError as exc:
            raise ManifestError(str(exc)) from None
    columns = plan.columns
    check_columns(df, columns, required_values=("group", "split", "site", "image", "id"))
    for column in plan.features:
        check_columns(df, {"features": column})
    data = _factorise(df, plan)
    if plan.features:
        data.feature_hash = _feature_keys(df, list(plan.features))
        # PF109's near-duplicate row search reads these
        data.extra.update(features=list(plan.features), n_jobs=plan.n_jobs)
    if columns["time"] is not None:
        data.time = _parse_times(df[columns["time"]], columns["time"], data.row_ids)
    if columns["image"] is not None:
        _hash(data, manifest, plan)
    return data


def _factorise(df: pd.DataFrame, plan: AuditPlan) -> AuditData:
    columns = plan.columns
    assert columns["group"] is not None and columns["split"] is not None
    group_codes, group_names = pd.factorize(df[columns["group"]])
    split_codes, split_names = pd.factorize(df[columns["split"]].astype(str), sort=True)
    data = AuditData(
        df=df,
        columns=dict(columns),
        row_ids=_row_ids(df, columns["id"]),
        group=group_codes.astype(np.int64),
        group_names=group_names,
        split=split_codes.astype(np.int64),
        split_names=split_names,
        split_roles=_split_roles(split_names, plan.test_splits, columns["split"]),
        near=plan.near,
    )
    if columns["label"] is not None:
        data.label, data.label_names = _codes(df[columns["label"]])
        # Judged on the distinct values: the same answer as on every row, much faster.
        data.label_continuous = _looks_continuous(pd.Series(data.label_names))
    if columns["site"] is not None:
        data.site, data.site_names = _codes(df[columns["site"]])
    return data


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 where missing) and the values as given, sorted when they sort."""
    try:
        codes, names = pd.factorize(values, sort=True)
    except TypeError:  # values of mixed types (7 and "7") do not sort: keep first-seen order
        codes, names = pd.factorize(values)
    return codes.astype(np.int64), names


def _row_ids(df: pd.DataFrame, id_column: str | None) -> np.ndarray:
    """The name of each row: the id column (unique), else the index label, else the position."""
    if id_column is None:
        index = df.index if df.index.is_unique else pd.RangeIndex(df.shape[0])
        return index.to_numpy(dtype=object)
    ids = df[id_column]
    repeated = ids[ids.duplicated(keep=False)]
    if repeated.size:
        raise ManifestError(
            f"id column {id_column!r} repeats {repeated.nunique()} value(s) "
            f"({describe_values(repeated.unique(), limit=3)}); each row needs its own id: "
            "give a column that names each row (e.g. the image file)."
        )
    return ids.to_numpy(dtype=object)


def _split_roles(
    split_names: pd.Index, test_splits: tuple[str, ...] | None, column: str | None
) -> list[str | None]:
    if test_splits is None:
        return [split_role(name) for name in split_names]
    unknown = sorted(set(test_splits) - set(split_names))
    if unknown:
        raise ManifestError(
            f"test_splits={describe_values(unknown)} not found in split column "
            f"{column!r} (values: {describe_values(split_names)})."
        )
    # Named test splits are the only ones; a split called "test" but not named is not.
    return [
        "test"
        if name in test_splits
        else (None if split_role(name) == "test" else split_role(name))
        for name in split_names
    ]


def _looks_continuous(values: pd.Series) -> bool:
    """A regression target: numbers (or numeric text) with over 20 distinct non-integers."""
    present = values.dropna()
    if pd.api.types.is_bool_dtype(present):
        return False
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():  # some value is not a number: classes
        return False
    finite = numbers.to_numpy(dtype=float)
    return bool(
        np.unique(finite).size > _CONTINUOUS_MIN_UNIQUE and np.any(finite != np.round(finite))
    )


def _feature_keys(df: pd.DataFrame, features: list[str]) -> np.ndarray:
    # One 64-bit hash per row (pandas' vectorised row hashing), then dense codes;
    # rows with every feature missing carry no identity and get -1.
    hashed = pd.util.hash_pandas_object(df[features], index=False).to_numpy()
    codes = pd.factorize(hashed)[0].astype(np.int64)
    codes[df[features].isna().all(axis=1).to_numpy()] = -1
    return codes


def _parse_times(values: pd.Series, column: str, row_ids: np.ndarray) -> np.ndarray:
    """Dates as datetime64[ns] (NaT where missing), or numbers (days, years) as float."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float)
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:  # "mixed": parse each value on its own, without pandas' format-guess warning
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = (parsed.isna() & values.notna()).to_numpy()
    if bad.any():
        raise ManifestError(
            f"time column {column!r} has {int(bad.sum())} value(s) that are not dates or "
            f"numbers (e.g. {describe_values(values[bad], limit=3)} in rows "
            f"{describe_values(row_ids[bad], limit=3)})."
        )
    return parsed.to_numpy(dtype="datetime64[ns]")


def _hash(data: AuditData, manifest: Any, plan: AuditPlan) -> None:
    """Resolve the image paths (refusing any outside ``root``) and hash every image."""
    column = plan.columns["image"]
    assert column is not None
    values = data.df[column]
    if plan.root is None and not isinstance(manifest, pd.DataFrame):
        base_dir = Path(manifest).parent
        paths = [p if Path(str(p)).is_absolute() else base_dir / str(p) for p in values]
    else:
        paths = list(values)
    rows = list(data.row_ids)
    resolved = resolve_image_paths(paths, root=plan.root, column=column, rows=rows)
    data.images = hash_images(
        resolved,
        column=column,
        rows=rows,
        root=plan.root,
        max_pixels=plan.max_pixels,
        n_jobs=plan.n_jobs,
        verbose=plan.verbose,
    )
    data.image_paths = [str(p) for p in resolved]


# --- run ----------------------------------------------------------------------------


def _run_checks(
    data: AuditData, plan: AuditPlan
) -> tuple[list[Finding], list[str], dict[str, str]]:
    """Every registered check whose columns were given, in code order."""
    findings: list[Finding] = []
    run: list[str] = []
    skipped: dict[str, str] = {}
    for code, check in sorted(CHECKS.items()):
        missing = [need for need in check.needs if need not in plan.available]
        if missing:
            skipped[code] = "needs " + " and ".join(f"{m}=" for m in missing)
            continue
        if data.label_continuous and code in _CLASS_CHECKS:
            skipped[code] = (
                f"label {plan.columns['label']!r} looks continuous (a regression target)"
            )
            continue
        findings.extend(check.func(data))
        run.append(code)
    return findings, run, skipped


# --- render -------------------------------------------------------------------------


def _render(
    data: AuditData,
    plan: AuditPlan,
    findings: list[Finding],
    checks_run: list[str],
    skipped: dict[str, str],
    fail_on: str,
) -> AuditReport:
    return AuditReport(
        findings,
        fail_on=fail_on,
        summary=_summary(data, plan),
        checks_run=checks_run,
        checks_skipped=skipped,
        label_by_split=_by_split(data, data.label, data.label_names),
        site_by_split=_by_split(data, data.site, data.site_names),
        label_by_site=_label_by_site(data),
        image_paths=data.image_paths,
        thumbnails=_thumbnails(data, findings),
    )


def _summary(data: AuditData, plan: AuditPlan) -> dict[str, Any]:
    n_splits = len(data.split_names)
    rows = np.bincount(data.split, minlength=n_splits)
    groups = np.bincount(group_split_pairs(data) % n_splits, minlength=n_splits)
    columns = {k: v for k, v in data.columns.items() if v is not None}
    if plan.features:
        columns["features"] = ", ".join(plan.features)
    order = data.split_order()
    return {
        "n_rows": data.n_rows,
        "n_groups": len(data.group_names),
        "rows_per_split": {data.split_name(s): int(rows[s]) for s in order},
        "groups_per_split": {data.split_name(s): int(groups[s]) for s in order},
        "split_roles": {data.split_name(s): data.split_roles[s] for s in order},
        "columns": columns,
    }


def _crosstab_frame(
    row_codes: np.ndarray, n_rows: int, codes: np.ndarray, names: pd.Index
) -> np.ndarray:
    keep = (codes >= 0) & (row_codes >= 0)
    n_cols = len(names)
    table = np.bincount(row_codes[keep] * n_cols + codes[keep], minlength=n_rows * n_cols)
    return table.reshape(n_rows, n_cols)


def _by_split(
    data: AuditData, codes: np.ndarray | None, names: pd.Index | None
) -> pd.DataFrame | None:
    """Rows per split (in reading order) and class or site."""
    if codes is None or names is None:
        return None
    table = _crosstab_frame(data.split, len(data.split_names), codes, names)
    order = data.split_order()
    return pd.DataFrame(
        table[order],
        index=pd.Index([data.split_name(s) for s in order], name="split"),
        columns=pd.Index([_text(v) for v in names]),
    )


def _label_by_site(data: AuditData) -> pd.DataFrame | None:
    """Rows per site and class (what PF201 tests, on patients)."""
    if data.site is None or data.site_names is None:
        return None
    if data.label is None or data.label_names is None or data.label_continuous:
        return None
    table = _crosstab_frame(data.site, len(data.site_names), data.label, data.label_names)
    return pd.DataFrame(
        table,
        index=pd.Index([_text(v) for v in data.site_names], name="site"),
        columns=pd.Index([_text(v) for v in data.label_names]),
    )


def _text(value: Any) -> str:
    return str(value.item() if isinstance(value, np.generic) else value)


def _thumbnails(data: AuditData, findings: list[Finding]) -> dict[str, np.ndarray]:
    """Thumbnails of the images the HTML report shows side by side, by row id.

    Taken from what hashing read (the 64 x 64 verification thumbnail of each image,
    a volume's middle slice): the report never opens an image file again, which may
    have changed, or become a link, since.
    """
    from ._html import MAX_PREVIEW_PAIRS, display_thumbnail, image_pairs

    if data.images is None or data.images.thumbnail is None:
        return {}
    position = {str(r): p for p, r in enumerate(data.row_ids)}
    wanted = {
        row
        for finding in findings
        for a, b, _ in image_pairs(finding, MAX_PREVIEW_PAIRS)
        for row in (a, b)
    }
    return {row: display_thumbnail(data.images.thumbnail[position[row]]) for row in wanted}
