"""``audit()``: read a manifest, prepare its columns once, run every applicable check."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._manifest import ManifestError, check_columns, read_manifest
from .._validation import describe_values
from ._checks import CHECKS, NEAR_MIN_DETAIL_CORRELATION, AuditData, Finding, split_role
from ._hashing import hash_images, resolve_image_paths
from ._io import DEFAULT_MAX_PIXELS
from ._report import AuditReport
from ._rows import with_embeddings

__all__ = ["audit"]

_CONTINUOUS_MIN_UNIQUE = 20
_CLASS_CHECKS = frozenset({"PF107", "PF201", "PF301", "PF302"})
# Orientation indices of ImageHashes: 0 as stored, 1 flipped left-right, 2-7 the rest.
_ORIENTATION_SETS = {"flip": (0, 1), "all": tuple(range(8)), "none": (0,)}


def audit(
    manifest: Any,
    *,
    group: str,
    split: str,
    label: str | None = None,
    site: str | None = None,
    image: str | None = None,
    features: Sequence[str] | np.ndarray | None = None,
    root: str | os.PathLike | None = None,
    date: str | None = None,
    test_splits: Sequence[str] | None = None,
    near_duplicates: bool = True,
    near_threshold: int = 10,
    near_detail_threshold: int = 40,
    near_min_correlation: float = NEAR_MIN_DETAIL_CORRELATION,
    near_orientations: str = "flip",
    random_state: Any = None,
    n_jobs: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool | None = None,
) -> AuditReport:
    """Audit a data split for leakage, duplicates, site confounding and class balance.

    Run it on the manifest (one row per sample) after splitting and before every
    experiment, or in CI: it finds patients in several splits, identical and
    near-identical images or feature rows across splits, sites confounded with the
    label, and class balance that makes accuracy misleading. Each finding has a
    stable code (see :data:`pitfalls.audit.CHECKS`), a severity and maps to the
    paper's checklist (Table 4) and to Kapoor & Narayanan's leakage types.

    Parameters
    ----------
    manifest : DataFrame or path-like
        The manifest, or a CSV / TSV / Parquet file holding it.
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
    features : sequence of str or array of shape (n_rows, n_dims), optional
        Columns whose values, taken as a row, identify a sample (e.g. radiomics
        features), or an array of embeddings (one row per manifest row): identical
        rows across splits are reported (PF103), and near-identical ones (PF109:
        closer than a small fraction of the typical distance between training rows,
        see :func:`pitfalls.audit.find_near_duplicate_rows`).
    root : path-like, optional
        Directory the image paths are relative to. A path that resolves outside it
        is refused, never read. Without ``root``, relative paths are taken relative
        to the manifest file's directory (or the working directory for a
        DataFrame) and nothing is refused.
    date : str, optional
        Column with the acquisition date: reports test rows older than training rows.
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
        fraction of a pixel (within 2 px): a pair is reported when the fine detail
        (thumbnail minus a blurred copy, so the anatomy images of one kind share
        cancels) correlates at least this much, or, where neither image has more
        than one hash candidate, when grey levels correlate at 0.9 or more.
        Copies re-encoded, resized, brightened or shifted by a pixel stayed above
        it in our tests; unrelated look-alike synthetic chest X-rays passed for
        about 0.14% of pairs (0.77% without verification). Raise it (e.g. 0.8)
        when images of one kind look very much alike, at the cost of missing some
        shifted copies.
    near_orientations : {"flip", "all", "none"}, default="flip"
        Orientations of the copies searched: ``"flip"`` the image as stored and
        flipped left-right (the most common augmentation; 2 searches), ``"all"``
        every flip and quarter turn (8 searches), ``"none"`` as stored only.
    random_state : int, RandomState or None
        Accepted for API symmetry; every current check is deterministic.
    n_jobs : int, optional
        Most image hashing workers (joblib). ``None`` (default): as many as pay
        off, up to the CPU count (one, threads or processes, from the pace of the
        first 32 images; never slower than one worker); inside
        ``joblib.parallel_config(backend="dask")`` the images are hashed on the
        cluster. An integer caps them (``-1``: all CPUs; never more than the CPUs).
        See :func:`pitfalls.audit.hash_images`.
    max_pixels : int, default=80_000_000
        Largest image decoded, in pixels (voxels for a volume), read from the file
        header before decoding; a larger image is an error naming its path and size.
    progress : bool, optional
        Progress bar on stderr while hashing images; default: only on a terminal.

    Returns
    -------
    AuditReport

    Raises
    ------
    ManifestError
        One-line message naming the file, column, row or value: unreadable file,
        unknown column, missing group or split, unreadable image, an image path
        outside ``root`` (checked again on every opened file), a path that is not a
        regular file (a FIFO), an image over ``max_pixels``, a worker that died.

    Notes
    -----
    Severity thresholds: class imbalance (largest / smallest class) is low from 1.5
    and medium from 4; site-label confounding (bias-corrected Cramér's V, p < 0.05)
    is low from 0.1, medium from 0.3, high from 0.5; site mix between splits
    (chi-square p < 0.01) is low from V = 0.1 and medium from 0.2; a split is tiny
    under 30 rows or 10 groups, a class under 5 rows in a split.

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
    """
    del random_state  # every check is deterministic (see docstring)
    df = read_manifest(manifest)
    if df.shape[0] == 0:
        raise ManifestError("the manifest has no rows.")
    df, features = with_embeddings(df, features)
    if not 0 <= near_threshold <= 32:
        raise ManifestError(
            f"near_threshold={near_threshold} is outside [0, 32]; use e.g. 10 (unrelated "
            "images differ by about 32 of 64 bits)."
        )
    if not 0 <= near_detail_threshold <= 128:
        raise ManifestError(
            f"near_detail_threshold={near_detail_threshold} is outside [0, 128]; use e.g. "
            "40 (unrelated images differ by about 128 of 256 bits)."
        )
    if not 0.0 < near_min_correlation <= 1.0:
        raise ManifestError(
            f"near_min_correlation={near_min_correlation} is outside (0, 1]; use e.g. 0.75."
        )
    features = [features] if isinstance(features, str) else list(features or [])
    roles = {"group": group, "split": split, "label": label, "site": site, "image": image}
    roles["date"] = date
    check_columns(df, roles, required_values=("group", "split", "site", "image"))
    for column in features:
        check_columns(df, {"features": column})

    data = _prepare(df, roles, test_splits)
    data.near_duplicates = near_duplicates
    data.near_threshold = near_threshold
    data.near_detail_threshold = near_detail_threshold
    data.near_min_correlation = near_min_correlation
    if near_orientations not in _ORIENTATION_SETS:
        raise ManifestError(
            f"near_orientations={near_orientations!r} is not one of "
            f"{', '.join(map(repr, _ORIENTATION_SETS))}."
        )
    data.near_orientations = _ORIENTATION_SETS[near_orientations]
    if features:
        data.feature_hash = _feature_keys(df, features)
        data.extra.update(features=features, n_jobs=n_jobs)
    if date is not None:
        data.date = _parse_dates(df[date], date)
    if image is not None:
        base = root
        if base is None and not isinstance(manifest, pd.DataFrame):
            base_dir = Path(manifest).parent
            paths = [p if Path(str(p)).is_absolute() else base_dir / str(p) for p in df[image]]
        else:
            paths = list(df[image])
        resolved = resolve_image_paths(paths, root=base, column=image, rows=list(df.index))
        data.images = hash_images(
            resolved,
            column=image,
            rows=list(df.index),
            root=base,
            max_pixels=max_pixels,
            n_jobs=n_jobs,
            progress=progress,
        )
        data.image_paths = [str(p) for p in resolved]

    available = {k for k, v in roles.items() if v is not None} | (
        {"features"} if features else set()
    )
    findings: list[Finding] = []
    run, skipped = [], {}
    for code, check in sorted(CHECKS.items()):
        missing = [need for need in check.needs if need not in available]
        if missing:
            skipped[code] = "needs " + " and ".join(f"{m}=" for m in missing)
            continue
        if data.label_continuous and code in _CLASS_CHECKS:
            skipped[code] = f"label {label!r} looks continuous (a regression target)"
            continue
        findings.extend(check.func(data))
        run.append(code)

    return AuditReport(
        finding_list=findings,
        summary=_summary(data, features),
        checks_run=run,
        checks_skipped=skipped,
        label_by_split=_distribution(data, data.label, data.label_names),
        site_by_split=_distribution(data, data.site, data.site_names),
        image_paths=data.image_paths,
        image_thumbnails=None if data.images is None else data.images.thumbnail,
        row_labels=[str(i) for i in df.index] if image is not None else [],
    )


def _prepare(
    df: pd.DataFrame, roles: dict[str, str | None], test_splits: Sequence[str] | None
) -> AuditData:
    assert roles["group"] is not None and roles["split"] is not None
    group_codes, group_names = pd.factorize(_whole_numbers_as_integers(df[roles["group"]]))
    split_codes, split_names = pd.factorize(df[roles["split"]].astype(str), sort=True)
    if test_splits is not None:
        test_splits = [
            str(t) for t in ([test_splits] if isinstance(test_splits, str) else test_splits)
        ]
        unknown = sorted(set(test_splits) - set(split_names))
        if unknown:
            raise ManifestError(
                f"test_splits={describe_values(unknown)} not found in split column "
                f"{roles['split']!r} (values: {describe_values(split_names)})."
            )
        split_roles = [
            "test"
            if name in test_splits
            else (split_role(name) if split_role(name) != "test" else None)
            for name in split_names
        ]
    else:
        split_roles = [split_role(name) for name in split_names]
    data = AuditData(
        df=df,
        columns=dict(roles),
        group=group_codes.astype(np.int64),
        group_names=group_names,
        split=split_codes.astype(np.int64),
        split_names=split_names,
        split_roles=split_roles,
    )
    if roles["label"] is not None:
        values = df[roles["label"]]
        codes, names = pd.factorize(_whole_numbers_as_integers(values), sort=True)
        data.label, data.label_names = codes.astype(np.int64), names
        data.label_continuous = _looks_continuous(values)
    if roles["site"] is not None:
        codes, names = pd.factorize(_whole_numbers_as_integers(df[roles["site"]]), sort=True)
        data.site, data.site_names = codes.astype(np.int64), names
    return data


def _whole_numbers_as_integers(values: pd.Series) -> pd.Series:
    """Whole numbers that pandas read as floats (a column with gaps) back as integers.

    So findings say class ``1`` and patient ``101``, not ``1.0`` and ``101.0``.
    """
    if not pd.api.types.is_float_dtype(values):
        return values
    present = values.dropna().to_numpy(dtype=float)
    if present.size == 0 or not np.all(np.isfinite(present) & (present == np.round(present))):
        return values
    return values.astype("Int64")


def _looks_continuous(values: pd.Series) -> bool:
    if not pd.api.types.is_float_dtype(values):
        return False
    finite = values.dropna().to_numpy(dtype=float)
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


def _parse_dates(values: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:  # "mixed": parse each value on its own, without pandas' format-guess warning
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = parsed.isna() & values.notna()
    if bad.any():
        raise ManifestError(
            f"date column {column!r} has {int(bad.sum())} value(s) that are not dates "
            f"(e.g. {describe_values(values[bad], limit=3)} in rows "
            f"{describe_values(values.index[bad], limit=3)})."
        )
    return parsed.to_numpy(dtype="datetime64[ns]")


def _summary(data: AuditData, features: list[str]) -> dict[str, Any]:
    counts = np.bincount(data.split, minlength=len(data.split_names))
    columns = {k: v for k, v in data.columns.items() if v is not None}
    if features:
        columns["features"] = ", ".join(features)
    return {
        "n_rows": data.n_rows,
        "n_groups": len(data.group_names),
        "rows_per_split": {data.split_name(s): int(counts[s]) for s in data.split_order()},
        "split_roles": {data.split_name(s): data.split_roles[s] for s in data.split_order()},
        "columns": columns,
    }


def _distribution(
    data: AuditData, codes: np.ndarray | None, names: pd.Index | None
) -> pd.DataFrame | None:
    if codes is None or names is None:
        return None
    keep = codes >= 0
    n_split, n_val = len(data.split_names), len(names)
    table = np.bincount(data.split[keep] * n_val + codes[keep], minlength=n_split * n_val)
    order = data.split_order()
    return pd.DataFrame(
        table.reshape(n_split, n_val)[order],
        index=pd.Index([data.split_name(s) for s in order], name="split"),
        columns=pd.Index([str(v.item() if isinstance(v, np.generic) else v) for v in names]),
    )
